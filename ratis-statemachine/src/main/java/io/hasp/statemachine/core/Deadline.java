package io.hasp.statemachine.core;

import java.util.Comparator;

/**
 * A pending deadline of the table: when a lease, a wait or a session ends. Ordered by time, then kind, then
 * identity, so every replica walks due deadlines in the same order.
 */
sealed interface Deadline permits Holder, Deadline.WaitEnd, Deadline.SessionEnd {
  long atMs();

  /** A waiter's wait timeout. */
  record WaitEnd(long atMs, String name, long seq) implements Deadline {}

  /** A session's expiry. */
  record SessionEnd(long atMs, long sessionId) implements Deadline {}

  /** A holder's lease end: the holder itself (a million leased holders need no second object each). */
  static Deadline of(Holder h) {
    return h;
  }

  static WaitEnd of(Waiter w) {
    return new WaitEnd(w.waitDeadlineMs(), w.name(), w.seq());
  }

  static SessionEnd of(Session s) {
    return new SessionEnd(s.expiresAtMs(), s.id());
  }

  /** Time, kind, name, key, number: written out, as it runs on every insert and removal of the index. */
  Comparator<Deadline> ORDER = Deadline::compare;

  private static int compare(Deadline a, Deadline b) {
    int c = Long.compare(a.atMs(), b.atMs());
    if (c != 0) {
      return c;
    }
    c = Integer.compare(rank(a), rank(b));
    if (c != 0) {
      return c;
    }
    c = name(a).compareTo(name(b));
    if (c != 0) {
      return c;
    }
    c = key(a).compareTo(key(b));
    return c != 0 ? c : Long.compare(number(a), number(b));
  }

  private static int rank(Deadline d) {
    return d instanceof Holder ? 0 : d instanceof WaitEnd ? 1 : 2;
  }

  private static String name(Deadline d) {
    return d instanceof Holder h ? h.name() : d instanceof WaitEnd w ? w.name() : "";
  }

  private static String key(Deadline d) {
    return d instanceof Holder h ? h.key() : "";
  }

  private static long number(Deadline d) {
    return d instanceof WaitEnd w ? w.seq() : d instanceof SessionEnd s ? s.sessionId() : 0;
  }
}
