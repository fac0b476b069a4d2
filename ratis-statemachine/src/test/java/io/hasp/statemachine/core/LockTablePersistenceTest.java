package io.hasp.statemachine.core;

import static io.hasp.statemachine.core.Harness.granted;
import static io.hasp.statemachine.core.Harness.queued;
import static io.hasp.statemachine.core.Harness.session;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hasp.statemachine.core.Recorder.Granted;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The table's reported record changes are its whole state: a table rebuilt from them through the restore API
 * is indistinguishable from the original, now and for every later command.
 */
class LockTablePersistenceTest {

  /** Builds a state with every kind of record: locks, leased and session holders, timed waiters, outcomes. */
  static Harness richState() {
    return richState(new Harness());
  }

  /** {@link #richState()} built in {@code h} (which may write through a real store). */
  static Harness richState(Harness h) {
    long s1 = session(h.openSession(3_000)).id();
    long s2 = session(h.openSession(60_000)).id();
    granted(h.lockLeased("lease", 2, "l1", 2_000));
    granted(h.lockInSession("lease", 2, "l2", s1));
    queued(h.apply(h.acquireCmd("lease", 2, "lw1", 1_500, 5_000, false, s2)));
    queued(h.apply(h.acquireCmd("lease", 2, "lw2", 0, -1, false, 0)));
    granted(h.lockInSession("sess", 1, "s1", s1));
    queued(h.apply(h.acquireCmd("sess", 1, "sw", 0, 1_000, false, 0)));
    granted(h.lock("plain", 3, "p1"));
    h.now += 10;
    h.tryLock("lease", 2, "try"); // NotAcquired outcome
    h.flush("nothing-here"); // Names outcome
    h.renew("plain", "p1", 4_000); // Renewed outcome
    h.unlock("missing", "k"); // a failure: not remembered
    granted(h.lock("gone", 1, "g"));
    h.unlock("gone", "g"); // Done outcome, deleted lock
    long s3 = session(h.openSession(1_000)).id();
    h.closeSession(s3); // Names outcome of a close
    granted(h.lock("cancelled", 1, "c"));
    Command.Acquire w = h.acquireCmd("cancelled", 1, "cw", 0, -1, false, 0);
    queued(h.apply(w));
    h.abandon(h.client, w.origin().requestId()); // a failure outcome (WAIT_CANCELLED) is remembered
    // a detached hold waiting in a session, a party that supersedes, and a client that settled some requests
    queued(h.apply(h.acquireCmd(h.origin(), "sess", 1, "det", 3_000, -1, false, s2, true, 0, 2)));
    queued(h.apply(h.acquireCmd(h.origin(), "sess", 1, "party", 0, -1, false, s2, false, 9, 1)));
    h.client = "marker";
    granted(h.tryLock("marked", 1, "m1"));
    h.unlock("marked", "m1");
    granted(h.apply(h.acquireCmd(new Origin("marker", h.req(), h.nextRequestId - 2), "marked", 1, "m2", 0, -1,
        true, 0, false, 0, 1)));
    h.client = "client-1";
    h.term = 2;
    h.refresh();
    return h;
  }

  /** Further commands touching every restored record: expiries, grants, replays, sessions. */
  static List<Function<Harness, Command>> script() {
    List<Function<Harness, Command>> s = new ArrayList<>();
    s.add(h -> h.acquireCmd("lease", 2, "late", 0, -1, false, 0));
    s.add(h -> new Command.Release(h.now, h.origin(), "lease", "l1"));
    s.add(h -> h.acquireCmd("plain", 3, "p2", 100, -1, false, 0));
    s.add(h -> new Command.Expire(h.now + 1_000, Limits.EXPIRIES_PER_TICK_MAX)); // the sw wait timeout
    s.add(h -> new Command.KeepAlive(h.now + 1_000, h.origin(), 1, h.keyOf(1), List.of()));
    s.add(h -> new Command.Abandon(h.now + 1_000, Origin.of(h.client, 0), 3, Long.MAX_VALUE));
    s.add(h -> new Command.Refresh(h.now + 1_500, Capacity.DEFAULT));
    s.add(h -> new Command.Expire(h.now + 4_600, Limits.EXPIRIES_PER_TICK_MAX)); // sessions and leases
    s.add(h -> new Command.Flush(h.now + 4_600, h.origin(), List.of(), ""));
    s.add(h -> new Command.OpenSession(h.now + 4_700, h.origin(), 1_000, "x", "k-new"));
    s.add(h -> new Command.CloseSession(h.now + 4_800, h.origin(), 2, h.keyOf(2)));
    s.add(h -> new Command.Expire(h.now + 20_000, Limits.EXPIRIES_PER_TICK_MAX));
    long retention = Capacity.DEFAULT.sessionlessOutcomeRetentionMs();
    s.add(h -> new Command.Expire(h.now + 2 * retention + 30_000, 3));
    s.add(h -> new Command.Expire(h.now + 2 * retention + 30_000, Limits.EXPIRIES_PER_TICK_MAX));
    return s;
  }

  @Test
  void restoredTableIsEquivalentNowAndForEveryLaterCommand() {
    for (long seed = 1; seed <= 5; seed++) {
      Harness h = richState();
      Twins twins = Twins.of(h, seed);
      // replays of remembered and queued requests answer the same from both
      List<Command> earlier = new ArrayList<>();
      for (Function<Harness, Command> step : script()) {
        Command c = step.apply(h);
        twins.apply(c);
        earlier.add(c);
      }
      assertEquals(0, h.table.outcomeCount(), "the last expiry should have pruned every outcome");
      assertEquals(0, h.table.lockCount());
      // the same commands again: now new requests (their outcomes were pruned), at the table's clock
      for (Command c : earlier) {
        twins.apply(c);
      }
    }
  }

