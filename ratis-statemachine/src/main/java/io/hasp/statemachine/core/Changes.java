package io.hasp.statemachine.core;

/**
 * What one {@link LockTable#apply} changed, reported as it happens: the store writes the record changes into
 * one batch; the node completes waiting calls from the events. Every method defaults to doing nothing.
 */
public interface Changes {
  Changes NONE = new Changes() {};

  // ---- persistence: the full state is the union of these records ----
  default void putLock(String name, long size) {}

  default void deleteLock(String name) {}

  default void putHolder(Holder holder) {}

  default void deleteHolder(String name, String key) {}

  default void putWaiter(Waiter waiter) {}

  default void deleteWaiter(String name, long seq) {}

  default void putSession(Session session) {}

  default void deleteSession(long id) {}

  default void putOutcome(String clientId, long requestId, long atMs, boolean aged, Result result) {}

  default void deleteOutcome(String clientId, long requestId) {}

  default void putClient(ClientMarks marks) {}

  default void deleteClient(String clientId) {}

  default void putMeta(Meta meta) {}

  // ---- events ----
  /** A queued waiter became a holder. */
  default void waiterGranted(Waiter waiter, Holder holder, long size) {}

  /** A queued waiter left the queue without a grant (timeout, abandon, superseded, session end). */
  default void waiterRemoved(Waiter waiter, ErrorCode reason) {}

  /** A holder stopped holding (unlock, lease expiry, flush, session end, abandon). */
  default void holderReleased(Holder holder, ReleaseReason reason) {}

  /** Why a holder was released. */
  enum ReleaseReason { UNLOCK, LEASE_EXPIRED, FLUSHED, SESSION_ENDED, ABANDONED }
}
