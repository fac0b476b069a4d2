package io.hasp.statemachine.core;

import java.util.LinkedHashMap;

/** A lock that exists: it has holders or waiters. Holders are kept in grant (token) order. */
final class LockState {
  final String name;
  final long size;
  final LinkedHashMap<String, Holder> holders = new LinkedHashMap<>();
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
