package io.hasp.statemachine.core;

import java.util.Map;
import java.util.TreeMap;

/**
 * The invariants of a {@link LockTable}, checked over the whole state (O(state): for tests, restores and
 * debugging, never on the apply path). Each broken rule throws IllegalStateException naming it.
 */
final class TableInvariants {
  private TableInvariants() {}

  static void check(LockTable t) {
    check(t, true);
  }

  /**
   * The rules about the records themselves (sizes, order, tokens, live sessions, counts), without looking each
   * record up in the indexes: for a restore, whose indexes were just built from these same records, where the
   * lookups were a fifth of a restart at a million locks.
   */
  static void checkRecords(LockTable t) {
    check(t, false);
  }

  private static void check(LockTable t, boolean indexes) {
    Meta meta = t.meta();
    long holders = 0;
    long waiters = 0;
    int deadlineCount = 0;
    int holdersIndexed = 0;
    for (LockState lock : t.locks.values()) {
      check(!lock.isEmpty(), "empty lock kept: ", lock.name);
      check(lock.size >= 1 && lock.size <= Limits.LOCK_SIZE_MAX, "bad size of ", lock.name);
      check(lock.holders.size() <= lock.size, "more holders than size in ", lock.name);
      check(lock.queue.isEmpty() || lock.isFull(), "waiters on a lock with free slots: ", lock.name);
      check(!indexes || lock.queue.indexesConsistent(), "queue indexes disagree with the queue of ", lock.name);
      long lastToken = 0;
      for (Holder h : lock.holders.values()) {
        check(h.name().equals(lock.name), "holder of another lock in ", lock.name);
        check(h.token() > lastToken, "tokens not increasing in ", lock.name);
        check(h.token() <= meta.lastToken(), "token above lastToken in ", lock.name);
        lastToken = h.token();
        check(h.sessionId() == 0 || t.sessions.get(h.sessionId()) != null, "holder of a dead session in ", lock.name);
        if (indexes) {
          check(!h.hasLease() || t.deadlines.ceiling(Deadline.of(h)) == h, "lease not indexed in ", lock.name);
          check(h.sessionId() == 0 || linked(t, h.sessionId(), lock.name, h.key()), "holder session not linked in ",
              lock.name);
          check(!h.identified() || t.holdersByRequest.get(h.ref()) == h,
              "holder not indexed by request in ", lock.name);
        }
        holdersIndexed += h.identified() ? 1 : 0;
        deadlineCount += h.hasLease() ? 1 : 0;
        holders++;
      }
      long lastSeq = 0;
      for (Waiter w : lock.queue.inOrder()) {
        check(w.name().equals(lock.name), "waiter of another lock in ", lock.name);
        check(w.seq() > lastSeq, "waiters out of order in ", lock.name);
        check(w.seq() < meta.nextWaiterSeq(), "waiter seq beyond nextWaiterSeq in ", lock.name);
        check(w.size() == lock.size, "waiter size differs from lock size in ", lock.name);
        lastSeq = w.seq();
        check(w.sessionId() == 0 || t.sessions.get(w.sessionId()) != null, "orphan waiter of a dead session in ",
            lock.name);
        if (indexes) {
          check(w.sessionId() == 0 || linkedWaiter(t, w.sessionId(), lock.name, w.seq()),
              "waiter session not linked in ", lock.name);
          check(t.waitersByRequest.get(w.ref()) == w, "waiter not indexed by request in ", lock.name);
          check(w.waitDeadlineMs() == 0 || t.deadlines.contains(Deadline.of(w)), "wait deadline not indexed in ",
              lock.name);
        }
        check(!lock.holders.containsKey(w.key()), "waiter key also a holder's in ", lock.name);
        check(!w.detached() || w.sessionId() != 0, "detached waiter without a session in ", lock.name);
        deadlineCount += w.waitDeadlineMs() > 0 ? 1 : 0;
        waiters++;
      }
    }
    for (Session s : t.sessions.all()) {
      check(!indexes || t.deadlines.contains(Deadline.of(s)), "session deadline not indexed: ", s.id());
      deadlineCount++;
    }
    check(deadlineCount == t.deadlines.size(), "deadline index has " + t.deadlines.size() + " entries, state has "
        + deadlineCount);
    check(holders == t.holderCount, "holder count " + t.holderCount + " but " + holders + " holders");
    check(waiters == t.waiterCount, "waiter count " + t.waiterCount + " but " + waiters + " waiters");
    check(t.waitersByRequest.size() == waiters, "waiter request index has stale entries");
    check(t.holdersByRequest.size() == holdersIndexed, "holder request index has stale entries");
    if (indexes) {
      for (Map.Entry<Long, TreeMap<String, SessionIndex.LockLinks>> e : t.sessions.allLinks().entrySet()) {
        check(t.sessions.get(e.getKey()) != null, "links of a dead session ", e.getKey());
        for (Map.Entry<String, SessionIndex.LockLinks> l : e.getValue().entrySet()) {
          LockState lock = t.locks.get(l.getKey());
          check(lock != null, "a session linked to a missing lock ", l.getKey());
          check(!l.getValue().isEmpty(), "empty session link kept");
          for (String key : l.getValue().holderKeys) {
            Holder h = lock.holders.get(key);
            check(h != null && h.sessionId() == e.getKey(), "session link to a holder that is not the session's");
          }
          for (long seq : l.getValue().waiterSeqs) {
            Waiter w = lock.queue.get(seq);
            check(w != null && w.sessionId() == e.getKey(), "session link to a waiter that is not the session's");
          }
        }
      }
    }
    t.outcomes.checkInvariants();
  }

  private static boolean linked(LockTable t, long sessionId, String name, String key) {
    TreeMap<String, SessionIndex.LockLinks> m = t.sessions.allLinks().get(sessionId);
    return m != null && m.containsKey(name) && m.get(name).holderKeys.contains(key);
  }

  private static boolean linkedWaiter(LockTable t, long sessionId, String name, long seq) {
    TreeMap<String, SessionIndex.LockLinks> m = t.sessions.allLinks().get(sessionId);
    return m != null && m.containsKey(name) && m.get(name).waiterSeqs.contains(seq);
  }

  private static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException("lock table invariant broken: " + message);
    }
  }

  // the message is built only when the check fails: these run for every lock and holder of a restore
  private static void check(boolean condition, String message, String subject) {
    if (!condition) {
      throw new IllegalStateException("lock table invariant broken: " + message + subject);
    }
  }

  private static void check(boolean condition, String message, long subject) {
    if (!condition) {
      throw new IllegalStateException("lock table invariant broken: " + message + subject);
    }
  }
}
