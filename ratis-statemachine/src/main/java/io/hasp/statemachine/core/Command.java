package io.hasp.statemachine.core;

import java.util.List;

/**
 * A replicated command. {@code nowMs} is the proposing leader's wall clock; (clientId, requestId) identify
 * the request for deduplication (empty / 0 for internal commands such as {@link Expire}).
 */
public sealed interface Command {
  long nowMs();

  default String clientId() {
    return "";
  }

  default long requestId() {
    return 0;
  }

  /**
   * @param leaseMs 0 = no lease
   * @param waitTimeoutMs -1 = wait forever, 0 = do not wait
   * @param sessionId 0 = none
   */
  record Acquire(long nowMs, String clientId, long requestId, String name, long size, long leaseMs,
      long waitTimeoutMs, boolean tryOnly, long sessionId, String owner, String key) implements Command {}

  record Release(long nowMs, String clientId, long requestId, String name, String key) implements Command {}

  record Renew(long nowMs, String clientId, long requestId, String name, String key, long leaseMs)
      implements Command {}

  /** Empty names = every lock. */
  record Flush(long nowMs, String clientId, long requestId, List<String> names) implements Command {}

  record OpenSession(long nowMs, String clientId, long requestId, long ttlMs, String owner) implements Command {}

  record KeepAlive(long nowMs, String clientId, long requestId, long sessionId) implements Command {}

  record CloseSession(long nowMs, String clientId, long requestId, long sessionId) implements Command {}

  /** Remove the waiter queued by (targetClientId, targetRequestId) if it still waits. */
  record CancelWait(long nowMs, String targetClientId, long targetRequestId) implements Command {}

  /** Leader tick: expire leases, wait timeouts, sessions and stale outcomes due at nowMs. */
  record Expire(long nowMs, int maxItems) implements Command {}

  /** New leader: extend every lease and session deadline to at least nowMs + its length. */
  record Refresh(long nowMs) implements Command {}
}
