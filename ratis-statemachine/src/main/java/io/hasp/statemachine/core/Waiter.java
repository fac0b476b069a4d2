package io.hasp.statemachine.core;

/**
 * A queued acquire. Waiters of one lock are served strictly in {@code seq} order.
 *
 * @param seq position in the global queue order (assigned on enqueue, never reused)
 * @param sessionId the session the wait is tied to (and the hold, unless {@code detached}); 0 = none
 * @param detached the hold, once granted, is not tied to the session
 * @param threadId the waiting party within the session (0 = none), see {@link Command.Acquire}
 * @param attempt the latest attempt of the request seen
 * @param waitDeadlineMs when the wait times out in stamped time, 0 = never
 * @param key the key the holder will get when granted (chosen by the proposing node)
 * @param size the lock size this waiter asked for
 */
public record Waiter(
    String name,
    long seq,
    String clientId,
    long requestId,
    long sessionId,
    boolean detached,
    long threadId,
    long attempt,
    String owner,
    long leaseMs,
    long waitDeadlineMs,
    String key,
    long size) {

  Waiter withAttempt(long newAttempt) {
    return new Waiter(name, seq, clientId, requestId, sessionId, detached, threadId, newAttempt, owner, leaseMs,
        waitDeadlineMs, key, size);
  }

  /** The session the hold gets when this waiter is granted. */
  long holdSessionId() {
    return detached ? 0 : sessionId;
  }

  RequestRef ref() {
    return new RequestRef(clientId, requestId);
  }
}
