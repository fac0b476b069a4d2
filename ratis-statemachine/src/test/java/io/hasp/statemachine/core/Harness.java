package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.ArrayList;
import java.util.List;

/**
 * A lock table with a clock, a log position, a request-id counter and a {@link Recorder}. Every {@link #apply}
 * uses the next log index at the current {@link #term}, checks the table's invariants and that the recorded
 * store matches the table. Terms start at 0, whose Refresh is implied (the initial meta is refreshed at term 0),
 * so tests that do not care about leader changes can expire without one.
 */
final class Harness {
  static final long T0 = 1_000_000;

  LockTable table = new LockTable();
  Recorder rec = new Recorder();
  long index;
  long term;
  long now = T0;
  String client = "client-1";
  long nextRequestId = 1;
  /** Every this many steps all stored outcomes are compared with the table (else only this step's). */
  int fullCheckEvery = 1;
  /** The last command applied. */
  Command last;

  /** A real store each step's record changes are also written to, one batch per step, or null. */
  Store store;

  /** One batch per applied entry, as the state machine writes them. */
  interface Store {
    Changes begin();

    void commit(long term, long index, Meta meta);
  }

  Result apply(Command command) {
    index++;
    rec.beginStep();
    last = command;
    Result result = table.apply(index, term, command, store == null ? rec : new Both(rec, store.begin()));
    if (store != null) {
      store.commit(term, index, table.meta());
    }
    table.checkInvariants();
    rec.assertMatches(table, index % fullCheckEvery == 0);
    return result;
  }

  /** Applies {@code command} again, unchanged (a retry). */
  Result replay(Command command) {
    return apply(command);
  }

  /** Passes every change to two recipients. */
  record Both(Changes a, Changes b) implements Changes {
    @Override public void putLock(String name, long size) { a.putLock(name, size); b.putLock(name, size); }
    @Override public void deleteLock(String name) { a.deleteLock(name); b.deleteLock(name); }
    @Override public void putHolder(Holder h) { a.putHolder(h); b.putHolder(h); }
    @Override public void deleteHolder(String name, String key) { a.deleteHolder(name, key); b.deleteHolder(name, key); }
    @Override public void putWaiter(Waiter w) { a.putWaiter(w); b.putWaiter(w); }
    @Override public void deleteWaiter(String name, long seq) { a.deleteWaiter(name, seq); b.deleteWaiter(name, seq); }
    @Override public void putSession(Session s) { a.putSession(s); b.putSession(s); }
    @Override public void deleteSession(long id) { a.deleteSession(id); b.deleteSession(id); }
    @Override public void putOutcome(String c, long r, long at, boolean aged, Result res) {
      a.putOutcome(c, r, at, aged, res);
      b.putOutcome(c, r, at, aged, res);
    }
    @Override public void deleteOutcome(String c, long r) { a.deleteOutcome(c, r); b.deleteOutcome(c, r); }
    @Override public void putClient(ClientMarks m) { a.putClient(m); b.putClient(m); }
    @Override public void deleteClient(String c) { a.deleteClient(c); b.deleteClient(c); }
    @Override public void putMeta(Meta m) { a.putMeta(m); b.putMeta(m); }
    @Override public void waiterGranted(Waiter w, Holder h, long size) { a.waiterGranted(w, h, size); }
    @Override public void waiterRemoved(Waiter w, ErrorCode reason) { a.waiterRemoved(w, reason); }
    @Override public void holderReleased(Holder h, ReleaseReason reason) { a.holderReleased(h, reason); }
  }

  long req() {
    return nextRequestId++;
  }

  Origin origin() {
    return Origin.of(client, req());
  }

  /** The secret of a live session, or "wrong" for one the table does not know. */
  String keyOf(long sessionId) {
    Session s = table.session(sessionId);
    return s == null ? "wrong" : s.key();
  }

  // ---- command builders, stamped with the harness clock ----

  Command.Acquire acquireCmd(String name, long size, String key, long leaseMs, long waitMs, boolean tryOnly,
      long sessionId) {
    return new Command.Acquire(now, origin(), name, size, leaseMs, waitMs, tryOnly, sessionId,
        sessionId == 0 ? "" : keyOf(sessionId), false, 0, 1, "owner", key);
  }

  /** An acquire with every field given; the session key is the session's own. */
  Command.Acquire acquireCmd(Origin origin, String name, long size, String key, long leaseMs, long waitMs,
      boolean tryOnly, long sessionId, boolean detached, long threadId, long attempt) {
    return new Command.Acquire(now, origin, name, size, leaseMs, waitMs, tryOnly, sessionId,
        sessionId == 0 ? "" : keyOf(sessionId), detached, threadId, attempt, "owner", key);
  }

  /** Blocking acquire: waits forever. */
  Result lock(String name, long size, String key) {
    return apply(acquireCmd(name, size, key, 0, -1, false, 0));
  }

