package io.hasp.statemachine.core;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The open sessions and, for each, exact references to its holders and waiters (by lock name, in name order),
 * so ending a session costs what it holds, not the length of the queues it waits in.
 */
final class SessionIndex {
  /** One session's holders (keys) and waiters (seqs) on one lock. */
  static final class LockLinks {
    final TreeSet<String> holderKeys = new TreeSet<>();
    final TreeSet<Long> waiterSeqs = new TreeSet<>();

    boolean isEmpty() {
      return holderKeys.isEmpty() && waiterSeqs.isEmpty();
    }
  }

  private final Map<Long, Session> sessions = new HashMap<>();
  /** Session id to lock name to links; a session without holders or waiters has no entry. */
  private final Map<Long, TreeMap<String, LockLinks>> links = new HashMap<>();

  Session get(long id) {
    return sessions.get(id);
  }

  int size() {
    return sessions.size();
  }

  Collection<Session> all() {
    return sessions.values();
  }

  void put(Session s) {
    sessions.put(s.id(), s);
  }

  /** Removes the session and returns its links (empty when it held and waited for nothing). */
  TreeMap<String, LockLinks> remove(long id) {
    sessions.remove(id);
    TreeMap<String, LockLinks> l = links.remove(id);
    return l == null ? new TreeMap<>() : l;
  }

  void linkHolder(long sessionId, String name, String key) {
    links(sessionId, name).holderKeys.add(key);
  }

  void linkWaiter(long sessionId, String name, long seq) {
    links(sessionId, name).waiterSeqs.add(seq);
  }

  /** No-op when the session is already gone (it is being ended). */
  void unlinkHolder(long sessionId, String name, String key) {
    LockLinks l = existing(sessionId, name);
    if (l != null) {
      l.holderKeys.remove(key);
      dropIfEmpty(sessionId, name, l);
    }
  }

  /** No-op when the session is already gone (it is being ended). */
  void unlinkWaiter(long sessionId, String name, long seq) {
    LockLinks l = existing(sessionId, name);
    if (l != null) {
      l.waiterSeqs.remove(seq);
      dropIfEmpty(sessionId, name, l);
    }
  }

  /** For the invariants. */
  Map<Long, TreeMap<String, LockLinks>> allLinks() {
    return links;
  }

  private LockLinks links(long sessionId, String name) {
    return links.computeIfAbsent(sessionId, id -> new TreeMap<>()).computeIfAbsent(name, n -> new LockLinks());
  }

  private LockLinks existing(long sessionId, String name) {
    TreeMap<String, LockLinks> m = links.get(sessionId);
    return m == null ? null : m.get(name);
  }

  private void dropIfEmpty(long sessionId, String name, LockLinks l) {
    if (l.isEmpty()) {
      TreeMap<String, LockLinks> m = links.get(sessionId);
      m.remove(name);
      if (m.isEmpty()) {
        links.remove(sessionId);
      }
    }
  }
}
