package io.hasp.statemachine.core;

/** A lock that exists: it has holders or waiters. Holders are kept in grant (token) order. */
final class LockState {
  final String name;
  final long size;
  final HolderSet holders = new HolderSet();
  /** Its waiters: the shared empty queue until it first has one (most locks never do). */
  LockQueue queue = LockQueue.NONE;

  LockState(String name, long size) {
    this.name = name;
    this.size = size;
  }

  /** The queue to add a waiter to (created on the first one). */
  LockQueue queueToAdd() {
    if (queue == LockQueue.NONE) {
      queue = new LockQueue();
    }
    return queue;
  }

  boolean isFull() {
    return holders.size() >= size;
  }

  boolean isEmpty() {
    return holders.isEmpty() && queue.isEmpty();
  }
}
