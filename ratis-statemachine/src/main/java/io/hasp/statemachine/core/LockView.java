package io.hasp.statemachine.core;

import java.util.List;

/** A read-only copy of one lock: its size, holders in grant order and the number of waiters. */
public record LockView(String name, long size, List<Holder> holders, int waiters) {}
