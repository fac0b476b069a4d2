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
 * @param read what an OK read saw (READ only, else null)
 */
public record Op(int process, Type type, long invokedNs, long completedNs, Outcome outcome, long token,
    Observation read) {
  public enum Type { ACQUIRE, RELEASE, READ }

  /**
   * What a read returned: isLocked (tokens null) or getLock (the holders' tokens; empty when free).
   */
  public record Observation(boolean locked, long[] tokens) {}

  public Op(int process, Type type, long invokedNs, long completedNs, Outcome outcome, long token) {
    this(process, type, invokedNs, completedNs, outcome, token, null);
  }

  public enum Outcome { OK, FAIL, UNKNOWN }

  public Op {
    if (completedNs < invokedNs) {
      throw new IllegalArgumentException("completed before invoked: " + invokedNs + " > " + completedNs);
    }
    if (type == Type.READ && outcome == Outcome.OK && read == null) {
      throw new IllegalArgumentException("an OK read needs what it saw");
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

  public static Op isLocked(int process, long invoked, long completed, boolean locked) {
    return new Op(process, Type.READ, invoked, completed, Outcome.OK, 0, new Observation(locked, null));
  }

  public static Op getLock(int process, long invoked, long completed, long... tokens) {
    return new Op(process, Type.READ, invoked, completed, Outcome.OK, 0, new Observation(tokens.length > 0, tokens));
  }

  public static Op unknown(int process, Type type, long invoked) {
    return new Op(process, type, invoked, Long.MAX_VALUE, Outcome.UNKNOWN, 0);
  }
}
