package io.hasp.statemachine.core;

/**
 * A client's liveness: holders and waiters tied to it end when it is closed or expires.
 *
 * @param id the log index of the entry that opened it (or the next free id when an entry opened several)
 * @param expiresAtMs the deadline as last written; a later leader's Refresh may have moved the effective one
 * @param clientId the client that opened it: its outcomes are kept (and settled by its marks) while it lives
 * @param key the session's secret: keep-alive, close and acquires in the session must present it
 */
public record Session(long id, long ttlMs, long expiresAtMs, String owner, String clientId, String key) {
  Session withExpiresAtMs(long newExpiresAtMs) {
    return new Session(id, ttlMs, newExpiresAtMs, owner, clientId, key);
  }
}
