package io.hasp.statemachine.core;

import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The FIFO queue of one lock: waiters in {@code seq} order, with every lookup the table needs in O(1): by seq
 * (timeouts, abandons), by key (a key must not wait twice) and by waiting party (superseding).
 */
final class LockQueue {
  /** The queue of every lock that never had a waiter: always empty ({@link #add} refuses it). */
  static final LockQueue NONE = new LockQueue();

  /** A waiting party: one thread of one session. */
  private record Party(long sessionId, long threadId) {}

  /**
   * Insertion order is seq order: seqs only grow. The maps exist only while the queue has waiters: most locks
   * never have one, and three empty maps per lock were a fifth of the heap at a million held locks.
   */
  private LinkedHashMap<Long, Waiter> bySeq;
  private Map<String, Long> seqByKey;
  private Map<Party, Long> seqByParty;

  boolean isEmpty() {
    return bySeq == null;
  }

  int size() {
    return bySeq == null ? 0 : bySeq.size();
  }

  Waiter first() {
    return bySeq == null ? null : bySeq.values().iterator().next();
  }

  Waiter get(long seq) {
    return bySeq == null ? null : bySeq.get(seq);
  }

  boolean containsKey(String key) {
    return seqByKey != null && seqByKey.containsKey(key);
  }

  /** The waiter of this party (a superseding candidate), or null. */
  Waiter ofParty(long sessionId, long threadId) {
    if (sessionId == 0 || threadId == 0 || bySeq == null) {
      return null;
    }
    Long seq = seqByParty.get(new Party(sessionId, threadId));
    return seq == null ? null : bySeq.get(seq);
  }

  /** Appends; the waiter's seq must be larger than every queued one. */
  void add(Waiter w) {
    if (this == NONE) {
      throw new IllegalStateException("a waiter added to the shared empty queue");
    }
    if (bySeq == null) {
      bySeq = new LinkedHashMap<>();
      seqByKey = new HashMap<>();
      seqByParty = new HashMap<>();
    }
    bySeq.put(w.seq(), w);
    seqByKey.put(w.key(), w.seq());
    if (w.sessionId() != 0 && w.threadId() != 0) {
      seqByParty.put(new Party(w.sessionId(), w.threadId()), w.seq());
    }
  }

  /** Replaces a queued waiter by an updated copy (same seq, key and party). */
  void replace(Waiter w) {
    if (bySeq == null) {
      throw new IllegalStateException("waiter " + w.seq() + " replaced in an empty queue");
    }
    bySeq.put(w.seq(), w);
  }

  void remove(Waiter w) {
    if (bySeq == null || bySeq.remove(w.seq()) == null) {
      return;
    }
    seqByKey.remove(w.key());
    Party p = new Party(w.sessionId(), w.threadId());
    Long partySeq = seqByParty.get(p);
    if (partySeq != null && partySeq == w.seq()) {
      seqByParty.remove(p);
    }
    if (bySeq.isEmpty()) {
      bySeq = null;
      seqByKey = null;
      seqByParty = null;
    }
  }

  Waiter pollFirst() {
    Waiter w = first();
    if (w != null) {
      remove(w);
    }
    return w;
  }

  Collection<Waiter> inOrder() {
    return bySeq == null ? List.of() : bySeq.values();
  }

  /** For the invariants: the indexes agree with the queue. */
  boolean indexesConsistent() {
    if (bySeq == null) {
      return seqByKey == null && seqByParty == null;
    }
    if (bySeq.isEmpty() || seqByKey.size() != bySeq.size()) {
      return false;
    }
    long last = 0;
    for (Iterator<Waiter> it = bySeq.values().iterator(); it.hasNext(); ) {
      Waiter w = it.next();
      if (w.seq() <= last || !Long.valueOf(w.seq()).equals(seqByKey.get(w.key()))) {
        return false;
      }
      last = w.seq();
    }
    for (Map.Entry<Party, Long> e : seqByParty.entrySet()) {
      Waiter w = bySeq.get(e.getValue());
      if (w == null || w.sessionId() != e.getKey().sessionId() || w.threadId() != e.getKey().threadId()) {
        return false;
      }
    }
    return true;
  }
}