  Result lock(String name, String key) {
    return lock(name, 1, key);
  }

  Result lockLeased(String name, long size, String key, long leaseMs) {
    return apply(acquireCmd(name, size, key, leaseMs, -1, false, 0));
  }

  Result lockWait(String name, long size, String key, long waitMs) {
    return apply(acquireCmd(name, size, key, 0, waitMs, false, 0));
  }

  Result lockInSession(String name, long size, String key, long sessionId) {
    return apply(acquireCmd(name, size, key, 0, -1, false, sessionId));
  }

  Result tryLock(String name, long size, String key) {
    return apply(acquireCmd(name, size, key, 0, -1, true, 0));
  }

  Result unlock(String name, String key) {
    return apply(new Command.Release(now, origin(), name, key));
  }

  Result renew(String name, String key, long leaseMs) {
    return apply(new Command.Renew(now, origin(), name, key, leaseMs));
  }

  Result flush(String... names) {
    return apply(new Command.Flush(now, origin(), List.of(names), ""));
  }

  Result openSession(long ttlMs) {
    return apply(new Command.OpenSession(now, origin(), ttlMs, "session-owner", "secret-" + (index + 1)));
  }

  Result keepAlive(long sessionId) {
    return apply(new Command.KeepAlive(now, origin(), sessionId, keyOf(sessionId), List.of()));
  }

  Result closeSession(long sessionId) {
    return apply(new Command.CloseSession(now, origin(), sessionId, keyOf(sessionId)));
  }

  /** The client's unconditional abandon of its own request. */
  Result abandon(String clientId, long requestId) {
    return apply(new Command.Abandon(now, Origin.of(clientId, 0), requestId, Long.MAX_VALUE));
  }

  Result expire() {
    return apply(new Command.Expire(now, Limits.EXPIRIES_PER_TICK_MAX));
  }

  Result expireAt(long atMs) {
    return apply(new Command.Expire(atMs, Limits.EXPIRIES_PER_TICK_MAX));
  }

  Result refresh() {
    return apply(new Command.Refresh(now, Capacity.DEFAULT));
  }

  /** A new leader: the next term, and its Refresh. */
  Result newLeader() {
    term++;
    return refresh();
  }

  // ---- result helpers ----

  static Holder granted(Result r) {
    return assertInstanceOf(Result.Granted.class, r, () -> "expected a grant, got " + r).holder();
  }

  static Waiter queued(Result r) {
    return assertInstanceOf(Result.Queued.class, r, () -> "expected a queued waiter, got " + r).waiter();
  }

  static Result.Failure failed(Result r, ErrorCode code) {
    Result.Failure f = assertInstanceOf(Result.Failure.class, r, () -> "expected " + code + ", got " + r);
    assertEquals(code, f.code(), () -> "failure " + f);
    return f;
  }

  static void notAcquired(Result r) {
    assertInstanceOf(Result.NotAcquired.class, r, () -> "expected NotAcquired, got " + r);
  }

  static Session session(Result r) {
    return assertInstanceOf(Result.SessionState.class, r, () -> "expected a session, got " + r).session();
  }

  static List<String> names(Result r) {
    return assertInstanceOf(Result.Names.class, r, () -> "expected names, got " + r).names();
  }

  static Result.AbandonOutcome abandoned(Result r) {
    return assertInstanceOf(Result.Abandoned.class, r, () -> "expected an abandon result, got " + r).outcome();
  }

  /** Keys of the lock's holders in grant order (empty when the lock does not exist). */
  List<String> holderKeys(String name) {
    LockView v = table.getLock(name);
    List<String> keys = new ArrayList<>();
    if (v != null) {
      v.holders().forEach(h -> keys.add(h.key()));
    }
    return keys;
  }

  /** The holder as a read shows it (with its effective lease deadline), or null. */
  Holder holder(String name, String key) {
    LockView v = table.getLock(name);
    if (v == null) {
      return null;
    }
    for (Holder h : v.holders()) {
      if (h.key().equals(key)) {
        return h;
      }
    }
    return null;
  }

  /** Everything observable about the table, for before/after and table/table comparison. */
  record State(List<LockView> locks, int lockCount, long holderCount, long waiterCount, int sessionCount,
      long outcomeCount, int clientCount, Meta meta, long nextDeadlineMs) {}

  static State state(LockTable t) {
    List<LockView> locks = new ArrayList<>();
    for (LockView summary : t.list("", "", Integer.MAX_VALUE)) {
      locks.add(t.getLock(summary.name()));
    }
    return new State(locks, t.lockCount(), t.holderCount(), t.waiterCount(), t.sessionCount(), t.outcomeCount(),
        t.clientCount(), t.meta(), t.nextDeadlineMs());
  }

  State state() {
    return state(table);
  }
}
