package io.hasp.statemachine.core;

/**
 * A client's liveness: holders and waiters tied to it end when it is closed or expires.
 *
 * @param id the log index of the entry that opened it (or the next free id when an entry opened several)
 */
public record Session(long id, long ttlMs, long expiresAtMs, String owner, String clientId) {
  Session withExpiresAtMs(long newExpiresAtMs) {
    return new Session(id, ttlMs, newExpiresAtMs, owner, clientId);
  }
}
