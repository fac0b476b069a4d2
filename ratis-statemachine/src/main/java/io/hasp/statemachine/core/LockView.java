package io.hasp.statemachine.core;

import java.util.List;

/**
 * A read-only copy of one lock: its size, holders in grant order (at most {@link Limits#REPLY_HOLDERS_MAX} when
 * taken for a reply; {@code holderCount} counts all of them) with their effective lease deadlines, and the
 * number of waiters.
 */
public record LockView(String name, long size, List<Holder> holders, int holderCount, int waiters) {}
