package io.hasp.statemachine.core;

import java.util.List;

/**
 * A replicated command. {@code nowMs} is the proposing leader's wall clock (the table never reads a clock);
 * {@link #origin()} identifies the request for deduplication and settling ({@link Origin#NONE} for the
 * leader's own timer commands).
 */
public sealed interface Command {
  long nowMs();

  default Origin origin() {
    return Origin.NONE;
  }

  /**
   * Take a hold, or queue for one.
   *
   * @param leaseMs 0 = no lease
   * @param waitTimeoutMs -1 = wait forever, 0 = do not wait
   * @param sessionId 0 = none; else the session that ties the waiter and (unless {@code detached}) the hold
   * @param sessionKey the session's secret, proving the caller opened it
   * @param detached the hold, once granted, is not tied to the session (only the wait is): a free-standing hold
   *     that ends by lease or unlock, as a rate limit needs
   * @param threadId with a session, the waiting party within it (a thread): a newer acquire of the same
   *     (session, thread) on the same lock supersedes that party's older waiter; 0 = no superseding
   * @param attempt the client's try number of this request; a re-sent request with a higher attempt re-attaches,
   *     and an abandon tagged with a lower attempt no longer applies to it
   * @param key the key the hold gets, chosen by the proposing node
   */
  record Acquire(long nowMs, Origin origin, String name, long size, long leaseMs, long waitTimeoutMs,
      boolean tryOnly, long sessionId, String sessionKey, boolean detached, long threadId, long attempt, String owner,
      String key) implements Command {}

  record Release(long nowMs, Origin origin, String name, String key) implements Command {}

  record Renew(long nowMs, Origin origin, String name, String key, long leaseMs) implements Command {}

  /**
   * Force-release every holder of the named locks. Empty names = every lock, in pages: this entry releases the
   * holders of at most {@link Limits#FLUSH_LOCKS_PER_ENTRY} locks whose names sort after {@code after}.
   */
  record Flush(long nowMs, Origin origin, List<String> names, String after) implements Command {}

  /** @param key the new session's secret, chosen by the proposing node */
  record OpenSession(long nowMs, Origin origin, long ttlMs, String owner, String key) implements Command {}

  /**
   * Keep the session alive; also settles the client's requests precisely: every request at or below
   * {@code origin.settledUpTo} except those in {@code unsettled} is settled (a long wait does not hold back the
   * mark of the requests after it).
   */
  record KeepAlive(long nowMs, Origin origin, long sessionId, String key, List<Long> unsettled) implements Command {}

  record CloseSession(long nowMs, Origin origin, long sessionId, String key) implements Command {}

  /**
   * The client gave up on its request {@code targetRequestId} (cancel, timeout, interrupt, close): its waiter is
   * removed, or the hold it won in a race is released, and a copy of it arriving later is refused. Applies only
   * while the request's latest attempt is at most {@code upToAttempt} (a node ending one call must not undo the
   * client's newer try of the same request elsewhere); {@link Long#MAX_VALUE} = unconditionally.
   */
  record Abandon(long nowMs, Origin origin, long targetRequestId, long upToAttempt) implements Command {}

  /** Leader tick: expire leases, wait timeouts, sessions and aged outcomes due at nowMs. */
  record Expire(long nowMs, int maxItems) implements Command {}

  /**
   * First command of a leader's term: from here on every lease and session lasts at least until nowMs + its
   * length (so a failover never ends a hold early), Expire of this term is allowed, and {@code capacity} applies.
   */
  record Refresh(long nowMs, Capacity capacity) implements Command {}
}
