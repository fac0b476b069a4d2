package io.hasp.statemachine.core;

/**
 * One grant of a lock.
 *
 * @param token fencing token, strictly increasing over every grant of every lock
 * @param sessionId session the hold is tied to, 0 for none
 * @param leaseMs lease length, 0 for no lease
 * @param expiresAtMs lease deadline in the cluster's stamped time as last written, 0 for no lease; a later
 *     leader's Refresh may have moved the effective deadline further ({@link LockTable#getLock} shows that one)
 * @param clientId client that asked (with requestId: the request that was granted; empty/0 when anonymous)
 * @param attempt the latest attempt of that request seen (an abandon of an older attempt leaves the hold)
 */
public record Holder(
    String name,
    String key,
    long token,
    long sessionId,
    String owner,
    long leaseMs,
    long expiresAtMs,
    long acquiredAtMs,
    String clientId,
    long requestId,
    long attempt) implements Deadline {

  /** The lease deadline as last written ({@link #expiresAtMs}): where a leased holder sits in the deadline index. */
  @Override
  public long atMs() {
    return expiresAtMs;
  }

  public boolean hasLease() {
    return leaseMs > 0;
  }

  Holder withLease(long newLeaseMs, long newExpiresAtMs) {
    return new Holder(name, key, token, sessionId, owner, newLeaseMs, newExpiresAtMs, acquiredAtMs, clientId,
        requestId, attempt);
  }

  Holder withAttempt(long newAttempt) {
    return new Holder(name, key, token, sessionId, owner, leaseMs, expiresAtMs, acquiredAtMs, clientId, requestId,
        newAttempt);
  }

  RequestRef ref() {
    return new RequestRef(clientId, requestId);
  }

  boolean identified() {
    return !clientId.isEmpty() && requestId > 0;
  }
}
