package io.hasp.client;

/**
 * Told when a hold is lost without the owner releasing it: its lease could not be renewed, or its session
 * expired (e.g. the client was partitioned away longer than the session TTL). From then on another process
 * may hold the lock; stop using the protected resource. Runs on a client thread: keep it short.
 */
@FunctionalInterface
public interface LockLostListener {
  void lockLost(LockHandle handle, HaspException cause);
}