  @Test
  void replaysAnswerTheSameAfterRestore() {
    Harness h = new Harness();
    granted(h.lock("r", 1, "a"));
    Command.Acquire granted = (Command.Acquire) h.last;
    Command.Acquire waiting = h.acquireCmd("r", 1, "b", 0, -1, false, 0);
    queued(h.apply(waiting));
    Command.OpenSession open = new Command.OpenSession(h.now, h.origin(), 1_000, "", "key");
    session(h.apply(open));
    Twins twins = Twins.of(h, 7);
    twins.apply(granted);
    twins.apply(waiting);
    twins.apply(open);
    twins.apply(new Command.Release(h.now, h.origin(), "r", "a"));
    twins.apply(waiting);
  }

  /**
   * Ending a session that holds several locks with waiters grants them in one step; the grants (and so their
   * fencing tokens) must come in the same order on a replica that replayed the log and on one restored from a
   * snapshot.
   */
  @Test
  void sessionEndGrantsInTheSameOrderAfterRestore() {
    Harness h = new Harness();
    long s = session(h.openSession(1_000)).id();
    // link the locks in an order different from the name order and from a hash order
    List<String> names = List.of("zeta", "beta", "omega", "alpha", "kappa", "delta", "b", "a");
    for (String n : names) {
      granted(h.lockInSession(n, 1, "s-" + n, s));
    }
    for (String n : names) {
      queued(h.lock(n, 1, "w-" + n));
    }
    Twins twins = Twins.of(h, 3);
    twins.apply(new Command.CloseSession(h.now, h.origin(), s, h.keyOf(s)));
    List<Granted> grants = h.rec.events(Granted.class);
    assertEquals(names.size(), grants.size());

    // the same through expiry
    Harness e = new Harness();
    long s2 = session(e.openSession(1_000)).id();
    for (String n : names) {
      granted(e.lockInSession(n, 1, "s-" + n, s2));
      queued(e.lock(n, 1, "w-" + n));
    }
    Twins twins2 = Twins.of(e, 4);
    twins2.apply(new Command.Expire(e.now + 1_000, Limits.EXPIRIES_PER_TICK_MAX));
    assertEquals(names.size(), e.rec.events(Granted.class).size());
  }

  /**
   * A restore builds the deadline index from records in kind and name order and then orders them by time alone,
   * stably; deadlines of one time must still come out in the index's full order: holders of one lock granted in
   * one step with keys out of token order, leases of several locks, waits and sessions, all ending at one moment.
   */
  @Test
  void deadlinesOfOneMomentRestoreInTheIndexOrder() {
    for (long seed = 1; seed <= 5; seed++) {
      Harness h = new Harness();
      for (String key : List.of("zz", "aa", "mm")) {
        granted(h.lockLeased("multi", 3, key, 2_000));
      }
      for (String name : List.of("z-lock", "a-lock")) {
        granted(h.lockLeased(name, 1, "k-" + name, 2_000));
        queued(h.apply(h.acquireCmd(name, 1, "w-" + name, 0, 2_000, false, 0)));
      }
      for (int i = 0; i < 3; i++) {
        session(h.openSession(2_000));
      }
      Twins twins = Twins.of(h, seed);
      twins.apply(new Command.Expire(h.now + 1_999, Limits.EXPIRIES_PER_TICK_MAX)); // nothing due yet
      twins.apply(new Command.Expire(h.now + 2_000, 2)); // part of the moment, in the index's order
      twins.apply(new Command.Expire(h.now + 2_000, Limits.EXPIRIES_PER_TICK_MAX));
      assertEquals(2, h.table.lockCount(), "the two waiters hold, every other hold and session ended");
    }
  }

  @Test
  void emptyTableRoundTrips() {
    Harness h = new Harness();
    Twins twins = Twins.of(h, 1);
    twins.apply(h.acquireCmd("x", 1, "k", 0, -1, false, 0));
    assertEquals(Meta.INITIAL.nextWaiterSeq(), twins.restored.table.meta().nextWaiterSeq());
  }

  @Test
  void restoreRejectsRecordsWithoutTheirLock() {
    LockTable t = new LockTable();
    t.restoreHolder(new Holder("orphan", "k", 5, 0, "", 0, 0, 0, "c", 1, 1));
    t.restoreMeta(new Meta(5, 1, 0, 0, 0, 0, Capacity.DEFAULT));
    assertThrows(IllegalStateException.class, t::finishRestore);

    LockTable u = new LockTable();
    u.restoreWaiter(new Waiter("orphan", 1, "c", 1, 0, false, 0, 1, "", 0, 0, "k", 1));
    u.restoreMeta(new Meta(0, 2, 0, 0, 0, 0, Capacity.DEFAULT));
    assertThrows(IllegalStateException.class, u::finishRestore);
  }

  @Test
  void restoreChecksTheInvariants() {
    // a holder of a session that is not there
    LockTable t = new LockTable();
    t.restoreMeta(new Meta(5, 1, 0, 0, 0, 0, Capacity.DEFAULT));
    t.restoreLock("l", 1);
    t.restoreHolder(new Holder("l", "k", 5, 42, "", 0, 0, 0, "c", 1, 1));
    assertThrows(IllegalStateException.class, t::finishRestore);
    // a lock with no holder and no waiter
    LockTable u = new LockTable();
    u.restoreLock("l", 1);
    assertThrows(IllegalStateException.class, u::finishRestore);
    // an outcome of a request its client settled
    LockTable v = new LockTable();
    v.restoreClient(new ClientMarks("c", 10, 0, List.of(), -1));
    v.restoreOutcome("c", 5, 0, true, Result.DONE);
    assertThrows(IllegalStateException.class, v::finishRestore);
  }
}
