package io.hasp.chaos.check;

/**
 * One operation of a history on one lock.
 *
 * @param process the logical client that ran it (a process holds at most one hold per lock at a time)
 * @param type acquire or release
 * @param invokedNs when it was sent
 * @param completedNs when its answer arrived; {@link Long#MAX_VALUE} when none arrived
 * @param outcome OK (took effect), FAIL (certainly did not take effect), UNKNOWN (may have taken effect)
 * @param token the fencing token of an acquire that completed OK, else 0
 */
public record Op(int process, Type type, long invokedNs, long completedNs, Outcome outcome, long token) {
  public enum Type { ACQUIRE, RELEASE }

  public enum Outcome { OK, FAIL, UNKNOWN }

  public Op {
    if (completedNs < invokedNs) {
      throw new IllegalArgumentException("completed before invoked: " + invokedNs + " > " + completedNs);
    }
    if (outcome == Outcome.UNKNOWN && completedNs != Long.MAX_VALUE) {
      throw new IllegalArgumentException("an unknown outcome has no completion time");
    }
  }

  public static Op acquire(int process, long invoked, long completed, long token) {
    return new Op(process, Type.ACQUIRE, invoked, completed, Outcome.OK, token);
  }

  public static Op release(int process, long invoked, long completed) {
    return new Op(process, Type.RELEASE, invoked, completed, Outcome.OK, 0);
  }

  public static Op unknown(int process, Type type, long invoked) {
    return new Op(process, type, invoked, Long.MAX_VALUE, Outcome.UNKNOWN, 0);
  }
}
