package io.hasp.statemachine.core;

import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The FIFO queue of one lock: waiters in {@code seq} order, with every lookup the table needs in O(1): by seq
 * (timeouts, abandons), by key (a key must not wait twice) and by waiting party (superseding).
 */
final class LockQueue {
  /** A waiting party: one thread of one session. */
  private record Party(long sessionId, long threadId) {}

  /** Insertion order is seq order: seqs only grow. */
  private final LinkedHashMap<Long, Waiter> bySeq = new LinkedHashMap<>();
  private final Map<String, Long> seqByKey = new HashMap<>();
  private final Map<Party, Long> seqByParty = new HashMap<>();

  boolean isEmpty() {
    return bySeq.isEmpty();
  }

  int size() {
    return bySeq.size();
  }

  Waiter first() {
    return bySeq.isEmpty() ? null : bySeq.values().iterator().next();
  }

  Waiter get(long seq) {
    return bySeq.get(seq);
  }

  boolean containsKey(String key) {
    return seqByKey.containsKey(key);
  }

  /** The waiter of this party (a superseding candidate), or null. */
  Waiter ofParty(long sessionId, long threadId) {
    if (sessionId == 0 || threadId == 0) {
      return null;
    }
    Long seq = seqByParty.get(new Party(sessionId, threadId));
    return seq == null ? null : bySeq.get(seq);
  }

  /** Appends; the waiter's seq must be larger than every queued one. */
  void add(Waiter w) {
    bySeq.put(w.seq(), w);
    seqByKey.put(w.key(), w.seq());
    if (w.sessionId() != 0 && w.threadId() != 0) {
      seqByParty.put(new Party(w.sessionId(), w.threadId()), w.seq());
    }
  }

  /** Replaces a queued waiter by an updated copy (same seq, key and party). */
  void replace(Waiter w) {
    bySeq.put(w.seq(), w);
  }

  void remove(Waiter w) {
    bySeq.remove(w.seq());
    seqByKey.remove(w.key());
    Party p = new Party(w.sessionId(), w.threadId());
    Long partySeq = seqByParty.get(p);
    if (partySeq != null && partySeq == w.seq()) {
      seqByParty.remove(p);
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
    return bySeq.values();
  }

  /** For the invariants: the indexes agree with the queue. */
  boolean indexesConsistent() {
    if (seqByKey.size() != bySeq.size()) {
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
