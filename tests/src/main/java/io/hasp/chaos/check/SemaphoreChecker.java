package io.hasp.chaos.check;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Linearizability of one lock's history against a semaphore of {@code size} (Wing &amp; Gong's search with
 * Lowe's memoization): is there a total order of the operations, consistent with real time (an operation that
 * completed before another was invoked comes first), in which every OK acquire finds fewer than {@code size}
 * holders and is not by a current holder, every OK release is by a current holder, and fencing tokens of OK
 * acquires increase, and every OK read saw exactly the holders of that point (isLocked: whether there is one;
 * getLock: their fencing tokens)? FAIL operations and reads that did not complete took no effect and are left
 * out. An UNKNOWN acquire may be placed anywhere after its invocation, or left out. An UNKNOWN release ends its
 * hold, if there is one, at some point after its invocation: the harness retires the process that sent it, so
 * its session ends (or its lease runs out). Process numbers may be sparse; they are mapped to dense indices.
 *
 * <p>The search is exponential in the worst case; {@link #maxStates} bounds it (the verdict is then UNKNOWN).
 * UNKNOWN operations are never "dropped" as a step of their own: an order is complete once every operation with
 * a definite outcome is placed, and an UNKNOWN one still unplaced then is one that took no effect (or, a
 * release, one that took effect after everything else); and they are placed only where they can matter (see
 * {@link #mayFollow}). A short chaos run's lease lock (52 operations, 12 UNKNOWN grants, 22 reads) was undecided
 * within 30,000,000 states without both and is decided in 2,260,000 with them.
 */
public final class SemaphoreChecker {
  /** The verdict: linearizable, not, or undecided within the state budget. */
  public enum Verdict { LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN }

  /** The verdict and, when not linearizable, how far the longest valid prefix got. */
  public record Result(Verdict verdict, int longestPrefix, int operations, long statesExplored) {}

  private final long size;
  private final long maxStates;

  public SemaphoreChecker(long size, long maxStates) {
    if (size < 1) {
      throw new IllegalArgumentException("size must be at least 1");
    }
    this.size = size;
    this.maxStates = maxStates;
  }

  public Result check(List<Op> history) {
    List<Op> ops = new ArrayList<>();
    java.util.Map<Integer, Integer> dense = new java.util.HashMap<>();
    for (Op op : history) {
      if (op.outcome() == Op.Outcome.FAIL || (op.type() == Op.Type.READ && op.outcome() != Op.Outcome.OK)) {
        continue;
      }
      int p = dense.computeIfAbsent(op.process(), k -> dense.size());
      ops.add(new Op(p, op.type(), op.invokedNs(), op.completedNs(), op.outcome(), op.token(), op.read()));
    }
    ops.sort((a, b) -> Long.compare(a.invokedNs(), b.invokedNs()));
    Search s = new Search(ops);
    long[] tokenOf = new long[dense.size()];
    boolean ok = s.run(new BitSet(ops.size()), new BitSet(), 0L, 0, 0, AFTER_DEFINITE, tokenOf);
    if (s.exhausted) {
      return new Result(Verdict.UNKNOWN, s.longest, ops.size(), s.states);
    }
    return new Result(ok ? Verdict.LINEARIZABLE : Verdict.NOT_LINEARIZABLE, s.longest, ops.size(), s.states);
  }

  /** What the order placed last: an operation with a definite outcome (or nothing yet), or an UNKNOWN one. */
  private static final int AFTER_DEFINITE = 0;
  private static final int AFTER_UNKNOWN_ACQUIRE = 1;
  private static final int AFTER_UNKNOWN_RELEASE = 2;

  /**
   * Whether {@code op} may come right after what was placed last. Only orders of one canonical shape are searched;
   * every valid order can be rearranged into that shape and stays valid. An UNKNOWN acquire (it never completed, so
   * nothing has to come after it in real time) can move later past anything but a read that sees it or its own
   * release (an acquire after it finds one holder fewer; with no read between it and its release, the pair can go):
   * so it comes right before a read, or before another UNKNOWN acquire that does. An UNKNOWN release can move later
   * past anything but an acquire (which may need the capacity it frees) or a read: so it comes right before one of
   * those, or before another UNKNOWN release that does, or is left unplaced. Without this, a lease lock's UNKNOWN
   * operations could be placed at every point between its reads and grants, and a short chaos run on a loaded
   * machine ran out of its 2,000,000 states on a lock with 52 operations (12 unknown grants).
   */
  private static boolean mayFollow(int after, Op op) {
    return switch (after) {
      case AFTER_UNKNOWN_ACQUIRE -> op.type() == Op.Type.READ
          || (op.type() == Op.Type.ACQUIRE && op.outcome() == Op.Outcome.UNKNOWN);
      case AFTER_UNKNOWN_RELEASE -> op.type() != Op.Type.RELEASE || op.outcome() == Op.Outcome.UNKNOWN;
      default -> true;
    };
  }

  /** A searched state, compactly (a few million of them are kept). */
  private record Memo(long[] done, long[] holders, long lastToken, int after) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Memo m && lastToken == m.lastToken && after == m.after
          && java.util.Arrays.equals(done, m.done) && java.util.Arrays.equals(holders, m.holders);
    }

    @Override
    public int hashCode() {
      return (java.util.Arrays.hashCode(done) * 31 + java.util.Arrays.hashCode(holders)) * 31
          + Long.hashCode(lastToken) * 3 + after;
    }
  }

  private final class Search {
    final List<Op> ops;
    /** Fencing token → process of the OK acquire that got it. */
    final java.util.Map<Long, Integer> tokenOwner = new java.util.HashMap<>();
    final Set<Object> seen = new HashSet<>();
    long states;
    int longest;
    boolean exhausted;

    /** For an unknown release: the index of its process's acquire before it, else -1. */
    final int[] acquireOf;
    /** How many operations have a definite outcome: all of them must be placed, UNKNOWN ones may be. */
    final int definite;

    Search(List<Op> ops) {
      this.ops = ops;
      this.definite = (int) ops.stream().filter(op -> op.outcome() != Op.Outcome.UNKNOWN).count();
      this.acquireOf = new int[ops.size()];
      java.util.Map<Integer, Integer> lastAcquire = new java.util.HashMap<>();
      for (int i = 0; i < ops.size(); i++) {
        Op op = ops.get(i);
        acquireOf[i] = -1;
        if (op.type() == Op.Type.ACQUIRE) {
          lastAcquire.put(op.process(), i);
        } else if (op.type() == Op.Type.RELEASE && op.outcome() == Op.Outcome.UNKNOWN) {
          acquireOf[i] = lastAcquire.getOrDefault(op.process(), -1);
        }
      }
      for (Op op : ops) {
        if (op.type() == Op.Type.ACQUIRE && op.outcome() == Op.Outcome.OK) {
          tokenOwner.put(op.token(), op.process());
        }
      }
    }

    /** Whether a read's observation matches the model's holders (tokenOf: -1 = unknown token). */
    boolean sees(Op.Observation o, BitSet holders, long[] tokenOf) {
      if (o.tokens() == null) {
        return o.locked() == !holders.isEmpty();
      }
      if (o.tokens().length != holders.cardinality()) {
        return false;
      }
      BitSet matched = new BitSet();
      int unmapped = 0;
      for (long t : o.tokens()) {
        Integer p = tokenOwner.get(t);
        if (p == null) {
          unmapped++;
        } else if (!holders.get(p) || tokenOf[p] != t) {
          return false;
        } else {
          matched.set(p);
        }
      }
      for (int p = holders.nextSetBit(0); p >= 0; p = holders.nextSetBit(p + 1)) {
        if (!matched.get(p) && tokenOf[p] != -1) {
          return false;
        }
      }
      return unmapped == holders.cardinality() - matched.cardinality();
    }

    /**
     * @param done operations already placed (or dropped, for UNKNOWN ones)
     * @param holders processes holding the lock in the model
     * @param lastToken the last fencing token granted in the order so far
     * @param placed how many operations are placed
     * @param placedDefinite how many of them have a definite outcome (the order is complete when all are placed)
     * @param tokenOf each holder's token (-1 when its acquire's outcome is unknown); a function of done and
     *     holders (a process's ops are sequential), so it need not be part of the memo key
     */
    boolean run(BitSet done, BitSet holders, long lastToken, int placed, int placedDefinite, int after,
        long[] tokenOf) {
      longest = Math.max(longest, placed);
      if (placedDefinite == definite) {
        return true;
      }
      if (++states > maxStates) {
        exhausted = true;
        return false;
      }
      if (!seen.add(new Memo(done.toLongArray(), holders.toLongArray(), lastToken, after))) {
        return false;
      }
      // An op may go next only if no undecided op with a definite completion finished before it was invoked.
      long horizon = Long.MAX_VALUE;
      for (int i = 0; i < ops.size(); i++) {
        if (!done.get(i) && ops.get(i).outcome() == Op.Outcome.OK) {
          horizon = Math.min(horizon, ops.get(i).completedNs());
        }
      }
      for (int i = 0; i < ops.size() && !exhausted; i++) {
        Op op = ops.get(i);
        if (done.get(i) || op.invokedNs() > horizon) {
          continue;
        }
        BitSet nextDone = (BitSet) done.clone();
        nextDone.set(i);
        int nextDefinite = placedDefinite + (op.outcome() == Op.Outcome.UNKNOWN ? 0 : 1);
        if (!mayFollow(after, op)) {
          continue;
        }
        int nextAfter = op.outcome() != Op.Outcome.UNKNOWN ? AFTER_DEFINITE
            : op.type() == Op.Type.ACQUIRE ? AFTER_UNKNOWN_ACQUIRE : AFTER_UNKNOWN_RELEASE;
        if (op.outcome() == Op.Outcome.UNKNOWN && op.type() == Op.Type.RELEASE) {
          // An unknown release ends its hold at some point after its invocation (the process that sent it
          // retires, so its session ends; a lease runs out): placed only after its acquire, and only to end a
          // hold (left unplaced, the hold lasts to the end of the order, which is one of those points)
          int a = acquireOf[i];
          if ((a >= 0 && !done.get(a)) || !holders.get(op.process())) {
            continue;
          }
        }
        if (op.type() == Op.Type.READ) {
          if (sees(op.read(), holders, tokenOf) && run(nextDone, holders, lastToken, placed + 1, nextDefinite, nextAfter, tokenOf)) {
            return true;
          }
          continue;
        }
        BitSet nextHolders = (BitSet) holders.clone();
        long nextToken = lastToken;
        long[] nextTokenOf = tokenOf;
        if (op.type() == Op.Type.ACQUIRE) {
          if (holders.get(op.process()) || holders.cardinality() >= size) {
            continue;
          }
          if (op.outcome() == Op.Outcome.OK) {
            if (op.token() <= lastToken) {
              continue;
            }
            nextToken = op.token();
          }
          nextHolders.set(op.process());
          nextTokenOf = tokenOf.clone();
          nextTokenOf[op.process()] = op.outcome() == Op.Outcome.OK ? op.token() : -1;
        } else {
          if (!holders.get(op.process())) {
            continue;
          }
          nextHolders.clear(op.process());
        }
        if (run(nextDone, nextHolders, nextToken, placed + 1, nextDefinite, nextAfter, nextTokenOf)) {
          return true;
        }
      }
      return false;
    }
  }
}
