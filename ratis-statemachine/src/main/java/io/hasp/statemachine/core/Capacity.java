package io.hasp.statemachine.core;

/**
 * The bounds of what clients can grow, as configured on the leader: part of the replicated state, so every
 * replica applies the same bounds (a bound read from each node's own config would let replicas disagree on
 * whether a command succeeded). The leader proposes its configuration with every {@link Command.Refresh}, that
 * is once per term; an operator changes a bound by changing the nodes' config and moving or restarting the
 * leader. Past a bound a command fails with {@link ErrorCode#LIMIT_EXCEEDED} and changes nothing.
 *
 * @param locksMax locks that may exist at once (config {@code limits.locks.max})
 * @param holdersMax holders over all locks ({@code limits.holders.max})
 * @param waitersPerLockMax waiters queued on one lock ({@code limits.waiters.per.lock.max})
 * @param waitersMax waiters over all locks ({@code limits.waiters.max})
 * @param sessionsMax open sessions ({@code limits.sessions.max})
 * @param outcomesPerClientMax outcomes a client with a live session may leave unsettled; past it its new requests
 *     fail until it settles them with {@code settled_up_to} ({@code limits.outcomes.per.client.max})
 * @param sessionlessOutcomesMax outcomes kept for clients without a session; past it the oldest is forgotten
 *     ({@code limits.outcomes.sessionless.max})
 * @param sessionlessOutcomeRetentionMs how long an outcome of a client without a session is kept for its retries
 *     ({@code limits.outcomes.sessionless.retention})
 */
public record Capacity(
    long locksMax,
    long holdersMax,
    int waitersPerLockMax,
    long waitersMax,
    int sessionsMax,
    int outcomesPerClientMax,
    int sessionlessOutcomesMax,
    long sessionlessOutcomeRetentionMs) {

  public static final Capacity DEFAULT = new Capacity(2_000_000, 2_000_000, 100_000, 1_000_000, 100_000, 10_000,
      100_000, 60_000);

  public Capacity {
    positive("locksMax", locksMax);
    positive("holdersMax", holdersMax);
    positive("waitersPerLockMax", waitersPerLockMax);
    positive("waitersMax", waitersMax);
    positive("sessionsMax", sessionsMax);
    positive("outcomesPerClientMax", outcomesPerClientMax);
    positive("sessionlessOutcomesMax", sessionlessOutcomesMax);
    positive("sessionlessOutcomeRetentionMs", sessionlessOutcomeRetentionMs);
  }

  private static void positive(String what, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(what + " must be positive, got " + value);
    }
  }
}
