package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.hasp.statemachine.core.Recorder.Granted;
import io.hasp.statemachine.core.Recorder.Ref;
import io.hasp.statemachine.core.Recorder.Released;
import io.hasp.statemachine.core.Recorder.Removed;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random histories of every command, checked after every step against the table's own invariants and, more
 * to the point, against an independent model built only from results and events: at most size holders,
 * fencing tokens strictly increasing, FIFO grants, nothing left of a dead session, no second grant for a
 * retried request, and the same state after a round trip through the store.
 *
 * <p>Seeded: a failure names its seed; rerun it with {@code -Dhasp.seed=N} (also {@code N,M} or {@code FROM..TO},
 * and {@code -Dhasp.steps=N} for longer histories).
 */
class LockTableRandomizedTest {

  private static final int STEPS = Integer.getInteger("hasp.steps", 3_000);
  private static final int ROUND_TRIP_EVERY = 150;
  private static final int TWIN_STEPS = 25;

  static LongStream seeds() {
    String chosen = System.getProperty("hasp.seed"); // "N", "N,M,..." or "FROM..TO"
    if (chosen != null) {
      if (chosen.contains("..")) {
        String[] range = chosen.split("\\.\\.");
        return LongStream.rangeClosed(Long.parseLong(range[0].trim()), Long.parseLong(range[1].trim()));
      }
      return Stream.of(chosen.split(",")).mapToLong(x -> Long.parseLong(x.trim()));
    }
    return LongStream.of(1, 2, 3, 42, 20240611, 0x5eed_cafeL);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void randomHistory(long seed) {
    Run run = new Run(seed);
    try {
      run.run(STEPS);
      // the history must have exercised what it checks
      for (String what : List.of("grant", "waiterGrant", "queued", "LEASE_EXPIRED", "SESSION_ENDED", "UNLOCK",
          "FLUSHED", "ABANDONED", "LOCK_WAIT_TIMEOUT", "WAIT_CANCELLED", "SESSION_EXPIRED", "replay", "lateCopy",
          "failure", "roundTrip", "superseded", "detachedGrant", "termRefused", "lazyRefresh", "settled",
          "probedFail")) {
        assertTrue(run.stats.getOrDefault(what, 0) > 0, "the history never produced " + what + ": " + run.stats);
      }
    } catch (Throwable t) {
      throw new AssertionError("randomized lock table test failed: seed=" + seed + " step=" + run.step
          + " (rerun with -Dhasp.seed=" + seed + ")\nlast command: " + run.lastCommand, t);
    }
    System.out.println("seed " + seed + ": " + run.stats);
  }

  private static final class Run {
    private static final String[] NAMES = {"a", "b", "c", "dir/x", "é-ü", "k"};
    private static final long[] PREFERRED_SIZE = {1, 2, 1, 3, 1, 2};
    private static final String[] CLIENTS = {"c1", "c2", "c3"};

    final Random rnd;
    final Map<String, Integer> stats = new TreeMap<>();
    Harness h = new Harness();
    Twins twins;
    int twinStepsLeft;
    int step;
    Command lastCommand;

    long now = Harness.T0;
    long lastNow; // the table's clock as this test expects it
    final Map<String, Long> nextRequestId = new HashMap<>();
    int keyCounter;

    // ---- the model, built from results and events only ----
    final Map<String, List<Holder>> holders = new HashMap<>();
    final Map<String, ArrayDeque<Waiter>> queues = new HashMap<>();
    final Map<String, Long> sizes = new HashMap<>();
    final Map<Ref, Waiter> waitingByRef = new HashMap<>();
    final Map<String, Long> lastTokenOfLock = new HashMap<>();
    long lastToken;
    long lastSeq;
    final Map<Ref, Long> grantedTokenByRef = new HashMap<>();
    final Set<Long> liveSessions = new TreeSet<>();
    final List<Long> deadSessions = new ArrayList<>();
    /** Every request issued with an identity, for retries. */
    final List<Command> issued = new ArrayList<>();
    /** Per client: the ids of its requests that still wait (in flight); every other issued request is answered. */
    final Map<String, TreeSet<Long>> inFlight = new HashMap<>();
    /** The term of the last Refresh applied, and the current term (a new leader bumps it before its Refresh). */
    long refreshedTerm;

    Run(long seed) {
      rnd = new Random(seed);
      h.fullCheckEvery = 50;
    }

    void run(int steps) {
      for (step = 0; step < steps; step++) {
        if (twins == null && step > 0 && step % ROUND_TRIP_EVERY == 0) {
          twins = Twins.of(h, rnd.nextLong());
          count("roundTrip");
          twinStepsLeft = TWIN_STEPS;
        }
        oneStep();
        if (twins != null && --twinStepsLeft == 0) {
          h = twins.restored; // carry on with the restored table
          twins = null;
        }
      }
    }

    // ------------------------------------------------------------------------------------------------
    // One step: generate, predict, apply, check
    // ------------------------------------------------------------------------------------------------

    /** What the step expects, where it can say so in advance. */
    private Result expected;
    /** The step's result must be a failure with one of these codes (null: no constraint). */
    private Set<ErrorCode> expectFailure;
    private boolean isReplay;
    /** The step's result must be of this type (null: no constraint). */
    private Class<?> expectKind;

    void oneStep() {
      expectKind = null;
      expected = null;
      expectFailure = null;
      isReplay = false;
      now += 10 * rnd.nextInt(12); // multiples of 10 ms: deadlines often fall exactly on a step's time
      if (rnd.nextInt(500) == 0) {
        now += Capacity.DEFAULT.sessionlessOutcomeRetentionMs() + rnd.nextInt(1_000);
      }
      if (rnd.nextInt(150) == 0) {
        h.term++; // a new leader: its Expires are refused until its Refresh is applied
        if (twins != null) {
          twins.restored.term = h.term;
        }
      }
      long stamp = rnd.nextInt(25) == 0 ? now - 10 * rnd.nextInt(200) : now;
      Command command = generate(stamp);
      lastCommand = command;
      long appliedNow = Math.max(stamp, lastNow);
      Meta metaBefore = h.table.meta();
      long termBefore = h.term;
      Map<Long, Session> sessionsBefore = new HashMap<>();
      for (long id : liveSessions) {
        sessionsBefore.put(id, h.table.session(id));
      }
      Set<String> lockedBefore = new HashSet<>();
      holders.forEach((n, l) -> {
        if (!l.isEmpty()) {
          lockedBefore.add(n);
        }
      });

      // A TryLock the table says would fail (answered from a read, without a log entry) must fail when applied.
      boolean probedFail = command instanceof Command.Acquire probe && h.table.tryLockFailsNow(probe);
      Result result = twins != null ? twins.apply(command) : h.apply(command);
      if (probedFail) {
        count("probedFail");
        assertTrue(((Command.Acquire) command).tryOnly(), "only a TryLock may be answered from a read: " + command);
        assertInstanceOf(Result.NotAcquired.class, result, "the read said this TryLock fails: " + command + " -> " + result);
      }
      Recorder rec = h.rec;
      long index = h.index;
      if (isReplay) {
        count("replay");
      }
      if (result instanceof Result.Failure f) {
        count("failure");
        if (f.message().contains("a late copy")) {
          count("lateCopy");
        }
        if (command instanceof Command.Expire) {
          count("termRefused");
        }
      } else if (result instanceof Result.Granted && !isReplay) {
        count("grant");
      } else if (result instanceof Result.Queued && !isReplay) {
        count("queued");
      }
      for (Object event : rec.events) {
        if (event instanceof Released r) {
          count(r.reason().name());
        } else if (event instanceof Removed r) {
          count(r.reason().name());
          if (command instanceof Command.Acquire) {
            count("superseded");
          }
        } else {
          count("waiterGrant");
          if (((Granted) event).waiter().detached()) {
            count("detachedGrant");
          }
        }
      }
      if (command instanceof Command.Expire && !(result instanceof Result.Failure)
          && rec.ops.stream().anyMatch(op -> op.startsWith("putHolder") || op.startsWith("putSession"))) {
        count("lazyRefresh"); // a deadline a Refresh had extended came due and was moved
      }
      if (rec.ops.stream().anyMatch(op -> op.startsWith("deleteOutcome")) && !(command instanceof Command.Expire)) {
        count("settled");
      }

      // ---- time, and failures change nothing (but the settle mark their request carried) ----
      if (result instanceof Result.Failure) {
        assertEquals(metaBefore, h.table.meta(), "a failure changed meta");
        assertTrue(rec.ops.stream().allMatch(op -> op.startsWith("deleteOutcome") || op.startsWith("putClient")),
            "a failure recorded changes: " + rec.ops);
        assertEquals(List.of(), rec.events, "a failure produced events");
      } else {
        assertEquals(appliedNow, h.table.meta().lastNowMs(), "the table's clock");
        lastNow = appliedNow;
      }
      if (expectFailure != null) {
        Result.Failure f = assertInstanceOf(Result.Failure.class, result, "expected a failure");
        assertTrue(expectFailure.contains(f.code()), "expected one of " + expectFailure + ", got " + f);
      }
      if (expected != null) {
        assertEquals(expected, result, "result");
      }
      if (expectKind != null) {
        assertInstanceOf(expectKind, result, "result kind");
      }
      if (!isReplay && command instanceof Command.Renew r && result instanceof Result.Renewed renewed) {
        assertEquals(appliedNow + r.leaseMs(), renewed.holder().expiresAtMs(), "renewed deadline");
        assertEquals(r.leaseMs(), renewed.holder().leaseMs());
      }
      if (command instanceof Command.Expire) {
        assertEquals(termBefore == metaBefore.refreshedTerm(), !(result instanceof Result.Failure),
            "an Expire must apply exactly in the term of the last Refresh");
      }
      if (command instanceof Command.Refresh && !(result instanceof Result.Failure)) {
        refreshedTerm = h.term;
        assertEquals(h.term, h.table.meta().refreshedTerm());
        assertEquals(appliedNow, h.table.meta().refreshedAtMs());
      }
      if (command instanceof Command.KeepAlive k && result instanceof Result.SessionState kept) {
        Session before = sessionsBefore.get(k.sessionId());
        assertEquals(Math.max(before.expiresAtMs(), appliedNow + before.ttlMs()), kept.session().expiresAtMs());
      }
      if (isReplay) {
        assertEquals(List.of(), rec.opsBesideMeta(), "a retried request changed records");
        assertEquals(List.of(), rec.events, "a retried request produced events");
      }

      // ---- events, in order ----
      for (Object event : rec.events) {
        if (event instanceof Released r) {
          Holder held = r.holder();
          List<Holder> list = holders.get(held.name());
          assertNotNull(list, "released a holder of an unknown lock");
          assertTrue(list.removeIf(x -> x.key().equals(held.key()) && x.token() == held.token()),
              "released a holder the model does not know: " + held);
          checkReleaseReason(command, r, appliedNow, sessionsBefore, metaBefore);
        } else if (event instanceof Removed r) {
          Waiter w = r.waiter();
          ArrayDeque<Waiter> q = queues.get(w.name());
          assertTrue(q != null && q.remove(w), "removed a waiter the model does not know: " + w);
          waitingByRef.remove(new Ref(w.clientId(), w.requestId()));
          answered(w.clientId(), w.requestId());
          checkRemoveReason(command, r, appliedNow, sessionsBefore);
          Recorder.StoredOutcome answer = rec.outcomes.get(new Ref(w.clientId(), w.requestId()));
          assertNotNull(answer, "a removed waiter's retry has no answer");
          assertEquals(r.reason(), assertInstanceOf(Result.Failure.class, answer.result()).code());
        } else if (event instanceof Granted g) {
          Waiter w = g.waiter();
          ArrayDeque<Waiter> q = queues.get(w.name());
          assertNotNull(q, "granted a waiter of an unknown queue");
          assertEquals(q.peekFirst(), w, "FIFO: granted a waiter that is not first in its queue");
          q.pollFirst();
          waitingByRef.remove(new Ref(w.clientId(), w.requestId()));
          answered(w.clientId(), w.requestId());
          Holder holder = g.holder();
          assertEquals(w.key(), holder.key());
          assertEquals(w.detached() ? 0 : w.sessionId(), holder.sessionId());
          assertEquals(w.attempt(), holder.attempt());
          assertEquals(w.clientId(), holder.clientId());
          assertEquals(w.requestId(), holder.requestId());
          assertEquals(w.leaseMs(), holder.leaseMs());
          assertEquals(w.leaseMs() > 0 ? appliedNow + w.leaseMs() : 0, holder.expiresAtMs());
          assertEquals(appliedNow, holder.acquiredAtMs());
          assertEquals((long) sizes.get(w.name()), g.size());
          // the granted waiter's retry finds its live hold
          assertEquals(holder, h.table.holderOf(w.clientId(), w.requestId()) == null ? holder
              : h.table.holderOf(w.clientId(), w.requestId()).withLease(holder.leaseMs(), holder.expiresAtMs()),
              "a granted waiter's retry has no answer");
          assertFalse(command instanceof Command.Acquire || command instanceof Command.Renew
              || command instanceof Command.OpenSession || command instanceof Command.KeepAlive
              || command instanceof Command.Refresh,
              "a grant to a waiter without any slot freed");
          recordGrant(holder, index);
        } else {
          fail("unknown event " + event);
        }
      }
      for (String op : rec.ops) {
        if (op.startsWith("deleteSession ")) {
          long id = Long.parseLong(op.substring("deleteSession ".length()));
          assertTrue(liveSessions.remove(id), "deleted a session the model does not know");
          deadSessions.add(id);
        }
      }

      // ---- the result itself ----
      if (!isReplay) {
        if (result instanceof Result.Granted g) {
          Command.Acquire a = (Command.Acquire) command;
          Holder holder = g.holder();
          assertEquals(a.key(), holder.key());
          assertEquals(appliedNow, holder.acquiredAtMs());
          assertEquals(a.leaseMs() > 0 ? appliedNow + a.leaseMs() : 0, holder.expiresAtMs());
          if (!sizes.containsKey(a.name())) {
            sizes.put(a.name(), a.size());
          }
          assertEquals((long) sizes.get(a.name()), g.size());
          recordGrant(holder, index);
        } else if (result instanceof Result.Queued q) {
          Waiter w = q.waiter();
          inFlight.computeIfAbsent(w.clientId(), c -> new TreeSet<>()).add(w.requestId());
          assertTrue(w.seq() > lastSeq, "waiter seq not increasing");
          lastSeq = w.seq();
          assertEquals(sizes.get(w.name()), (Long) w.size());
          assertEquals(sizes.get(w.name()), (long) holders.get(w.name()).size(), "queued on a lock with a free slot");
          Command.Acquire a = (Command.Acquire) command;
          assertEquals(a.waitTimeoutMs() > 0 ? appliedNow + a.waitTimeoutMs() : 0, w.waitDeadlineMs());
          queues.computeIfAbsent(w.name(), n -> new ArrayDeque<>()).addLast(w);
          waitingByRef.put(new Ref(w.clientId(), w.requestId()), w);
        } else if (result instanceof Result.SessionState s && command instanceof Command.OpenSession o) {
          assertEquals(index, s.session().id(), "session id is the log index");
          assertEquals(appliedNow + o.ttlMs(), s.session().expiresAtMs());
          liveSessions.add(s.session().id());
        }
      }
      if (command instanceof Command.Flush && result instanceof Result.Names n && !isReplay) {
        Command.Flush f = (Command.Flush) command;
        TreeSet<String> want = new TreeSet<>();
        for (String name : f.names().isEmpty() ? lockedBefore : new HashSet<>(f.names())) {
          if (lockedBefore.contains(name)) {
            want.add(name);
          }
        }
        assertEquals(new ArrayList<>(want), n.names(), "flushed names");
      }
      if (command instanceof Command.Expire e && e.maxItems() >= 1_000 && !(result instanceof Result.Failure)) {
        checkNothingDue(appliedNow);
      }
      // forget sizes of locks that are gone
      for (String name : NAMES) {
        if (holders.getOrDefault(name, List.of()).isEmpty() && queues.getOrDefault(name, new ArrayDeque<>()).isEmpty()) {
          sizes.remove(name);
        }
      }
      compareModel();
    }

    private void count(String what) {
      stats.merge(what, 1, Integer::sum);
    }

    private void recordGrant(Holder holder, long index) {
      String name = holder.name();
      assertTrue(holder.token() > lastToken, "token not above every earlier token");
      assertTrue(holder.token() >= index, "token below the log index");
      assertTrue(holder.token() > lastTokenOfLock.getOrDefault(name, 0L), "token of the lock not increasing");
      lastToken = holder.token();
      lastTokenOfLock.put(name, holder.token());
      Ref ref = new Ref(holder.clientId(), holder.requestId());
      if (!holder.clientId().isEmpty() && holder.requestId() != 0) {
        assertNull(grantedTokenByRef.put(ref, holder.token()), "a second grant for request " + ref);
      }
      List<Holder> list = holders.computeIfAbsent(name, n -> new ArrayList<>());
      list.add(holder);
      assertTrue(list.size() <= sizes.get(name), "more holders than the size of " + name);
      if (holder.sessionId() != 0) {
        assertTrue(liveSessions.contains(holder.sessionId()), "granted to a dead session");
      }
    }

    private void checkReleaseReason(Command c, Released r, long appliedNow, Map<Long, Session> sessionsBefore,
        Meta metaBefore) {
      switch (r.reason()) {
        case UNLOCK -> assertInstanceOf(Command.Release.class, c);
        case FLUSHED -> assertInstanceOf(Command.Flush.class, c);
        case ABANDONED -> {
          Command.Abandon a = assertInstanceOf(Command.Abandon.class, c);
          assertEquals(new Ref(a.origin().clientId(), a.targetRequestId()),
              new Ref(r.holder().clientId(), r.holder().requestId()), "abandoned the wrong grant");
          assertTrue(r.holder().attempt() <= a.upToAttempt(), "abandoned a newer attempt's grant");
        }
        case LEASE_EXPIRED -> {
          assertInstanceOf(Command.Expire.class, c, "a lease expired without an Expire");
          long effective = Math.max(r.holder().expiresAtMs(), metaBefore.refreshedAtMs() + r.holder().leaseMs());
          assertTrue(r.holder().hasLease() && effective <= appliedNow,
              "lease expired before its deadline (or before the last Refresh's time + lease): " + r.holder() + " at "
                  + appliedNow);
        }
        case SESSION_ENDED -> {
          if (c instanceof Command.CloseSession close) {
            assertEquals(close.sessionId(), r.holder().sessionId());
          } else {
            assertInstanceOf(Command.Expire.class, c, "a session ended without close or expiry");
            assertTrue(sessionsBefore.get(r.holder().sessionId()).expiresAtMs() <= appliedNow,
                "session expired before its deadline");
          }
        }
        default -> fail("unknown reason " + r.reason());
      }
    }

    private void checkRemoveReason(Command c, Removed r, long appliedNow, Map<Long, Session> sessionsBefore) {
      switch (r.reason()) {
        case WAIT_CANCELLED -> {
          if (c instanceof Command.Acquire newer) {
            // superseded by a newer acquire of the same session and thread on the same lock
            assertEquals(newer.sessionId(), r.waiter().sessionId(), "superseded a waiter of another session");
            assertEquals(newer.threadId(), r.waiter().threadId(), "superseded a waiter of another thread");
            assertTrue(newer.threadId() != 0 && newer.name().equals(r.waiter().name()));
          } else {
            Command.Abandon a = assertInstanceOf(Command.Abandon.class, c);
            assertEquals(new Ref(a.origin().clientId(), a.targetRequestId()),
                new Ref(r.waiter().clientId(), r.waiter().requestId()), "abandoned the wrong waiter");
            assertTrue(r.waiter().attempt() <= a.upToAttempt(), "abandoned a newer attempt");
          }
        }
        case LOCK_WAIT_TIMEOUT -> {
          assertInstanceOf(Command.Expire.class, c, "a wait timed out without an Expire");
          assertTrue(r.waiter().waitDeadlineMs() > 0 && r.waiter().waitDeadlineMs() <= appliedNow,
              "wait timed out before its deadline");
        }
        case SESSION_EXPIRED -> {
          if (c instanceof Command.CloseSession close) {
            assertEquals(close.sessionId(), r.waiter().sessionId());
          } else {
            assertInstanceOf(Command.Expire.class, c);
            assertTrue(sessionsBefore.get(r.waiter().sessionId()).expiresAtMs() <= appliedNow,
                "session expired before its (effective) deadline");
          }
        }
        default -> fail("unexpected removal reason " + r.reason());
      }
    }

    /** After a full Expire nothing due at its time is left. */
    private void checkNothingDue(long appliedNow) {
      for (LockView v : h.table.list("", "", Integer.MAX_VALUE)) {
        for (Holder holder : h.table.getLock(v.name()).holders()) {
          assertTrue(!holder.hasLease() || holder.expiresAtMs() > appliedNow, "an overdue lease survived Expire");
        }
      }
      for (ArrayDeque<Waiter> q : queues.values()) {
        for (Waiter w : q) {
          assertTrue(w.waitDeadlineMs() == 0 || w.waitDeadlineMs() > appliedNow, "an overdue waiter survived Expire");
        }
      }
      for (long id : liveSessions) {
        assertTrue(h.table.session(id).expiresAtMs() > appliedNow, "an overdue session survived Expire");
      }
    }

    /** The table agrees with the model. */
    private void compareModel() {
      LockTable t = h.table;
      Set<String> names = new TreeSet<>(holders.keySet());
      names.addAll(queues.keySet());
      t.list("", "", Integer.MAX_VALUE).forEach(v -> names.add(v.name()));
      int lockCount = 0;
      for (String name : names) {
        List<Holder> hs = holders.getOrDefault(name, List.of());
        ArrayDeque<Waiter> q = queues.getOrDefault(name, new ArrayDeque<>());
        LockView v = t.getLock(name);
        if (hs.isEmpty() && q.isEmpty()) {
          assertNull(v, "lock without holders or waiters kept: " + name);
          continue;
        }
        lockCount++;
        assertNotNull(v, "lock missing: " + name);
        assertEquals((long) sizes.get(name), v.size());
        assertTrue(hs.size() <= v.size(), "more holders than size");
        assertTrue(q.isEmpty() || hs.size() == v.size(), "waiters while a slot is free");
        assertEquals(hs.size(), v.holders().size(), "holders of " + name);
        assertEquals(hs.size(), v.holderCount(), "holder count of " + name);
        for (int i = 0; i < hs.size(); i++) {
          Holder mine = hs.get(i);
          Holder theirs = v.holders().get(i);
          assertEquals(mine.key(), theirs.key(), "holder order of " + name);
          assertEquals(mine.token(), theirs.token());
          assertEquals(mine.sessionId(), theirs.sessionId());
          assertTrue(mine.sessionId() == 0 || liveSessions.contains(mine.sessionId()), "holder of a dead session");
        }
        assertEquals(q.size(), v.waiters(), "waiters of " + name);
        for (Waiter w : q) {
          assertEquals(w.withAttempt(0), t.waiter(w.clientId(), w.requestId()).withAttempt(0));
          assertTrue(w.sessionId() == 0 || liveSessions.contains(w.sessionId()), "waiter of a dead session");
        }
      }
      assertEquals(lockCount, t.lockCount());
      assertEquals(liveSessions.size(), t.sessionCount());
      for (long id : liveSessions) {
        assertNotNull(t.session(id));
      }
      for (long id : deadSessions) {
        assertNull(t.session(id));
      }
      assertEquals(lastToken, t.meta().lastToken());
    }

    // ------------------------------------------------------------------------------------------------
    // Generating commands (with what the model predicts)
    // ------------------------------------------------------------------------------------------------

    private Command generate(long stamp) {
      int p = rnd.nextInt(100);
      if (p < 10) {
        Command replay = replay(stamp);
        if (replay != null) {
          return replay;
        }
      }
      if (p < 32) {
        return acquire(stamp, false);
      }
      if (p < 42) {
        return acquire(stamp, true);
      }
      if (p < 55) {
        return release(stamp);
      }
      if (p < 61) {
        return renew(stamp);
      }
      if (p < 63) {
        return flush(stamp);
      }
      if (p < 67) {
        return openSession(stamp);
      }
      if (p < 74) {
        return keepAlive(stamp);
      }
      if (p < 77) {
        return closeSession(stamp);
      }
      if (p < 80) {
        return abandon(stamp);
      }
      if (p < 93) {
        return new Command.Expire(stamp, rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(3) : Limits.EXPIRIES_PER_TICK_MAX);
      }
      if (p < 95 || h.term != refreshedTerm && p < 98) {
        return new Command.Refresh(stamp, Capacity.DEFAULT);
      }
      return invalid(stamp);
    }

    private String client() {
      return CLIENTS[rnd.nextInt(CLIENTS.length)];
    }

    private long nextRequest(String client) {
      return nextRequestId.merge(client, 1L, Long::sum);
    }

    /**
     * A new request's origin. Half of them carry the client's settle mark (everything below its oldest request
     * still in flight, as the real client computes it), so outcomes get forgotten and late copies refused.
     */
    private Origin origin(String client) {
      long id = nextRequest(client);
      TreeSet<Long> open = inFlight.getOrDefault(client, new TreeSet<>());
      long mark = rnd.nextBoolean() ? 0 : (open.isEmpty() ? id - 1 : open.first() - 1);
      return new Origin(client, id, mark);
    }

    private void answered(String client, long requestId) {
      TreeSet<Long> open = inFlight.get(client);
      if (open != null) {
        open.remove(requestId);
      }
    }

    /** True when the client settled the request, by the marks the table holds for it. */
    private boolean settledByMarks(Ref ref) {
      ClientMarks m = h.rec.clients.get(ref.clientId());
      return m != null && (ref.requestId() <= m.settledUpTo()
          || (ref.requestId() <= m.keptUpTo() && !m.keptUnsettled().contains(ref.requestId())));
    }

    private <T extends Command> T remember(T c) {
      issued.add(c);
      return c;
    }

    private String anyName() {
      return NAMES[rnd.nextInt(NAMES.length)];
    }

    private long preferredSize(String name) {
      for (int i = 0; i < NAMES.length; i++) {
        if (NAMES[i].equals(name)) {
          return PREFERRED_SIZE[i];
        }
      }
      throw new IllegalArgumentException(name);
    }

    private <T> T pick(List<T> list) {
      return list.get(rnd.nextInt(list.size()));
    }

    private List<Holder> allHolders() {
      List<Holder> all = new ArrayList<>();
      for (String name : NAMES) {
        all.addAll(holders.getOrDefault(name, List.of()));
      }
      return all;
    }

    private List<Waiter> allWaiters() {
      List<Waiter> all = new ArrayList<>();
      for (String name : NAMES) {
        all.addAll(queues.getOrDefault(name, new ArrayDeque<>()));
      }
      return all;
    }

    private long sessionForAcquire() {
      int r = rnd.nextInt(100);
      if (r < 35 && !liveSessions.isEmpty()) {
        return pick(new ArrayList<>(liveSessions));
      }
      if (r < 38) {
        return deadSessions.isEmpty() || rnd.nextBoolean() ? 999_999_999L : pick(deadSessions);
      }
      return 0;
    }

    private Command acquire(long stamp, boolean tryOnly) {
      // now and then the same waiting party (session, thread) asks again: it supersedes its older waiter
      List<Waiter> parties = allWaiters().stream().filter(w -> w.threadId() != 0).toList();
      Waiter party = !tryOnly && !parties.isEmpty() && rnd.nextInt(4) == 0 ? pick(parties) : null;
      String name = party != null ? party.name() : anyName();
      long size = rnd.nextInt(20) == 0 ? 1 + rnd.nextInt(3) : preferredSize(name);
      List<Holder> hs = holders.getOrDefault(name, List.of());
      ArrayDeque<Waiter> q = queues.getOrDefault(name, new ArrayDeque<>());
      String key;
      int k = rnd.nextInt(20);
      if (k == 0 && (!hs.isEmpty() || !q.isEmpty())) {
        List<String> keys = new ArrayList<>();
        hs.forEach(x -> keys.add(x.key()));
        q.forEach(x -> keys.add(x.key()));
        key = pick(keys);
      } else if (k == 1 && keyCounter > 0) {
        key = "k" + rnd.nextInt(keyCounter);
      } else {
        key = "k" + keyCounter++;
      }
      long lease = rnd.nextBoolean() ? 0 : 100 + 10 * rnd.nextInt(300);
      long wait;
      int w = rnd.nextInt(10);
      if (w < 4) {
        wait = -1;
      } else if (w < 5) {
        wait = 0;
      } else {
        wait = 50 + 10 * rnd.nextInt(300);
      }
      long session = party != null ? party.sessionId() : sessionForAcquire();
      String client = client();
      boolean detached = session != 0 && lease > 0 && rnd.nextInt(4) == 0;
      long thread = party != null ? party.threadId() : session != 0 && rnd.nextBoolean() ? 1 : 0;
      if (party != null) {
        size = sizes.get(name);
        wait = -1;
      }
      String sessionKey = session == 0 ? "" : h.keyOf(session);
      if (session != 0 && liveSessions.contains(session) && rnd.nextInt(40) == 0) {
        sessionKey = "stolen"; // someone else's session
      }
      Command.Acquire a = remember(new Command.Acquire(stamp, origin(client), name, size, lease, wait, tryOnly,
          session, sessionKey, detached, thread, 1 + rnd.nextInt(2), "owner-" + client, key));
      // the model's prediction, in the table's documented order of checks
      boolean exists = !hs.isEmpty() || !q.isEmpty();
      boolean keyTaken = hs.stream().anyMatch(x -> x.key().equals(key)) || q.stream().anyMatch(x -> x.key().equals(key));
      if (session != 0 && !liveSessions.contains(session)) {
        expectFailure = Set.of(ErrorCode.SESSION_EXPIRED);
      } else if (session != 0 && sessionKey.equals("stolen")) {
        expectFailure = Set.of(ErrorCode.PERMISSION_DENIED);
      } else if (exists && sizes.get(name) != size) {
        expectFailure = Set.of(ErrorCode.LOCK_SIZE_MISMATCH);
      } else if (keyTaken) {
        expectFailure = Set.of(ErrorCode.INVALID_KEY);
      } else if (!exists || (hs.size() < sizes.get(name) && q.isEmpty())) {
        expectKind = Result.Granted.class;
      } else if (tryOnly || wait == 0) {
        expected = new Result.NotAcquired(name);
      } else {
        expectKind = Result.Queued.class;
      }
      return a;
    }

    private Command release(long stamp) {
      String client = client();
      List<Holder> all = allHolders();
      String name;
      String key;
      if (!all.isEmpty() && rnd.nextInt(10) < 8) {
        Holder x = pick(all);
        name = x.name();
        key = x.key();
        expected = Result.DONE;
      } else {
        name = anyName();
        key = "k" + rnd.nextInt(keyCounter + 1);
        List<Holder> hs = holders.getOrDefault(name, List.of());
        boolean exists = !hs.isEmpty() || !queues.getOrDefault(name, new ArrayDeque<>()).isEmpty();
        if (!exists) {
          expectFailure = Set.of(ErrorCode.LOCK_NOT_FOUND);
        } else if (hs.stream().noneMatch(x -> x.key().equals(key))) {
          expectFailure = Set.of(ErrorCode.INVALID_KEY);
        } else {
          expected = Result.DONE;
        }
      }
      return remember(new Command.Release(stamp, origin(client), name, key));
    }

    private Command renew(long stamp) {
      String client = client();
      List<Holder> all = allHolders();
      long lease = 100 + 10 * rnd.nextInt(300);
      Command.Renew r;
      if (!all.isEmpty() && rnd.nextInt(10) < 8) {
        Holder x = pick(all);
        r = new Command.Renew(stamp, origin(client), x.name(), x.key(), lease);
        expectKind = Result.Renewed.class;
      } else {
        String name = anyName();
        r = new Command.Renew(stamp, origin(client), name, "k" + rnd.nextInt(keyCounter + 1), lease);
      }
      return remember(r);
    }

    private Command flush(long stamp) {
      String client = client();
      List<String> names = new ArrayList<>();
      if (rnd.nextBoolean()) {
        int n = 1 + rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
          names.add(anyName());
        }
      }
      return remember(new Command.Flush(stamp, origin(client), names, ""));
    }

    private Command openSession(long stamp) {
      String client = client();
      return remember(new Command.OpenSession(stamp, origin(client), 1_000 + 10 * rnd.nextInt(400), client,
          "secret-" + rnd.nextInt(1_000_000)));
    }

    private long someSession() {
      if (!liveSessions.isEmpty() && rnd.nextInt(10) < 8) {
        return pick(new ArrayList<>(liveSessions));
      }
      return deadSessions.isEmpty() ? 123_456 : pick(deadSessions);
    }

    private Command keepAlive(long stamp) {
      String client = client();
      long id = someSession();
      if (!liveSessions.contains(id)) {
        expectFailure = Set.of(ErrorCode.SESSION_EXPIRED);
      } else {
        expectKind = Result.SessionState.class;
      }
      // the precise mark: everything issued so far is settled but what is still in flight
      long id2 = nextRequest(client);
      Origin o = new Origin(client, id2, rnd.nextBoolean() ? 0 : id2 - 1);
      return new Command.KeepAlive(stamp, o, id, h.keyOf(id), List.copyOf(inFlight.getOrDefault(client,
          new TreeSet<>())));
    }

    private Command closeSession(long stamp) {
      String client = client();
      long id = someSession();
      if (!liveSessions.contains(id)) {
        expectFailure = Set.of(ErrorCode.SESSION_EXPIRED);
      } else {
        TreeSet<String> names = new TreeSet<>();
        for (Holder x : allHolders()) {
          if (x.sessionId() == id) {
            names.add(x.name());
          }
        }
        expected = new Result.Names(new ArrayList<>(names), names.size(), "");
      }
      return remember(new Command.CloseSession(stamp, origin(client), id, h.keyOf(id)));
    }

    /** The client gives up on a waiting request, on a granted one (a race), or on one never seen. */
    private Command abandon(long stamp) {
      List<Waiter> waiting = allWaiters();
      List<Holder> granted = new ArrayList<>();
      for (Holder x : allHolders()) {
        if (!x.clientId().isEmpty()) {
          granted.add(x);
        }
      }
      long upTo = rnd.nextInt(4) == 0 ? 1 : Long.MAX_VALUE; // a node ending attempt 1's call, or the client
      int r = rnd.nextInt(10);
      if (r < 5 && !waiting.isEmpty()) {
        Waiter w = pick(waiting);
        answeredLater(w.clientId(), w.requestId(), upTo);
        return new Command.Abandon(stamp, Origin.of(w.clientId(), 0), w.requestId(), upTo);
      }
      if (r < 8 && !granted.isEmpty()) {
        Holder x = pick(granted);
        return new Command.Abandon(stamp, Origin.of(x.clientId(), 0), x.requestId(), upTo);
      }
      // a request the client issued earlier (a client never abandons an id it has not used yet)
      String c = client();
      long issuedSoFar = nextRequestId.getOrDefault(c, 0L);
      if (issuedSoFar == 0) {
        return new Command.Expire(stamp, Limits.EXPIRIES_PER_TICK_MAX);
      }
      expectKind = Result.Abandoned.class;
      return new Command.Abandon(stamp, Origin.of(c, 0), 1 + rnd.nextLong(issuedSoFar), upTo);
    }

    /** An unconditional abandon answers the request (the client then settles it). */
    private void answeredLater(String client, long requestId, long upTo) {
      if (upTo == Long.MAX_VALUE) {
        answered(client, requestId);
      }
    }

    private Command invalid(long stamp) {
      String client = client();
      long req = nextRequest(client);
      switch (rnd.nextInt(7)) {
        case 0:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.Acquire(stamp, Origin.of(client, req), pick(List.of("", "x\u0000", "a".repeat(513),
              "\uD800")), 1, 0, -1, false, 0, "", false, 0, 1, "", "k");
        case 1:
          expectFailure = Set.of(ErrorCode.INVALID_SIZE);
          return new Command.Acquire(stamp, Origin.of(client, req), anyName(), pick(List.of(0L, -1L, 1_000_001L)), 0,
              -1, rnd.nextBoolean(), 0, "", false, 0, 1, "", "k");
        case 2:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.Release(stamp, Origin.of(client, req), "bad\n", "k");
        case 3:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.Renew(stamp, Origin.of(client, req), anyName(), "k", pick(List.of(0L, -10L)));
        case 4:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.OpenSession(stamp, Origin.of(client, req), pick(List.of(0L, 999L, 3_600_001L)), "", "k");
        case 5:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.Flush(stamp, Origin.of(client, req), List.of(anyName(), ""), "");
        default:
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
          return new Command.Acquire(stamp, Origin.of(client, req), anyName(), 1, -5, -1, false, 0, "", false, 0, 1,
              "", "k");
      }
    }

    /**
     * A retry of an earlier request: one that still waits, holds, or whose answer the table still remembers (it
     * answers the same), or a late copy of one its client settled (refused).
     */
    private Command replay(long stamp) {
      for (int attempt = 0; attempt < 5 && !issued.isEmpty(); attempt++) {
        Command c = issued.get(issued.size() - 1 - rnd.nextInt(Math.min(issued.size(), 200)));
        Ref ref = new Ref(c.origin().clientId(), c.origin().requestId());
        Waiter w = waitingByRef.get(ref);
        Holder held = h.table.holderOf(ref.clientId(), ref.requestId());
        Recorder.StoredOutcome stored = h.rec.outcomes.get(ref);
        boolean acquire = c instanceof Command.Acquire;
        if (acquire && w != null) {
          expectKind = Result.Queued.class;
        } else if (acquire && held != null) {
          expectKind = Result.Granted.class;
        } else if (stored != null) {
          expected = stored.result();
        } else if (settledByMarks(ref)) {
          expectFailure = Set.of(ErrorCode.INVALID_ARGUMENT);
        } else {
          continue;
        }
        isReplay = true;
        return withNow(c, stamp);
      }
      return null;
    }

    private static Command withNow(Command c, long now) {
      if (c instanceof Command.Acquire a) {
        return new Command.Acquire(now, a.origin(), a.name(), a.size(), a.leaseMs(), a.waitTimeoutMs(), a.tryOnly(),
            a.sessionId(), a.sessionKey(), a.detached(), a.threadId(), a.attempt(), a.owner(), a.key());
      } else if (c instanceof Command.Release r) {
        return new Command.Release(now, r.origin(), r.name(), r.key());
      } else if (c instanceof Command.Renew r) {
        return new Command.Renew(now, r.origin(), r.name(), r.key(), r.leaseMs());
      } else if (c instanceof Command.Flush f) {
        return new Command.Flush(now, f.origin(), f.names(), f.after());
      } else if (c instanceof Command.OpenSession o) {
        return new Command.OpenSession(now, o.origin(), o.ttlMs(), o.owner(), o.key());
      } else if (c instanceof Command.CloseSession s) {
        return new Command.CloseSession(now, s.origin(), s.sessionId(), s.key());
      }
      throw new IllegalArgumentException("not retried: " + c);
    }
  }
}
