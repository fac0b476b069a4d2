package io.hasp.statemachine.core;

/** A lock that exists: it has holders or waiters. Holders are kept in grant (token) order. */
final class LockState {
  final String name;
  final long size;
  final HolderSet holders = new HolderSet();
  final LockQueue queue = new LockQueue();

  LockState(String name, long size) {
    this.name = name;
    this.size = size;
  }

  boolean isFull() {
    return holders.size() >= size;
  }

  boolean isEmpty() {
    return holders.isEmpty() && queue.isEmpty();
  }
}
