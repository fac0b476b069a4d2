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
    boolean ok = s.run(new BitSet(ops.size()), new BitSet(), 0L, 0, tokenOf);
    if (s.exhausted) {
      return new Result(Verdict.UNKNOWN, s.longest, ops.size(), s.states);
    }
    return new Result(ok ? Verdict.LINEARIZABLE : Verdict.NOT_LINEARIZABLE, s.longest, ops.size(), s.states);
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

    Search(List<Op> ops) {
      this.ops = ops;
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
     * @param placed how many operations are decided
     * @param tokenOf each holder's token (-1 when its acquire's outcome is unknown); a function of done and
     *     holders (a process's ops are sequential), so it need not be part of the memo key
     */
    boolean run(BitSet done, BitSet holders, long lastToken, int placed, long[] tokenOf) {
      longest = Math.max(longest, placed);
      if (placed == ops.size()) {
        return true;
      }
      if (++states > maxStates) {
        exhausted = true;
        return false;
      }
      if (!seen.add(List.of(done.clone(), holders.clone(), lastToken))) {
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
        if (op.outcome() == Op.Outcome.UNKNOWN && op.type() == Op.Type.RELEASE) {
          // An unknown release ends its hold at some point after its invocation (the process that sent it
          // retires, so its session ends; a lease runs out). Decide it after its acquire: drop it when there is
          // no hold to end, else place it; never keep a hold forever. This keeps the search small.
          int a = acquireOf[i];
          if (a >= 0 && !done.get(a)) {
            continue;
          }
          if (!holders.get(op.process())) {
            if (run(nextDone, holders, lastToken, placed + 1, tokenOf)) {
              return true;
            }
            continue;
          }
        } else if (op.outcome() == Op.Outcome.UNKNOWN && run(nextDone, holders, lastToken, placed + 1, tokenOf)) {
          return true; // dropped: it never took effect
        }
        if (op.type() == Op.Type.READ) {
          if (sees(op.read(), holders, tokenOf) && run(nextDone, holders, lastToken, placed + 1, tokenOf)) {
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
        if (run(nextDone, nextHolders, nextToken, placed + 1, nextTokenOf)) {
          return true;
        }
      }
      return false;
    }
  }
}
