package io.hasp.statemachine.core;

/**
 * One grant of a lock.
 *
 * @param token fencing token, strictly increasing over every grant of every lock
 * @param sessionId session the hold is tied to, 0 for none
 * @param leaseMs lease length, 0 for no lease
 * @param expiresAtMs lease deadline in the cluster's stamped time, 0 for no lease
 * @param clientId client that asked (with requestId: the request that was granted)
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
    long requestId) {

  public boolean hasLease() {
    return leaseMs > 0;
  }

  Holder withLease(long newLeaseMs, long newExpiresAtMs) {
    return new Holder(name, key, token, sessionId, owner, newLeaseMs, newExpiresAtMs, acquiredAtMs, clientId,
        requestId);
  }
}
