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
 * acquires increase? FAIL operations took no effect and are left out; an UNKNOWN operation may be placed
 * anywhere after its invocation, or left out.
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
    for (Op op : history) {
      if (op.outcome() != Op.Outcome.FAIL) {
        ops.add(op);
      }
    }
    ops.sort((a, b) -> Long.compare(a.invokedNs(), b.invokedNs()));
    Search s = new Search(ops);
    boolean ok = s.run(new BitSet(ops.size()), new BitSet(), 0L, 0);
    if (s.exhausted) {
      return new Result(Verdict.UNKNOWN, s.longest, ops.size(), s.states);
    }
    return new Result(ok ? Verdict.LINEARIZABLE : Verdict.NOT_LINEARIZABLE, s.longest, ops.size(), s.states);
  }

  private final class Search {
    final List<Op> ops;
    final Set<Object> seen = new HashSet<>();
    long states;
    int longest;
    boolean exhausted;

    Search(List<Op> ops) {
      this.ops = ops;
    }

    /**
     * @param done operations already placed (or dropped, for UNKNOWN ones)
     * @param holders processes holding the lock in the model
     * @param lastToken the last fencing token granted in the order so far
     * @param placed how many operations are decided
     */
    boolean run(BitSet done, BitSet holders, long lastToken, int placed) {
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
        if (op.outcome() == Op.Outcome.UNKNOWN && run(nextDone, holders, lastToken, placed + 1)) {
          return true; // dropped: it never took effect
        }
        BitSet nextHolders = (BitSet) holders.clone();
        long nextToken = lastToken;
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
        } else {
          if (!holders.get(op.process())) {
            continue;
          }
          nextHolders.clear(op.process());
        }
        if (run(nextDone, nextHolders, nextToken, placed + 1)) {
          return true;
        }
      }
      return false;
    }
  }
}
