package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * A {@link Changes} for tests. It is two things at once:
 *
 * <ul>
 *   <li>an in-memory "store": every put/delete lands in maps keyed the way a real store keys its records
 *       (lock name; name+key; name+seq; session id; clientId+requestId; meta). Deleting a record that is not
 *       there, or creating a lock that already exists, fails the test at once: the table must report exact
 *       changes;
 *   <li>a log of the current step: every record change and event in order, cleared by {@link #beginStep()}.
 * </ul>
 */
final class Recorder implements Changes {

  record HolderKey(String name, String key) {}

  record WaiterKey(String name, long seq) {}

  record Ref(String clientId, long requestId) {}

  record StoredOutcome(long atMs, boolean aged, Result result) {}

  /** A waiter became a holder. */
  record Granted(Waiter waiter, Holder holder, long size) {}

  /** A waiter left the queue without a grant. */
  record Removed(Waiter waiter, ErrorCode reason) {}

  /** A holder stopped holding. */
  record Released(Holder holder, ReleaseReason reason) {}

  // ---- the store ----
  final Map<String, Long> locks = new TreeMap<>();
  final Map<HolderKey, Holder> holders = new HashMap<>();
  final Map<WaiterKey, Waiter> waiters = new HashMap<>();
  final Map<Long, Session> sessions = new HashMap<>();
  final Map<Ref, StoredOutcome> outcomes = new HashMap<>();
  final Map<String, ClientMarks> clients = new TreeMap<>();
  Meta meta;

  // ---- this step ----
  /** Record changes of this step as short strings ("putHolder a/k"), in order. */
  final List<String> ops = new ArrayList<>();
  /** Events of this step ({@link Granted}, {@link Removed}, {@link Released}), in order. */
  final List<Object> events = new ArrayList<>();

  /** Outcomes written or deleted in this step. */
  final Set<Ref> touchedOutcomes = new HashSet<>();

  void beginStep() {
    ops.clear();
    events.clear();
    touchedOutcomes.clear();
  }

  /**
   * The record changes of this step other than putMeta (the clock may advance on any successful command) and
   * putClient (settle marks may move with any request).
   */
  List<String> opsBesideMeta() {
    List<String> out = new ArrayList<>();
    for (String op : ops) {
      if (!op.startsWith("putMeta") && !op.startsWith("putClient")) {
        out.add(op);
      }
    }
    return out;
  }

  <T> List<T> events(Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Object e : events) {
      if (type.isInstance(e)) {
        out.add(type.cast(e));
      }
    }
    return out;
  }

  /** A copy of the store (not of the step log). */
  Recorder copyStore() {
    Recorder r = new Recorder();
    r.locks.putAll(locks);
    r.holders.putAll(holders);
    r.waiters.putAll(waiters);
    r.sessions.putAll(sessions);
    r.outcomes.putAll(outcomes);
    r.clients.putAll(clients);
    r.meta = meta;
    return r;
  }

  /**
   * A fresh table loaded from this store through the restore API, calling restore* in a shuffled order (the
   * store may call them in any order), then finishRestore, then every invariant, the indexes' too (a restore
   * checks only the records' own).
   */
  LockTable restore(Random random) {
    LockTable t = new LockTable();
    List<Runnable> calls = new ArrayList<>();
    if (meta != null) {
      Meta m = meta;
      calls.add(() -> t.restoreMeta(m));
    }
    locks.forEach((name, size) -> calls.add(() -> t.restoreLock(name, size)));
    holders.values().forEach(h -> calls.add(() -> t.restoreHolder(h)));
    waiters.values().forEach(w -> calls.add(() -> t.restoreWaiter(w)));
    sessions.values().forEach(s -> calls.add(() -> t.restoreSession(s)));
    outcomes.forEach((ref, o) -> calls.add(() -> t.restoreOutcome(ref.clientId(), ref.requestId(), o.atMs(), o.aged(),
        o.result())));
    clients.values().forEach(m -> calls.add(() -> t.restoreClient(m)));
    Collections.shuffle(calls, random);
    calls.forEach(Runnable::run);
    t.finishRestore();
    t.checkInvariants();
    return t;
  }

  /** Asserts that this store holds exactly the table's state. */
  void assertMatches(LockTable table) {
    assertMatches(table, true);
  }

  /**
   * Asserts that this store holds exactly the table's state; with {@code allOutcomes} false only the outcomes
   * this step wrote or deleted are compared one by one (the outcome count always is).
   */
  void assertMatches(LockTable table, boolean allOutcomes) {
    assertEquals(table.lockCount(), locks.size(), "stored lock records");
    assertEquals(table.holderCount(), holders.size(), "stored holder records");
    assertEquals(table.waiterCount(), waiters.size(), "stored waiter records");
    assertEquals(table.sessionCount(), sessions.size(), "stored session records");
    assertEquals(table.outcomeCount(), outcomes.size(), "stored outcome records");
    assertEquals(meta == null ? Meta.INITIAL : meta, table.meta(), "stored meta");
    assertEquals(clients, table.clientMarks(), "stored client marks");
    Map<String, Integer> waitersPerLock = new HashMap<>();
    for (Waiter w : waiters.values()) {
      assertEquals(w, table.waiter(w.clientId(), w.requestId()), "stored waiter " + w);
      waitersPerLock.merge(w.name(), 1, Integer::sum);
    }
    for (LockView summary : table.list("", "", Integer.MAX_VALUE)) {
      LockView v = table.getLock(summary.name());
      assertEquals(v.size(), locks.get(v.name()), "stored size of " + v.name());
      assertEquals(Math.min(v.holderCount(), Limits.REPLY_HOLDERS_MAX), v.holders().size(), "holders listed of "
          + v.name());
      for (Holder h : v.holders()) {
        Holder stored = holders.get(new HolderKey(v.name(), h.key()));
        assertNotNull(stored, "stored holder " + h);
        // a read shows the lease deadline in force (a Refresh may have moved it past the stored one)
        assertEquals(h, stored.withLease(stored.leaseMs(), table.effectiveExpiry(stored)), "stored holder");
      }
      assertEquals(v.waiters(), (int) waitersPerLock.getOrDefault(v.name(), 0), "stored waiters of " + v.name());
    }
    for (Session s : sessions.values()) {
      assertEquals(s.withExpiresAtMs(table.effectiveExpiry(s)), table.session(s.id()), "stored session");
    }
    if (allOutcomes) {
      for (Map.Entry<Ref, StoredOutcome> e : outcomes.entrySet()) {
        assertEquals(e.getValue().result(), table.outcome(e.getKey().clientId(), e.getKey().requestId()),
            "stored outcome of " + e.getKey());
      }
    } else {
      for (Ref ref : touchedOutcomes) {
        StoredOutcome o = outcomes.get(ref);
        assertEquals(o == null ? null : o.result(), table.outcome(ref.clientId(), ref.requestId()),
            "stored outcome of " + ref);
      }
    }
  }

  /** Record changes of this step as a sorted multiset (the order inside one batch does not matter). */
  List<String> sortedOps() {
    List<String> copy = new ArrayList<>(ops);
    Collections.sort(copy);
    return copy;
  }

  Set<Ref> outcomeRefs() {
    return new HashSet<>(outcomes.keySet());
  }

  // ------------------------------------------------------------------------------------------------
  // Changes
  // ------------------------------------------------------------------------------------------------

  @Override
  public void putLock(String name, long size) {
    assertNull(locks.put(name, size), "putLock of a lock that exists: " + name);
    ops.add("putLock " + name + " " + size);
  }

  @Override
  public void deleteLock(String name) {
    assertNotNull(locks.remove(name), "deleteLock of a missing lock: " + name);
    assertTrue(holders.keySet().stream().noneMatch(k -> k.name().equals(name)), "lock deleted with holders");
    assertTrue(waiters.keySet().stream().noneMatch(k -> k.name().equals(name)), "lock deleted with waiters");
    ops.add("deleteLock " + name);
  }

  @Override
  public void putHolder(Holder holder) {
    assertTrue(locks.containsKey(holder.name()), "putHolder before its lock: " + holder);
    holders.put(new HolderKey(holder.name(), holder.key()), holder);
    ops.add("putHolder " + holder.name() + "/" + holder.key());
  }

  @Override
  public void deleteHolder(String name, String key) {
    assertNotNull(holders.remove(new HolderKey(name, key)), "deleteHolder of a missing holder " + name + "/" + key);
    ops.add("deleteHolder " + name + "/" + key);
  }

  @Override
  public void putWaiter(Waiter waiter) {
    assertTrue(locks.containsKey(waiter.name()), "putWaiter before its lock: " + waiter);
    Waiter old = waiters.put(new WaiterKey(waiter.name(), waiter.seq()), waiter);
    // a waiter is written again only when a re-sent request raises its attempt
    assertTrue(old == null || old.withAttempt(waiter.attempt()).equals(waiter), "putWaiter changed " + old + " to "
        + waiter);
    ops.add("putWaiter " + waiter.name() + "#" + waiter.seq());
  }

  @Override
  public void deleteWaiter(String name, long seq) {
    assertNotNull(waiters.remove(new WaiterKey(name, seq)), "deleteWaiter of a missing waiter " + name + "#" + seq);
    ops.add("deleteWaiter " + name + "#" + seq);
  }

  @Override
  public void putSession(Session session) {
    sessions.put(session.id(), session);
    ops.add("putSession " + session.id());
  }

  @Override
  public void deleteSession(long id) {
    assertNotNull(sessions.remove(id), "deleteSession of a missing session " + id);
    ops.add("deleteSession " + id);
  }

  @Override
  public void putOutcome(String clientId, long requestId, long atMs, boolean aged, Result result) {
    outcomes.put(new Ref(clientId, requestId), new StoredOutcome(atMs, aged, result));
    touchedOutcomes.add(new Ref(clientId, requestId));
    ops.add("putOutcome " + clientId + ":" + requestId);
  }

  @Override
  public void deleteOutcome(String clientId, long requestId) {
    assertNotNull(outcomes.remove(new Ref(clientId, requestId)), "deleteOutcome of a missing outcome");
    touchedOutcomes.add(new Ref(clientId, requestId));
    ops.add("deleteOutcome " + clientId + ":" + requestId);
  }

  @Override
  public void putClient(ClientMarks marks) {
    clients.put(marks.clientId(), marks);
    ops.add("putClient " + marks.clientId());
  }

  @Override
  public void deleteClient(String clientId) {
    assertNotNull(clients.remove(clientId), "deleteClient of a missing client " + clientId);
    ops.add("deleteClient " + clientId);
  }

  @Override
  public void putMeta(Meta m) {
    meta = m;
    ops.add("putMeta");
  }

  @Override
  public void waiterGranted(Waiter waiter, Holder holder, long size) {
    events.add(new Granted(waiter, holder, size));
  }

  @Override
  public void waiterRemoved(Waiter waiter, ErrorCode reason) {
    events.add(new Removed(waiter, reason));
  }

  @Override
  public void holderReleased(Holder holder, ReleaseReason reason) {
    events.add(new Released(holder, reason));
  }
}
