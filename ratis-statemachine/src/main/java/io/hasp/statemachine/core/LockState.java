package io.hasp.statemachine.core;

import java.util.LinkedHashMap;

/** A lock that exists: it has holders or waiters. Holders are kept in grant (token) order. */
final class LockState {
  final String name;
  final long size;
  final LinkedHashMap<String, Holder> holders;
  final LockQueue queue = new LockQueue();

  LockState(String name, long size) {
    this.name = name;
    this.size = size;
    // a mutex (most locks) has one holder: a table of two slots, not the default sixteen
    this.holders = new LinkedHashMap<>(size == 1 ? 2 : 16);
  }

  boolean isFull() {
    return holders.size() >= size;
  }

  boolean isEmpty() {
    return holders.isEmpty() && queue.isEmpty();
  }
}
