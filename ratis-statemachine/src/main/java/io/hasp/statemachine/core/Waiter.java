package io.hasp.statemachine.core;

/**
 * A queued acquire. Waiters of one lock are served strictly in {@code seq} order.
 *
 * @param seq position in the global queue order (assigned on enqueue, never reused)
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
    String owner,
    long leaseMs,
    long waitDeadlineMs,
    String key,
    long size) {}
