package io.hasp.statemachine.core;

import static io.hasp.statemachine.core.Harness.failed;
import static io.hasp.statemachine.core.Harness.granted;
import static io.hasp.statemachine.core.Harness.names;
import static io.hasp.statemachine.core.Harness.notAcquired;
import static io.hasp.statemachine.core.Harness.queued;
import static io.hasp.statemachine.core.Harness.session;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.hasp.statemachine.core.Recorder.Granted;
import io.hasp.statemachine.core.Recorder.Released;
import io.hasp.statemachine.core.Recorder.Removed;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** One test (or table of cases) per rule of DESIGN §2–§3 as the lock table implements it. */
class LockTableRulesTest {

  private Harness h;

  @BeforeEach
  void setUp() {
    h = new Harness();
  }

  /** Some state to compare before and after a rejected command: a held lock with a waiter, a session. */
  private void populate() {
    granted(h.lock("held", 1, "k-held"));
    queued(h.lock("held", 1, "k-waiter"));
    granted(h.lockLeased("sem", 3, "k-sem", 5_000));
    session(h.openSession(2_000));
  }

  /** Applies a command that must fail with {@code code} and change nothing at all. */
  private Result.Failure rejectedWithoutChange(Command command, ErrorCode code) {
    Harness.State before = h.state();
    Result r = h.apply(command);
    Result.Failure f = failed(r, code);
    assertEquals(before, h.state(), "state changed by a rejected command");
    assertEquals(List.of(), h.rec.ops, "a rejected command recorded changes");
    assertEquals(List.of(), h.rec.events, "a rejected command produced events");
    return f;
  }

  private static String repeat(char c, int n) {
    return String.valueOf(c).repeat(n);
  }

  // ------------------------------------------------------------------------------------------------
  // Names
  // ------------------------------------------------------------------------------------------------

  static Stream<Arguments> badNames() {
    return Stream.of(
        Arguments.of("empty", "", "empty"),
        Arguments.of("513 ASCII bytes", repeat('a', 513), "512"),
        Arguments.of("511 ASCII + 2-byte char = 513 bytes", repeat('a', 511) + "é", "512"),
        Arguments.of("509 ASCII + 4-byte char = 513 bytes", repeat('a', 509) + "\uD83D\uDE00", "512"),
        Arguments.of("171 x 3-byte chars = 513 bytes", repeat('€', 171), "512"),
        Arguments.of("NUL", "a\u0000b", "control"),
        Arguments.of("newline", "a\nb", "control"),
        Arguments.of("tab", "\tab", "control"),
        Arguments.of("DEL", "ab\u007f", "control"),
        Arguments.of("C1 control", "a\u0085", "control"),
        Arguments.of("lone high surrogate at end", "abc\uD800", "surrogate"),
        Arguments.of("lone low surrogate", "a\uDC00b", "surrogate"),
        Arguments.of("reversed surrogate pair", "\uDE00\uD83D", "surrogate"));
  }

  /** Every command that takes a lock name rejects each bad name with INVALID_ARGUMENT and changes nothing. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("badNames")
  void invalidNameIsRejectedWithoutStateChange(String label, String name, String messagePart) {
    populate();
    h.now += 1_000; // a later stamp: even the clock must not move for a rejected command
    List<Function<String, Command>> commands = List.of(
        n -> h.acquireCmd(n, 1, "k", 0, -1, false, 0),
        n -> h.acquireCmd(n, 1, "k", 0, -1, true, 0),
        n -> new Command.Release(h.now, h.origin(), n, "k-held"),
        n -> new Command.Renew(h.now, h.origin(), n, "k-held", 1_000),
        n -> new Command.Flush(h.now, h.origin(), List.of("held", n), ""));
    for (Function<String, Command> make : commands) {
      Command c = make.apply(name);
      Result.Failure f = rejectedWithoutChange(c, ErrorCode.INVALID_ARGUMENT);
      assertTrue(f.message().contains(messagePart), () -> c.getClass().getSimpleName() + ": message '"
          + f.message() + "' should mention " + messagePart);
    }
    Result.Failure direct = Validate.name(name);
    assertNotNull(direct);
    assertEquals(ErrorCode.INVALID_ARGUMENT, direct.code());
  }

  @ParameterizedTest
  @ValueSource(strings = {"a", "x/y:z", "名前", "emoji-\uD83D\uDE00", " spaces are fine "})
  void validNames(String name) {
    assertNull(Validate.name(name));
    granted(h.lock(name, "k"));
    assertTrue(h.table.isLocked(name));
  }

  @Test
  void namesAtTheByteLimitAreAccepted() {
    List<String> atLimit = List.of(
        repeat('a', 512),
        repeat('a', 510) + "é",
        repeat('a', 508) + "\uD83D\uDE00",
        repeat('€', 170) + "ab");
    for (String name : atLimit) {
      assertEquals(512, name.getBytes(StandardCharsets.UTF_8).length);
      assertNull(Validate.name(name), () -> "rejected a 512-byte name");
      granted(h.lock(name, "k"));
      assertNotNull(h.table.getLock(name));
    }
    assertEquals(atLimit.size(), h.table.lockCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Size
  // ------------------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(longs = {0, -1, Long.MIN_VALUE, 1_000_001, Long.MAX_VALUE})
  void invalidSizeIsRejectedWithoutStateChange(long size) {
    populate();
    h.now += 1_000;
    Result.Failure f = rejectedWithoutChange(h.acquireCmd("new", size, "k", 0, -1, false, 0), ErrorCode.INVALID_SIZE);
    assertTrue(f.message().contains("1000000"), f.message());
    // also for an existing lock (size is checked before the mismatch)
    rejectedWithoutChange(h.acquireCmd("held", size, "k", 0, -1, true, 0), ErrorCode.INVALID_SIZE);
  }

  @Test
  void sizeAtTheLimitIsAccepted() {
    Holder holder = granted(h.lock("big", Limits.LOCK_SIZE_MAX, "k"));
    assertEquals(Limits.LOCK_SIZE_MAX, h.table.getLock("big").size());
    assertEquals("big", holder.name());
  }

  @Test
  void sizeMismatchWhileTheLockExistsThenAnySizeAfterItIsDeleted() {
    granted(h.lock("m", 2, "a"));
    rejectedWithoutChange(h.acquireCmd("m", 3, "b", 0, -1, false, 0), ErrorCode.LOCK_SIZE_MISMATCH);
    rejectedWithoutChange(h.acquireCmd("m", 1, "b", 0, -1, true, 0), ErrorCode.LOCK_SIZE_MISMATCH);
    granted(h.lock("m", 2, "b"));
    queued(h.lock("m", 2, "c"));
    // full with a waiter: still a mismatch, and the queue is untouched
    Result.Failure f = rejectedWithoutChange(h.acquireCmd("m", 5, "d", 0, -1, false, 0), ErrorCode.LOCK_SIZE_MISMATCH);
    assertTrue(f.message().contains("2") && f.message().contains("5"), f.message());
    assertEquals(1, h.table.getLock("m").waiters());
    // (a lock with waiters and no holders cannot exist: waiters exist only while the lock is full)
    h.unlock("m", "a");
    h.unlock("m", "b");
    h.unlock("m", "c");
    assertNull(h.table.getLock("m"));
    assertTrue(h.rec.ops.contains("deleteLock m"), h.rec.ops.toString());
    Holder h3 = granted(h.lock("m", 3, "e"));
    assertEquals(3, h.table.getLock("m").size());
    assertEquals("m", h3.name());
  }

  // ------------------------------------------------------------------------------------------------
  // Lifetime of a lock
  // ------------------------------------------------------------------------------------------------

  @Test
  void aTryLockOnAFullLockIsKnownToFailFromTheStateAlone() {
    Command.Acquire tryX = h.acquireCmd("x", 1, "t", 0, 0, true, 0);
    assertFalse(h.table.tryLockFailsNow(tryX), "no lock yet: the try would be granted");
    granted(h.lock("x", "a"));
    assertTrue(h.table.tryLockFailsNow(tryX), "held by another: the try fails");
    assertFalse(h.table.tryLockFailsNow(h.acquireCmd("x", 2, "t", 0, 0, true, 0)), "a size mismatch is an error");
    assertFalse(h.table.tryLockFailsNow(h.acquireCmd("x", 1, "t", 0, -1, false, 0)), "a Lock waits, it never fails");
    assertFalse(h.table.tryLockFailsNow(h.acquireCmd("x", 1, "a", 0, 0, true, 0)), "the holder's own key: an error");
    granted(h.lock("s", 2, "a"));
    assertFalse(h.table.tryLockFailsNow(h.acquireCmd("s", 2, "t", 0, 0, true, 0)), "a free permit: granted");
    granted(h.lock("s", 2, "b"));
    queued(h.lock("s", 2, "c"));
    h.unlock("s", "a"); // c is granted; full again
    assertTrue(h.table.tryLockFailsNow(h.acquireCmd("s", 2, "t", 0, 0, true, 0)));
    assertInstanceOf(Result.NotAcquired.class, h.apply(tryX), "and the log says the same");
  }

  @Test
  void aLockWithoutHoldersOrWaitersIsDeletedAtOnce() {
    granted(h.lock("x", "k"));
    assertEquals(1, h.table.lockCount());
    assertTrue(h.rec.ops.contains("putLock x 1"));
    assertEquals(Result.DONE, h.unlock("x", "k"));
    assertTrue(h.rec.opsBesideMeta().containsAll(List.of("deleteHolder x/k", "deleteLock x")), h.rec.ops.toString());
    assertNull(h.table.getLock("x"));
    assertFalse(h.table.isLocked("x"));
    assertEquals(0, h.table.lockCount());
    assertEquals(0, h.table.holderCount());
    assertEquals(List.of(), h.table.list("", "", 100));
  }

  @Test
  void emptiedByEveryKindOfEndTheLockIsDeleted() {
    // lease expiry
    granted(h.lockLeased("lease", 1, "k", 100));
    // flush
    granted(h.lock("flushed", "k"));
    // session end
    long s = session(h.openSession(1_000)).id();
    granted(h.lockInSession("sess", 1, "k", s));
    h.flush("flushed");
    assertNull(h.table.getLock("flushed"));
    assertTrue(h.rec.ops.contains("deleteLock flushed"));
    h.closeSession(s);
    assertNull(h.table.getLock("sess"));
    assertTrue(h.rec.ops.contains("deleteLock sess"));
    h.now += 100;
    h.expire();
    assertNull(h.table.getLock("lease"));
    assertTrue(h.rec.ops.contains("deleteLock lease"));
    assertEquals(0, h.table.lockCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Semaphores, FIFO, TryLock
  // ------------------------------------------------------------------------------------------------

  @Test
  void semaphoreOfSizeNGrantsNThenQueues() {
    int n = 4;
    for (int i = 0; i < n; i++) {
      granted(h.lock("sem", n, "k" + i));
      assertEquals(i + 1, h.table.getLock("sem").holders().size());
    }
    Waiter w1 = queued(h.lock("sem", n, "w1"));
    Waiter w2 = queued(h.lock("sem", n, "w2"));
    assertTrue(w1.seq() < w2.seq());
    notAcquired(h.tryLock("sem", n, "t"));
    LockView v = h.table.getLock("sem");
    assertEquals(n, v.holders().size());
    assertEquals(2, v.waiters());
    assertEquals(List.of("k0", "k1", "k2", "k3"), h.holderKeys("sem"));
    assertEquals(4, h.table.holderCount());
    assertEquals(2, h.table.waiterCount());
  }

  @Test
  void waitersAreGrantedStrictlyInArrivalOrder() {
    granted(h.lock("f", "h0"));
    List<Waiter> waiters = new ArrayList<>();
    for (int i = 1; i <= 6; i++) {
      waiters.add(queued(h.lock("f", 1, "w" + i)));
    }
    // abandon one in the middle: the rest keep their order
    h.abandon(waiters.get(2).clientId(), waiters.get(2).requestId());
    List<String> order = new ArrayList<>();
    String current = "h0";
    while (h.table.getLock("f") != null) {
      h.unlock("f", current);
      List<Granted> grants = h.rec.events(Granted.class);
      if (grants.isEmpty()) {
        break;
      }
      assertEquals(1, grants.size());
      current = grants.get(0).holder().key();
      order.add(current);
    }
    assertEquals(List.of("w1", "w2", "w4", "w5", "w6"), order);
    assertNull(h.table.getLock("f"));
  }

  @Test
  void semaphoreWaitersAreGrantedInOrderWhenSeveralSlotsFreeInOneStep() {
    granted(h.lock("s", 3, "a"));
    granted(h.lock("s", 3, "b"));
    granted(h.lock("s", 3, "c"));
    for (int i = 1; i <= 4; i++) {
      queued(h.lock("s", 3, "w" + i));
    }
    assertEquals(List.of("s"), names(h.flush("s")));
    List<Granted> grants = h.rec.events(Granted.class);
    assertEquals(List.of("w1", "w2", "w3"), grants.stream().map(g -> g.holder().key()).toList());
    assertTrue(grants.get(0).holder().token() < grants.get(1).holder().token());
    assertTrue(grants.get(1).holder().token() < grants.get(2).holder().token());
    assertEquals(List.of("w1", "w2", "w3"), h.holderKeys("s"));
    assertEquals(1, h.table.getLock("s").waiters());
  }

  @Test
  void tryLockNeverJumpsTheQueue() {
    // size 1: holder A, waiter B. A try by C fails; when A leaves, B (not C) gets the lock.
    granted(h.lock("t", 1, "A"));
    Waiter b = queued(h.lock("t", 1, "B"));
    Harness.State before = h.state();
    notAcquired(h.tryLock("t", 1, "C"));
    notAcquired(h.lockWait("t", 1, "C2", 0)); // a zero wait behaves as a try
    assertEquals(before.locks(), h.state().locks(), "a failed try changed the lock");
    h.unlock("t", "A");
    assertEquals(b.key(), h.rec.events(Granted.class).get(0).holder().key());
    assertEquals(List.of("B"), h.holderKeys("t"));

    // size 2: a slot is never free while someone waits, so a try on a lock with waiters always fails...
    granted(h.lock("u", 2, "A"));
    granted(h.lock("u", 2, "B"));
    queued(h.lock("u", 2, "W"));
    notAcquired(h.tryLock("u", 2, "T1"));
    // ...freeing one slot hands it to W at once, in the same step: the lock is full again
    h.unlock("u", "A");
    assertEquals(List.of("B", "W"), h.holderKeys("u"));
    assertEquals(0, h.table.getLock("u").waiters());
    notAcquired(h.tryLock("u", 2, "T2"));
    // with no waiters, a free slot is taken by a try
    h.unlock("u", "B");
    granted(h.tryLock("u", 2, "T3"));
    assertEquals(List.of("W", "T3"), h.holderKeys("u"));
  }

  @Test
  void tryLockOnAMissingLockCreatesItAndNotAcquiredIsNotAnError() {
    Holder t = granted(h.tryLock("n", 1, "k"));
    assertEquals("k", t.key());
    Result r = h.tryLock("n", 1, "k2");
    notAcquired(r);
    assertEquals("n", ((Result.NotAcquired) r).name());
    assertEquals(1, h.table.holderCount());
    assertEquals(0, h.table.waiterCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Fencing tokens
  // ------------------------------------------------------------------------------------------------

  @Test
  void fencingTokensIncreaseAcrossGrantsAndLockRecreation() {
    long lastToken = 0;
    for (int round = 0; round < 5; round++) {
      Holder a = granted(h.lock("fence", 2, "a" + round));
      assertTrue(a.token() >= h.index, "token below log index");
      assertTrue(a.token() > lastToken);
      Holder b = granted(h.lock("fence", 2, "b" + round));
      assertTrue(b.token() >= h.index && b.token() > a.token());
      queued(h.lock("fence", 2, "c" + round));
      h.unlock("fence", "a" + round);
      Holder c = h.rec.events(Granted.class).get(0).holder();
      assertTrue(c.token() >= h.index && c.token() > b.token());
      h.unlock("fence", "b" + round);
      h.unlock("fence", "c" + round);
      assertNull(h.table.getLock("fence"), "lock should be deleted between rounds");
      lastToken = c.token();
      assertEquals(lastToken, h.table.meta().lastToken());
    }
  }

  @Test
  void severalGrantsInOneStepGetDistinctIncreasingTokensAtLeastTheIndex() {
    granted(h.lock("p", 2, "a"));
    granted(h.lock("p", 2, "b"));
    granted(h.lock("q", 1, "x"));
    queued(h.lock("p", 2, "w1"));
    queued(h.lock("p", 2, "w2"));
    queued(h.lock("q", 1, "y"));
    h.flush();
    List<Granted> grants = h.rec.events(Granted.class);
    assertEquals(3, grants.size());
    long previous = 0;
    for (Granted g : grants) {
      assertTrue(g.holder().token() >= h.index);
      assertTrue(g.holder().token() > previous);
      previous = g.holder().token();
    }
    assertEquals(previous, h.table.meta().lastToken());
    // the next grant in a later entry is still above all of them
    Holder next = granted(h.lock("r", 1, "z"));
    assertTrue(next.token() > previous && next.token() >= h.index);
  }

  // ------------------------------------------------------------------------------------------------
  // Release
  // ------------------------------------------------------------------------------------------------

  @Test
  void releaseErrors() {
    granted(h.lock("r", 1, "right"));
    h.now += 10;
    Result.Failure wrong = rejectedWithoutChange(new Command.Release(h.now, h.origin(), "r", "wrong"),
        ErrorCode.INVALID_KEY);
    assertTrue(wrong.message().contains("r"));
    rejectedWithoutChange(new Command.Release(h.now, h.origin(), "missing", "right"), ErrorCode.LOCK_NOT_FOUND);
    assertTrue(h.table.isLocked("r"));
    assertEquals(Result.DONE, h.unlock("r", "right"));
    assertEquals(List.of(new Released(h.rec.events(Released.class).get(0).holder(), ReleaseReason.UNLOCK)),
        h.rec.events(Released.class));
    failed(h.unlock("r", "right"), ErrorCode.LOCK_NOT_FOUND); // a new request, not a retry
  }

  @Test
  void releaseGrantsTheNextWaiterInTheSameStep() {
    granted(h.lock("g", 1, "a"));
    Waiter w = queued(h.lock("g", 1, "b"));
    h.now += 50;
    assertEquals(Result.DONE, h.unlock("g", "a"));
    List<Granted> grants = h.rec.events(Granted.class);
    assertEquals(1, grants.size());
    Granted g = grants.get(0);
    assertEquals(w, g.waiter());
    assertEquals(w.key(), g.holder().key());
    assertEquals(w.clientId(), g.holder().clientId());
    assertEquals(w.requestId(), g.holder().requestId());
    assertEquals(1, g.size());
    assertEquals(h.now, g.holder().acquiredAtMs());
    assertEquals(List.of("b"), h.holderKeys("g"));
    assertEquals(0, h.table.getLock("g").waiters());
    assertNull(h.table.waiter(w.clientId(), w.requestId()));
    // the waiter's request now answers with its grant (its live hold, not a stored outcome)
    assertEquals(g.holder(), h.table.holderOf(w.clientId(), w.requestId()));
    assertNull(h.table.outcome(w.clientId(), w.requestId()));
    // event order: the release comes before the grant
    assertInstanceOf(Released.class, h.rec.events.get(0));
    assertInstanceOf(Granted.class, h.rec.events.get(1));
  }

  // ------------------------------------------------------------------------------------------------
  // Renew and leases
  // ------------------------------------------------------------------------------------------------

  @Test
  void renewSetsTheDeadlineToNowPlusLease() {
    Holder a = granted(h.lockLeased("l", 1, "k", 1_000));
    assertEquals(h.now + 1_000, a.expiresAtMs());
    h.now += 700;
    Result r = h.renew("l", "k", 5_000);
    Result.Renewed renewed = assertInstanceOf(Result.Renewed.class, r);
    assertEquals(h.now + 5_000, renewed.holder().expiresAtMs());
    assertEquals(5_000, renewed.holder().leaseMs());
    assertEquals(a.token(), renewed.holder().token());
    assertEquals(renewed.holder(), h.holder("l", "k"));
    assertEquals(h.now + 5_000, h.table.nextDeadlineMs());
    // a holder without a lease gets one by renew
    granted(h.lock("nolease", 1, "k"));
    Holder withLease = assertInstanceOf(Result.Renewed.class, h.renew("nolease", "k", 300)).holder();
    assertEquals(h.now + 300, withLease.expiresAtMs());
    // bad lease lengths
    rejectedWithoutChange(new Command.Renew(h.now, h.origin(), "l", "k", 0), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Renew(h.now, h.origin(), "l", "k", -5), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Renew(h.now, h.origin(), "l", "k", Limits.LEASE_MS_MAX + 1),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Renew(h.now, h.origin(), "l", "other", 100), ErrorCode.INVALID_KEY);
  }

  @Test
  void renewOfAnExpiredHolderFails() {
    granted(h.lockLeased("e", 2, "k", 1_000));
    granted(h.lock("e", 2, "keeper"));
    granted(h.lockLeased("gone", 1, "k", 1_000));
    h.now += 1_000;
    h.expire();
    assertEquals(List.of("keeper"), h.holderKeys("e"));
    // the lock still exists: the key no longer holds it
    failed(h.renew("e", "k", 1_000), ErrorCode.INVALID_KEY);
    // the lock was deleted with its last holder: still INVALID_KEY (the key lost it), as the contract says
    failed(h.renew("gone", "k", 1_000), ErrorCode.INVALID_KEY);
    assertNull(h.table.getLock("gone"));
  }

  @Test
  void leasesExpireOnlyThroughAnExpireAtOrAfterTheDeadline() {
    long t0 = h.now;
    Holder a = granted(h.lockLeased("lease", 1, "k", 1_000));
    queued(h.lock("lease", 1, "next"));
    assertEquals(t0 + 1_000, a.expiresAtMs());
    // other commands long past the deadline do not expire it
    h.now = t0 + 5_000;
    granted(h.lock("other", 1, "o"));
    assertEquals(List.of("k"), h.holderKeys("lease"));
    assertTrue(h.table.hasExpiryDue(h.now));
    // an Expire stamped before the deadline (and a clock still before it) does nothing
    Harness fresh = new Harness();
    granted(fresh.lockLeased("lease", 1, "k", 1_000));
    Harness.State before = fresh.state();
    fresh.expireAt(fresh.now + 999);
    assertEquals(before.locks(), fresh.state().locks());
    assertEquals(List.of("putMeta"), fresh.rec.ops);
    assertEquals(List.of(), fresh.rec.events);
    assertFalse(fresh.table.hasExpiryDue(fresh.now + 999));
    assertTrue(fresh.table.hasExpiryDue(fresh.now + 1_000));
    // exactly at the deadline it expires
    fresh.expireAt(fresh.now + 1_000);
    assertEquals(List.of(ReleaseReason.LEASE_EXPIRED),
        fresh.rec.events(Released.class).stream().map(Released::reason).toList());
    assertNull(fresh.table.getLock("lease"));
    // a duplicate (or late) expiry is harmless
    Harness.State after = fresh.state();
    fresh.expireAt(fresh.now + 1_000);
    fresh.expireAt(fresh.now + 10);
    assertEquals(after, fresh.state());
    assertEquals(List.of(), fresh.rec.events);

    // back in the first table: the expiry releases the holder and grants the waiter in the same step
    h.expire();
    assertEquals(List.of("next"), h.holderKeys("lease"));
    assertEquals("next", h.rec.events(Granted.class).get(0).holder().key());
  }

  @Test
  void aRenewAppliedBeforeTheExpireKeepsTheHolder() {
    granted(h.lockLeased("late", 1, "k", 1_000));
    long deadline = h.now + 1_000;
    h.now = deadline + 200; // the leader's clock passed the deadline, but the renew was ordered first
    assertInstanceOf(Result.Renewed.class, h.renew("late", "k", 1_000));
    h.expireAt(deadline + 200); // the Expire proposed for the old deadline re-checks and does nothing
    assertEquals(List.of("k"), h.holderKeys("late"));
    assertEquals(List.of(), h.rec.events);
  }

  @Test
  void expiryIsBoundedByMaxItemsAndResumesOnTheNextTick() {
    for (int i = 0; i < 5; i++) {
      granted(h.lockLeased("b" + i, 1, "k", 100));
    }
    h.now += 100;
    h.apply(new Command.Expire(h.now, 2));
    assertEquals(3, h.table.lockCount());
    h.apply(new Command.Expire(h.now, 0)); // at least one item per tick
    assertEquals(2, h.table.lockCount());
    h.expire();
    assertEquals(0, h.table.lockCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Wait timeouts and cancel
  // ------------------------------------------------------------------------------------------------

  @Test
  void waitTimeoutRemovesTheWaiterAndTheRetryReturnsTheTimeout() {
    long t0 = h.now;
    granted(h.lock("w", 1, "holder"));
    Command.Acquire wait = h.acquireCmd("w", 1, "waiter", 0, 500, false, 0);
    Waiter w = queued(h.apply(wait));
    assertEquals(t0 + 500, w.waitDeadlineMs());
    assertEquals(t0 + 500, h.table.nextDeadlineMs());
    h.expireAt(t0 + 499);
    assertEquals(1, h.table.getLock("w").waiters());
    h.expireAt(t0 + 500);
    assertEquals(List.of(new Removed(w, ErrorCode.LOCK_WAIT_TIMEOUT)), h.rec.events);
    assertTrue(h.rec.ops.contains("deleteWaiter w#" + w.seq()));
    assertEquals(0, h.table.getLock("w").waiters());
    assertNull(h.table.waiter(w.clientId(), w.requestId()));
    // the retried acquire answers from the dedupe table: no new waiter
    failed(h.replay(wait), ErrorCode.LOCK_WAIT_TIMEOUT);
    assertEquals(0, h.table.waiterCount());
    assertEquals(List.of(), h.rec.opsBesideMeta());
    // the holder leaves; nothing to grant, the lock goes away
    h.unlock("w", "holder");
    assertEquals(List.of(), h.rec.events(Granted.class));
    assertNull(h.table.getLock("w"));
  }

  @Test
  void invalidWaitAndLeaseValuesAreRejected() {
    populate();
    rejectedWithoutChange(h.acquireCmd("v", 1, "k", -1, -1, false, 0), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(h.acquireCmd("v", 1, "k", Limits.LEASE_MS_MAX + 1, -1, false, 0), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(h.acquireCmd("v", 1, "k", 0, -2, false, 0), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(h.acquireCmd("v", 1, "k", 0, Limits.WAIT_TIMEOUT_MS_MAX + 1, false, 0),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(h.acquireCmd("v", 1, "", 0, -1, false, 0), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(h.acquireCmd("v", 1, "k".repeat(Limits.KEY_BYTES_MAX + 1), 0, -1, false, 0),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Acquire(h.now, h.origin(), "v", 1, 0, -1, false, 0, "", false, 0, 1,
        "o".repeat(Limits.OWNER_BYTES_MAX + 1), "k"), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Acquire(h.now, Origin.of("c".repeat(Limits.CLIENT_ID_BYTES_MAX + 1), 1), "v", 1,
        0, -1, false, 0, "", false, 0, 1, "", "k"), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Acquire(h.now, Origin.of(h.client, -1), "v", 1, 0, -1, false, 0, "", false, 0,
        1, "", "k"), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Acquire(h.now, h.origin(), "v", 1, 0, -1, false, 0, "", false, 0, -1, "",
        "k"), ErrorCode.INVALID_ARGUMENT);
  }

  // ------------------------------------------------------------------------------------------------
  // Abandon: the client gave up on a request
  // ------------------------------------------------------------------------------------------------

  @Test
  void abandonRemovesExactlyThatWaiter() {
    granted(h.lock("c", 1, "h"));
    Command.Acquire c1 = h.acquireCmd("c", 1, "w1", 0, -1, false, 0);
    Command.Acquire c2 = h.acquireCmd("c", 1, "w2", 0, 10_000, false, 0);
    Command.Acquire c3 = h.acquireCmd("c", 1, "w3", 0, -1, false, 0);
    Waiter w1 = queued(h.apply(c1));
    Waiter w2 = queued(h.apply(c2));
    Waiter w3 = queued(h.apply(c3));
    assertEquals(Result.AbandonOutcome.WAITER_REMOVED, Harness.abandoned(h.abandon(h.client, c2.origin().requestId())));
    assertEquals(List.of(new Removed(w2, ErrorCode.WAIT_CANCELLED)), h.rec.events);
    assertTrue(h.rec.opsBesideMeta().contains("deleteWaiter c#" + w2.seq()), h.rec.ops.toString());
    assertEquals(2, h.table.getLock("c").waiters());
    assertEquals(w1, h.table.waiter(h.client, c1.origin().requestId()));
    assertEquals(w3, h.table.waiter(h.client, c3.origin().requestId()));
    assertEquals(Long.MAX_VALUE, h.table.nextDeadlineMs(), "the abandoned waiter's timeout must be gone");
    failed(h.replay(c2), ErrorCode.WAIT_CANCELLED);
    // abandoning it again, or what never was, changes no lock
    Harness.State before = h.state();
    assertEquals(Result.AbandonOutcome.ALREADY_SETTLED, Harness.abandoned(h.abandon(h.client, c2.origin().requestId())));
    assertEquals(before.locks(), h.state().locks());
    h.unlock("c", "h");
    assertEquals("w1", h.rec.events(Granted.class).get(0).holder().key());
    h.unlock("c", "w1");
    assertEquals("w3", h.rec.events(Granted.class).get(0).holder().key());
  }

  @Test
  void abandonAfterTheGrantWonTheRaceReleasesTheGrantAndGrantsTheNext() {
    granted(h.lock("race", 1, "h"));
    Command.Acquire mine = h.acquireCmd("race", 1, "mine", 0, -1, false, 0);
    queued(h.apply(mine));
    queued(h.lock("race", 1, "next"));
    // the grant is applied before the client's abandon arrives
    h.unlock("race", "h");
    Holder won = h.rec.events(Granted.class).get(0).holder();
    assertEquals("mine", won.key());
    assertEquals(Result.AbandonOutcome.GRANT_RELEASED, Harness.abandoned(h.abandon(h.client, mine.origin().requestId())));
    assertEquals(ReleaseReason.ABANDONED, h.rec.events(Released.class).get(0).reason());
    assertEquals(List.of("next"), h.holderKeys("race"), "the next waiter is granted in the same step");
    assertNull(h.table.holderOf(h.client, mine.origin().requestId()));
    // the request now answers that it was abandoned: a retry does not get the released grant back
    failed(h.replay(mine), ErrorCode.WAIT_CANCELLED);
    assertEquals(List.of("next"), h.holderKeys("race"));
  }

  @Test
  void anAbandonThatOvertakesItsRequestRefusesTheRequestWhenItArrives() {
    granted(h.lock("late", 1, "h"));
    Command.Acquire slow = h.acquireCmd("late", 1, "w", 0, -1, false, 0);
    assertEquals(Result.AbandonOutcome.NOT_SEEN, Harness.abandoned(h.abandon(h.client, slow.origin().requestId())));
    failed(h.apply(slow), ErrorCode.WAIT_CANCELLED);
    assertEquals(0, h.table.waiterCount());
    // a tryLock overtaken by its abandon is refused too, even when the lock is free
    h.unlock("late", "h");
    Command.Acquire t = h.acquireCmd("late", 1, "t", 0, -1, true, 0);
    h.abandon(h.client, t.origin().requestId());
    failed(h.apply(t), ErrorCode.WAIT_CANCELLED);
    assertFalse(h.table.isLocked("late"));
  }

  @Test
  void anAbandonOfAnOlderAttemptLeavesTheNewerAttemptAlone() {
    long s = session(h.openSession(10_000)).id();
    granted(h.lock("a", 1, "h"));
    Origin o = h.origin();
    Command.Acquire try1 = h.acquireCmd(o, "a", 1, "w", 0, -1, false, 0, false, 0, 1);
    Command.Acquire try2 = h.acquireCmd(o, "a", 1, "w", 0, -1, false, 0, false, 0, 2);
    queued(h.apply(try1));
    // the client re-sends through another node: same request, attempt 2, re-attaches (no new waiter)
    Waiter w = queued(h.apply(try2));
    assertEquals(2, w.attempt());
    assertEquals(1, h.table.waiterCount());
    // the first node's call ends and it abandons its try: attempt 1 no longer decides
    Result r = h.apply(new Command.Abandon(h.now, Origin.of(h.client, 0), o.requestId(), 1));
    assertEquals(Result.AbandonOutcome.NEWER_ATTEMPT, Harness.abandoned(r));
    assertEquals(w, h.table.waiter(h.client, o.requestId()));
    // granted; an abandon of attempt 1 still leaves the grant, attempt 2's abandon releases it
    h.unlock("a", "h");
    assertEquals("w", h.rec.events(Granted.class).get(0).holder().key());
    assertEquals(Result.AbandonOutcome.NEWER_ATTEMPT,
        Harness.abandoned(h.apply(new Command.Abandon(h.now, Origin.of(h.client, 0), o.requestId(), 1))));
    assertTrue(h.table.isLocked("a"));
    assertEquals(Result.AbandonOutcome.GRANT_RELEASED,
        Harness.abandoned(h.apply(new Command.Abandon(h.now, Origin.of(h.client, 0), o.requestId(), 2))));
    assertFalse(h.table.isLocked("a"));
    assertNotNull(h.table.session(s));
    // a conditional abandon of a request never seen leaves no trace: its newer try may still arrive
    Origin o2 = h.origin();
    assertEquals(Result.AbandonOutcome.NOT_SEEN,
        Harness.abandoned(h.apply(new Command.Abandon(h.now, Origin.of(h.client, 0), o2.requestId(), 3))));
    granted(h.apply(h.acquireCmd(o2, "a", 1, "w2", 0, -1, false, 0, false, 0, 4)));
  }

  @Test
  void aReSentAcquireReattachesToItsGrantAndRaisesItsAttempt() {
    Origin o = h.origin();
    Holder first = granted(h.apply(h.acquireCmd(o, "g", 1, "k", 0, -1, false, 0, false, 0, 1)));
    Holder again = granted(h.apply(h.acquireCmd(o, "g", 1, "k", 0, -1, false, 0, false, 0, 3)));
    assertEquals(first.token(), again.token());
    assertEquals(3, again.attempt());
    assertEquals(1, h.table.holderCount());
    // a retry must repeat its request: the same id for another lock is refused
    failed(h.apply(h.acquireCmd(o, "other", 1, "k", 0, -1, false, 0, false, 0, 4)), ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void abandonNeedsTheClientAndTheRequest() {
    rejectedWithoutChange(new Command.Abandon(h.now, Origin.of("", 0), 5, Long.MAX_VALUE), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.Abandon(h.now, Origin.of("c", 0), 0, Long.MAX_VALUE), ErrorCode.INVALID_ARGUMENT);
    // one client cannot abandon another's request: the client id is part of the request's identity
    granted(h.lock("mine", 1, "h"));
    Command.Acquire w = h.acquireCmd("mine", 1, "w", 0, -1, false, 0);
    queued(h.apply(w));
    h.abandon("someone-else", w.origin().requestId());
    assertEquals(1, h.table.waiterCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Superseding and detached holds
  // ------------------------------------------------------------------------------------------------

  @Test
  void aNewerAcquireOfTheSameSessionAndThreadSupersedesItsOlderWaiter() {
    long s = session(h.openSession(10_000)).id();
    granted(h.lock("sup", 1, "h"));
    Command.Acquire old = h.acquireCmd(h.origin(), "sup", 1, "old", 0, -1, false, s, false, 7, 1);
    Waiter oldWaiter = queued(h.apply(old));
    Command.Acquire otherThread = h.acquireCmd(h.origin(), "sup", 1, "t8", 0, -1, false, s, false, 8, 1);
    queued(h.apply(otherThread));
    Command.Acquire newer = h.acquireCmd(h.origin(), "sup", 1, "new", 0, -1, false, s, false, 7, 1);
    Waiter w = queued(h.apply(newer));
    assertEquals(List.of(new Removed(oldWaiter, ErrorCode.WAIT_CANCELLED)), h.rec.events);
    assertEquals(2, h.table.getLock("sup").waiters(), "thread 8's waiter stays; thread 7 has one waiter");
    failed(h.replay(old), ErrorCode.WAIT_CANCELLED);
    h.unlock("sup", "h");
    assertEquals("t8", h.rec.events(Granted.class).get(0).holder().key(), "the newer waiter queues at the back");
    assertEquals(w, h.table.waiter(h.client, newer.origin().requestId()));
    // thread 0 never supersedes: two async waits of one thread both stay
    Command.Acquire a0 = h.acquireCmd(h.origin(), "sup", 1, "a0", 0, -1, false, s, false, 0, 1);
    Command.Acquire b0 = h.acquireCmd(h.origin(), "sup", 1, "b0", 0, -1, false, s, false, 0, 1);
    queued(h.apply(a0));
    queued(h.apply(b0));
    assertEquals(3, h.table.getLock("sup").waiters());
  }

  @Test
  void aDetachedHoldOutlivesTheSessionThatTiedItsWait() {
    long s = session(h.openSession(1_000)).id();
    granted(h.lock("rate", 1, "h"));
    Command.Acquire d = h.acquireCmd(h.origin(), "rate", 1, "d", 5_000, -1, false, s, true, 0, 1);
    Waiter w = queued(h.apply(d));
    assertTrue(w.detached());
    h.unlock("rate", "h");
    Holder granted = h.rec.events(Granted.class).get(0).holder();
    assertEquals(0, granted.sessionId(), "the hold is not tied to the session");
    assertEquals(h.now + 5_000, granted.expiresAtMs());
    assertEquals(List.of(), names(h.closeSession(s)));
    assertTrue(h.table.isLocked("rate"), "the hold stands alone until its lease ends");
    // while waiting, though, the session's end removes a detached waiter
    long s2 = session(h.openSession(1_000)).id();
    queued(h.apply(h.acquireCmd(h.origin(), "rate", 1, "d2", 5_000, -1, false, s2, true, 0, 1)));
    h.closeSession(s2);
    assertEquals(0, h.table.waiterCount());
    // detached without a session means nothing: a plain sessionless request
    Holder plain = granted(h.apply(h.acquireCmd(h.origin(), "plain", 1, "p", 0, -1, false, 0, true, 0, 1)));
    assertEquals(0, plain.sessionId());
  }

  // ------------------------------------------------------------------------------------------------
  // Sessions
  // ------------------------------------------------------------------------------------------------

  @Test
  void openKeepAliveAndLimits() {
    Session s = session(h.openSession(2_000));
    assertEquals(h.index, s.id(), "session id is the log index");
    assertEquals(h.now + 2_000, s.expiresAtMs());
    assertEquals(2_000, s.ttlMs());
    assertEquals(s, h.table.session(s.id()));
    h.now += 1_500;
    Session kept = session(h.keepAlive(s.id()));
    assertEquals(h.now + 2_000, kept.expiresAtMs());
    assertEquals(kept, h.table.session(s.id()));
    rejectedWithoutChange(new Command.OpenSession(h.now, h.origin(), Limits.SESSION_TTL_MS_MIN - 1, "", "key"),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.OpenSession(h.now, h.origin(), 999, "", "key"), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.OpenSession(h.now, h.origin(), Limits.SESSION_TTL_MS_MAX + 1, "", "key"),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.OpenSession(h.now, h.origin(), 2_000, "", ""), ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.KeepAlive(h.now, h.origin(), 999_999, "k", List.of()), ErrorCode.SESSION_EXPIRED);
    rejectedWithoutChange(new Command.CloseSession(h.now, h.origin(), 999_999, "k"), ErrorCode.SESSION_EXPIRED);
    rejectedWithoutChange(h.acquireCmd("x", 1, "k", 0, -1, false, 999_999), ErrorCode.SESSION_EXPIRED);
  }

  @Test
  void onlyTheHolderOfTheSessionKeyMayUseKeepAliveOrCloseTheSession() {
    Session s = session(h.openSession(2_000));
    granted(h.lockInSession("kept", 1, "k", s.id()));
    for (Command c : List.of(
        new Command.KeepAlive(h.now, h.origin(), s.id(), "guessed", List.of()),
        new Command.CloseSession(h.now, h.origin(), s.id(), "guessed"),
        new Command.Acquire(h.now, h.origin(), "x", 1, 0, -1, false, s.id(), "guessed", false, 0, 1, "", "k2"))) {
      Result.Failure f = rejectedWithoutChange(c, ErrorCode.PERMISSION_DENIED);
      assertTrue(f.message().contains("session_key"), f.message());
    }
    rejectedWithoutChange(new Command.Acquire(h.now, h.origin(), "x", 1, 0, -1, false, s.id(), "", false, 0, 1, "",
        "k2"), ErrorCode.INVALID_ARGUMENT);
    assertEquals(List.of("kept"), names(h.closeSession(s.id())));
  }

  /** Sets up session s holding "a" and "b", waiting on "c"; another client waits behind s on "a". */
  private long sessionScenario() {
    long s = session(h.openSession(1_000)).id();
    granted(h.lockInSession("b", 1, "s-b", s));
    granted(h.lockInSession("a", 2, "s-a", s));
    granted(h.lock("a", 2, "other-a"));
    granted(h.lock("c", 1, "other-c"));
    queued(h.lockInSession("c", 1, "s-c", s));
    queued(h.lock("a", 2, "next-a"));
    queued(h.lock("b", 1, "next-b"));
    return s;
  }

  private void assertSessionEnded(long s) {
    assertNull(h.table.session(s));
    assertTrue(h.rec.ops.contains("deleteSession " + s), h.rec.ops.toString());
    assertEquals(List.of("next-a", "other-a"), h.holderKeys("a").stream().sorted().toList());
    assertEquals(List.of("next-b"), h.holderKeys("b"));
    assertEquals(List.of("other-c"), h.holderKeys("c"));
    assertEquals(0, h.table.waiterCount());
    List<ReleaseReason> reasons = h.rec.events(Released.class).stream().map(Released::reason).distinct().toList();
    assertEquals(List.of(ReleaseReason.SESSION_ENDED), reasons);
    assertEquals(2, h.rec.events(Released.class).size());
    List<Removed> removed = h.rec.events(Removed.class);
    assertEquals(1, removed.size());
    assertEquals("s-c", removed.get(0).waiter().key());
    assertEquals(ErrorCode.SESSION_EXPIRED, removed.get(0).reason());
    assertEquals(List.of("next-a", "next-b"),
        h.rec.events(Granted.class).stream().map(g -> g.holder().key()).sorted().toList());
    for (LockView v : h.table.list("", "", 100)) {
      for (Holder holder : h.table.getLock(v.name()).holders()) {
        assertTrue(holder.sessionId() != s);
      }
    }
    String key = "whatever";
    failed(h.apply(new Command.Acquire(h.now, h.origin(), "z", 1, 0, -1, false, s, key, false, 0, 1, "", "k")),
        ErrorCode.SESSION_EXPIRED);
    failed(h.apply(new Command.KeepAlive(h.now, h.origin(), s, key, List.of())), ErrorCode.SESSION_EXPIRED);
    failed(h.apply(new Command.CloseSession(h.now, h.origin(), s, key)), ErrorCode.SESSION_EXPIRED);
  }

  @Test
  void closingASessionReleasesItsHoldersRemovesItsWaitersAndGrantsTheNext() {
    long s = sessionScenario();
    Result r = h.closeSession(s);
    assertEquals(List.of("a", "b"), names(r), "names where the session had holders, sorted");
    assertSessionEnded(s);
  }

  @Test
  void sessionExpiryDoesTheSameAsClose() {
    long t0 = h.now;
    long s = sessionScenario();
    h.expireAt(t0 + 999);
    assertNotNull(h.table.session(s));
    assertEquals(List.of(), h.rec.events);
    h.now = t0 + 1_000;
    h.expire();
    assertSessionEnded(s);
  }

  @Test
  void keepAliveMovesTheExpiry() {
    long t0 = h.now;
    long s = session(h.openSession(1_000)).id();
    granted(h.lockInSession("k", 1, "key", s));
    h.now = t0 + 900;
    h.keepAlive(s);
    h.expireAt(t0 + 1_500);
    assertNotNull(h.table.session(s));
    assertTrue(h.table.isLocked("k"));
    h.expireAt(t0 + 1_900);
    assertNull(h.table.session(s));
    assertFalse(h.table.isLocked("k"));
  }

  @Test
  void aWaiterOfAnEndedSessionAnswersSessionExpiredOnRetry() {
    long s = session(h.openSession(1_000)).id();
    granted(h.lock("q", 1, "h"));
    Command.Acquire wait = h.acquireCmd("q", 1, "w", 0, -1, false, s);
    Waiter w = queued(h.apply(wait));
    assertEquals(List.of(), names(h.closeSession(s)), "the session held nothing");
    assertEquals(List.of(new Removed(w, ErrorCode.SESSION_EXPIRED)), h.rec.events);
    failed(h.replay(wait), ErrorCode.SESSION_EXPIRED);
    assertEquals(0, h.table.waiterCount());
  }

  @Test
  void endingASessionCostsWhatItHoldsNotTheQueuesItWaitsIn() {
    granted(h.lock("long", 1, "h"));
    for (int i = 0; i < 200; i++) {
      queued(h.lock("long", 1, "w" + i));
    }
    long s = session(h.openSession(1_000)).id();
    queued(h.lockInSession("long", 1, "mine", s));
    h.closeSession(s);
    // exactly one waiter removed, and only its own records touched
    assertEquals(1, h.rec.events(Removed.class).size());
    assertEquals(200, h.table.getLock("long").waiters());
    assertTrue(h.rec.opsBesideMeta().stream().noneMatch(op -> op.startsWith("putWaiter")), h.rec.ops.toString());
  }

  // ------------------------------------------------------------------------------------------------
  // Flush
  // ------------------------------------------------------------------------------------------------

  @Test
  void flushOfNamedLocks() {
    granted(h.lock("a", 1, "a1"));
    granted(h.lock("b", 2, "b1"));
    granted(h.lock("b", 2, "b2"));
    queued(h.lock("b", 2, "bw1"));
    queued(h.lock("b", 2, "bw2"));
    queued(h.lock("b", 2, "bw3"));
    granted(h.lock("c", 1, "c1"));
    Result r = h.flush("b", "missing", "a");
    assertEquals(List.of("a", "b"), names(r));
    assertEquals(List.of("bw1", "bw2"), h.holderKeys("b"), "waiters granted in order");
    assertEquals(1, h.table.getLock("b").waiters(), "the third waiter stays queued");
    assertNull(h.table.getLock("a"));
    assertEquals(List.of("c1"), h.holderKeys("c"), "an unnamed lock is untouched");
    assertEquals(List.of(ReleaseReason.FLUSHED),
        h.rec.events(Released.class).stream().map(Released::reason).distinct().toList());
    assertEquals(3, h.rec.events(Released.class).size());
    // flush again: the promoted holders are released, the last waiter granted
    assertEquals(List.of("b"), names(h.flush("b")));
    assertEquals(List.of("bw3"), h.holderKeys("b"));
    // a name without holders is not reported
    assertEquals(List.of(), names(h.flush("a", "missing")));
  }

  @Test
  void flushOfAllLocks() {
    assertEquals(List.of(), names(h.flush()));
    granted(h.lock("z", 1, "z1"));
    granted(h.lock("y", 1, "y1"));
    queued(h.lock("y", 1, "y2"));
    granted(h.lock("x", 3, "x1"));
    Result r = h.flush();
    assertEquals(List.of("x", "y", "z"), names(r));
    assertEquals("", ((Result.Names) r).resumeAfter());
    assertEquals(List.of("y2"), h.holderKeys("y"));
    assertEquals(1, h.table.lockCount());
    rejectedWithoutChange(new Command.Flush(h.now, h.origin(), List.of("ok", ""), ""), ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void aFlushOfEveryLockGoesInPagesAndRepliesCountWhatTheyDoNotList() {
    int n = Limits.FLUSH_LOCKS_PER_ENTRY + Limits.REPLY_NAMES_MAX / 2;
    for (int i = 0; i < n; i++) {
      granted(h.lock(String.format("p%05d", i), 1, "k"));
    }
    Result.Names first = assertInstanceOf(Result.Names.class, h.flush());
    assertEquals(Limits.FLUSH_LOCKS_PER_ENTRY, first.total());
    assertEquals(Limits.REPLY_NAMES_MAX, first.names().size());
    assertEquals(String.format("p%05d", Limits.FLUSH_LOCKS_PER_ENTRY - 1), first.resumeAfter());
    assertEquals(n - Limits.FLUSH_LOCKS_PER_ENTRY, h.table.lockCount());
    Result.Names rest = assertInstanceOf(Result.Names.class,
        h.apply(new Command.Flush(h.now, h.origin(), List.of(), first.resumeAfter())));
    assertEquals(n - Limits.FLUSH_LOCKS_PER_ENTRY, rest.total());
    assertEquals("", rest.resumeAfter());
    assertEquals(0, h.table.lockCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Refresh (new leader) and the term of expiries
  // ------------------------------------------------------------------------------------------------

  @Test
  void refreshExtendsEveryLeaseAndSessionAndNeverShortens() {
    long t0 = h.now;
    granted(h.lockLeased("l1", 1, "k", 1_000));
    h.now = t0 + 400;
    granted(h.lockLeased("l2", 1, "k", 10_000));
    granted(h.lock("nolease", 1, "k"));
    long s = session(h.openSession(2_000)).id();
    granted(h.lock("held", 1, "h"));
    Waiter w = queued(h.lockWait("held", 1, "w", 3_000));

    h.now = t0 + 900;
    h.newLeader();
    assertEquals(List.of("putMeta"), h.rec.ops, "a Refresh writes no holder or session: O(1)");
    assertEquals(t0 + 900 + 1_000, h.holder("l1", "k").expiresAtMs());
    assertEquals(t0 + 900 + 10_000, h.holder("l2", "k").expiresAtMs());
    assertEquals(0, h.holder("nolease", "k").expiresAtMs());
    assertEquals(t0 + 900 + 2_000, h.table.session(s).expiresAtMs());
    assertEquals(w, h.table.waiter(w.clientId(), w.requestId()), "wait deadlines are not extended");
    assertEquals(List.of(), h.rec.events);

    // a refresh stamped earlier than the table's clock runs at the table's clock: it shortens nothing
    Harness.State before = h.state();
    h.apply(new Command.Refresh(t0, Capacity.DEFAULT));
    assertEquals(before.locks(), h.state().locks());
    // the old deadline comes due: the Expire moves it to the refreshed one instead of ending the hold
    h.expireAt(t0 + 1_000);
    assertTrue(h.table.isLocked("l1"));
    assertEquals(List.of(), h.rec.events(Released.class));
    assertTrue(h.rec.ops.contains("putHolder l1/k"), h.rec.ops.toString());
    // and the refreshed deadlines hold: an expire just before them does nothing
    h.expireAt(t0 + 900 + 999);
    assertTrue(h.table.isLocked("l1"));
    h.expireAt(t0 + 900 + 1_000);
    assertFalse(h.table.isLocked("l1"));
    assertNotNull(h.table.session(s));
    h.expireAt(t0 + 900 + 2_000);
    assertNull(h.table.session(s));
  }

  @Test
  void anExpireIsAppliedOnlyInTheTermOfTheLastRefresh() {
    granted(h.lockLeased("t", 1, "k", 100));
    h.now += 100;
    // a new term whose Refresh is not applied yet: an Expire of that term is refused
    h.term = 5;
    Result.Failure f = failed(h.expire(), ErrorCode.INVALID_ARGUMENT);
    assertTrue(f.message().contains("Refresh"), f.message());
    assertTrue(h.table.isLocked("t"));
    h.refresh();
    assertEquals(5, h.table.meta().refreshedTerm());
    // the refresh guarantees the lease until its own time + lease
    h.expire();
    assertTrue(h.table.isLocked("t"));
    h.now += 100;
    h.expire();
    assertFalse(h.table.isLocked("t"));
    // an Expire of an older term (a deposed leader's, appended late) is refused after the newer Refresh
    granted(h.lockLeased("t2", 1, "k", 100));
    h.now += 100;
    h.term = 4;
    failed(h.expire(), ErrorCode.INVALID_ARGUMENT);
    assertTrue(h.table.isLocked("t2"));
  }

  @Test
  void aRefreshCarriesTheCapacityEveryReplicaApplies() {
    Capacity small = new Capacity(2, 3, 1, 2, 1, 3, 5, 1_000);
    h.apply(new Command.Refresh(h.now, small));
    assertEquals(small, h.table.meta().capacity());
    granted(h.lock("a", 2, "a1"));
    granted(h.lock("b", 1, "b1"));
    failed(h.lock("c", 1, "c1"), ErrorCode.LIMIT_EXCEEDED); // locks
    granted(h.lock("a", 2, "a2"));
    queued(h.lock("a", 2, "w1"));
    failed(h.lock("a", 2, "w2"), ErrorCode.LIMIT_EXCEEDED); // waiters per lock
    queued(h.lock("b", 1, "w3"));
    failed(h.lock("b", 1, "w4"), ErrorCode.LIMIT_EXCEEDED); // waiters per lock on b too
    session(h.openSession(2_000));
    failed(h.openSession(2_000), ErrorCode.LIMIT_EXCEEDED); // sessions
    h.unlock("b", "b1"); // w3 is granted: 4 holders is more than holders.max 3, but a waiter already has its place
    assertEquals(List.of("w3"), h.holderKeys("b"));
    h.unlock("b", "w3");
    failed(h.lock("b", 1, "new"), ErrorCode.LIMIT_EXCEEDED); // holders (a1, a2, w1)... and the lock count
    // a Refresh without capacity keeps the bounds in force
    h.apply(new Command.Refresh(h.now, null));
    assertEquals(small, h.table.meta().capacity());
  }

  // ------------------------------------------------------------------------------------------------
  // Time
  // ------------------------------------------------------------------------------------------------

  @Test
  void theTablesClockNeverRunsBackwards() {
    h.now = 5_000;
    granted(h.lock("a", 1, "a"));
    assertEquals(5_000, h.table.meta().lastNowMs());
    h.now = 3_000;
    Holder b = granted(h.lockLeased("b", 1, "b", 1_000));
    assertEquals(5_000, b.acquiredAtMs(), "an older stamp is applied at the table's clock");
    assertEquals(6_000, b.expiresAtMs());
    assertEquals(5_000, h.table.meta().lastNowMs());
    Session s = session(h.openSession(1_000));
    assertEquals(6_000, s.expiresAtMs());
    h.now = 7_000;
    granted(h.lock("c", 1, "c"));
    assertEquals(7_000, h.table.meta().lastNowMs());
    // an Expire stamped in the past is applied at the table's clock: b (deadline 6000) goes
    h.expireAt(4_000);
    assertFalse(h.table.isLocked("b"));
    assertEquals(7_000, h.table.meta().lastNowMs());
  }

  // ------------------------------------------------------------------------------------------------
  // Idempotency and settling
  // ------------------------------------------------------------------------------------------------

  @Test
  void replayedAcquireReturnsTheOriginalGrantAndDoesNotGrantTwice() {
    Command.Acquire a = h.acquireCmd("i", 2, "k1", 1_000, -1, false, 0);
    Result first = h.apply(a);
    Holder holder = granted(first);
    Harness.State before = h.state();
    h.now += 100;
    Result again = h.replay(a);
    assertEquals(first, again);
    assertEquals(before.locks(), h.state().locks());
    assertEquals(before.meta().lastToken(), h.table.meta().lastToken());
    assertEquals(List.of(), h.rec.opsBesideMeta());
    assertEquals(1, h.table.holderCount());
    // even after the holder released, the retry answers with the original grant and does not re-acquire
    h.unlock("i", "k1");
    assertEquals(holder.token(), granted(h.replay(a)).token());
    assertNull(h.table.getLock("i"));
  }

  @Test
  void replayedQueuedAcquireReturnsTheSameWaiterThenItsGrant() {
    granted(h.lock("q", 1, "h"));
    Command.Acquire a = h.acquireCmd("q", 1, "w", 0, -1, false, 0);
    Waiter w = queued(h.apply(a));
    assertEquals(w, queued(h.replay(a)));
    assertEquals(1, h.table.waiterCount());
    assertEquals(List.of(), h.rec.opsBesideMeta());
    h.unlock("q", "h");
    Holder g = h.rec.events(Granted.class).get(0).holder();
    assertEquals(new Result.Granted(g, 1), h.replay(a));
    assertEquals(1, h.table.holderCount());
    assertEquals(0, h.table.waiterCount());
  }

  @Test
  void replayedTryLockReturnsTheOriginalAnswer() {
    granted(h.lock("t", 1, "h"));
    Command.Acquire t = h.acquireCmd("t", 1, "try", 0, -1, true, 0);
    notAcquired(h.apply(t));
    h.unlock("t", "h");
    notAcquired(h.replay(t)); // the original answer, although the lock is free now
    assertNull(h.table.getLock("t"));
  }

  @Test
  void replayedReleaseDoesNotReleaseALaterHolder() {
    granted(h.lock("r", 1, "same-key"));
    Command.Release rel = new Command.Release(h.now, h.origin(), "r", "same-key");
    assertEquals(Result.DONE, h.apply(rel));
    Holder later = granted(h.lock("r", 1, "same-key")); // a later holder (with the same key)
    assertEquals(Result.DONE, h.replay(rel));
    assertEquals(List.of(), h.rec.opsBesideMeta());
    assertEquals(later, h.holder("r", "same-key"));
  }

  @Test
  void replayedRenewAndFlushAndCloseReturnTheOriginalOutcome() {
    granted(h.lockLeased("r", 1, "k", 1_000));
    Command.Renew renew = new Command.Renew(h.now, h.origin(), "r", "k", 2_000);
    Result renewed = h.apply(renew);
    h.now += 500;
    assertEquals(renewed, h.replay(renew));
    assertEquals(((Result.Renewed) renewed).holder(), h.holder("r", "k"), "the retry did not extend again");

    Command.Flush flush = new Command.Flush(h.now, h.origin(), List.of(), "");
    assertEquals(List.of("r"), names(h.apply(flush)));
    granted(h.lock("r2", 1, "k"));
    assertEquals(List.of("r"), names(h.replay(flush)));
    assertTrue(h.table.isLocked("r2"), "the retried flush released nothing");

    long s = session(h.openSession(1_000)).id();
    granted(h.lockInSession("s", 1, "k", s));
    Command.CloseSession close = new Command.CloseSession(h.now, h.origin(), s, h.keyOf(s));
    assertEquals(List.of("s"), names(h.apply(close)));
    assertEquals(List.of("s"), names(h.replay(close)));
  }

  @Test
  void replayedOpenSessionReturnsTheSameSession() {
    Command.OpenSession open = new Command.OpenSession(h.now, h.origin(), 1_000, "o", "secret");
    Session s = session(h.apply(open));
    h.now += 10;
    Session again = session(h.replay(open));
    assertEquals(s.id(), again.id());
    assertEquals("secret", again.key(), "the retry gets the same session key back");
    assertEquals(1, h.table.sessionCount());
    assertEquals(List.of(), h.rec.opsBesideMeta());
  }

  @Test
  void differentClientsWithTheSameRequestIdAreDistinct() {
    granted(h.apply(h.acquireCmd(Origin.of("A", 7), "d", 2, "ka", 0, -1, false, 0, false, 0, 1)));
    granted(h.apply(h.acquireCmd(Origin.of("B", 7), "d", 2, "kb", 0, -1, false, 0, false, 0, 1)));
    assertEquals(2, h.table.holderCount());
  }

  @Test
  void aSettleMarkForgetsOutcomesAndRefusesLateCopies() {
    long s = session(h.openSession(10_000)).id(); // the client has a live session: its outcomes wait for its marks
    Command.Acquire t1 = h.acquireCmd("m", 1, "k1", 0, -1, true, 0);
    granted(h.apply(t1));
    Command.Release r2 = new Command.Release(h.now, h.origin(), "m", "k1");
    assertEquals(Result.DONE, h.apply(r2));
    assertEquals(3, h.table.outcomeCount(), "open session, the grant released, the release");
    // the next request says: everything up to r2 is settled
    long next = h.req();
    granted(h.apply(h.acquireCmd(new Origin(h.client, next, r2.origin().requestId()), "m", 1, "k3", 0, -1, true, 0,
        false, 0, 1)));
    assertEquals(0, h.table.outcomeCount());
    assertTrue(h.rec.ops.contains("deleteOutcome " + h.client + ":" + r2.origin().requestId()), h.rec.ops.toString());
    // a late copy of a settled request is refused, not applied again
    Result.Failure late = failed(h.replay(t1), ErrorCode.INVALID_ARGUMENT);
    assertTrue(late.message().contains("settled"), late.message());
    failed(h.replay(r2), ErrorCode.INVALID_ARGUMENT);
    assertEquals(List.of("k3"), h.holderKeys("m"));
    // a mark never covers the request that carries it
    Origin self = new Origin(h.client, h.req(), Long.MAX_VALUE);
    notAcquired(h.apply(h.acquireCmd(self, "m", 1, "k4", 0, -1, true, 0, false, 0, 1)));
    assertNotNull(h.table.outcome(h.client, self.requestId()));
    assertNotNull(h.table.session(s));
  }

  @Test
  void aKeepAliveSettlesPreciselyAroundALongWait() {
    long s = session(h.openSession(10_000)).id();
    granted(h.lock("busy", 1, "h"));
    Command.Acquire longWait = h.acquireCmd("busy", 1, "w", 0, -1, false, s);
    queued(h.apply(longWait));
    List<Long> tries = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Command.Acquire t = h.acquireCmd("free" + i, 1, "k", 0, -1, true, 0);
      granted(h.apply(t));
      Command.Release r = new Command.Release(h.now, h.origin(), "free" + i, "k");
      h.apply(r);
      tries.add(r.origin().requestId());
    }
    long before = h.table.outcomeCount();
    assertTrue(before >= 10, "outcomes of the tries: " + before);
    long last = tries.get(tries.size() - 1);
    h.apply(new Command.KeepAlive(h.now, new Origin(h.client, h.req(), last), s, h.keyOf(s),
        List.of(longWait.origin().requestId())));
    assertEquals(0, h.table.outcomeCount(), "all settled except the long wait, which has no outcome yet");
    // the long wait is still unsettled: it can time out and its retry gets the timeout
    h.apply(new Command.Abandon(h.now, Origin.of(h.client, 0), longWait.origin().requestId(), Long.MAX_VALUE));
    failed(h.replay(longWait), ErrorCode.WAIT_CANCELLED);
    // but a settled try is refused as a late copy
    failed(h.apply(new Command.Release(h.now, Origin.of(h.client, tries.get(0)), "free0", "k")),
        ErrorCode.INVALID_ARGUMENT);
    rejectedWithoutChange(new Command.KeepAlive(h.now, h.origin(), s, h.keyOf(s),
        java.util.Collections.nCopies(Limits.UNSETTLED_IDS_MAX + 1, 1L)), ErrorCode.INVALID_ARGUMENT);
  }

  @Test
  void aClientWithASessionMayLeaveOnlySoManyOutcomesUnsettled() {
    h.apply(new Command.Refresh(h.now, new Capacity(100, 100, 10, 100, 10, 3, 100, 60_000)));
    session(h.openSession(10_000)); // outcome 1
    granted(h.tryLock("x", 1, "a"));
    h.unlock("x", "a"); // outcomes 2, 3
    Result.Failure f = failed(h.tryLock("y", 1, "b"), ErrorCode.LIMIT_EXCEEDED);
    assertTrue(f.message().contains("settled_up_to"), f.message());
    // a release is never refused for it, and a mark frees room
    granted(h.apply(h.acquireCmd(new Origin(h.client, h.req(), h.nextRequestId - 2), "y", 1, "b", 0, -1, true, 0,
        false, 0, 1)));
  }

  @Test
  void outcomesOfAClientWithoutASessionAgeOutButWaitersAreKept() {
    h.apply(new Command.Refresh(h.now, new Capacity(100, 100, 10, 100, 10, 3, 100, 60_000)));
    long t0 = h.now;
    granted(h.lock("o", 1, "h"));
    Command.Acquire try1 = h.acquireCmd("o", 1, "t", 0, -1, true, 0);
    notAcquired(h.apply(try1));
    Command.Acquire waiting = h.acquireCmd("o", 1, "w", 0, -1, false, 0);
    Waiter w = queued(h.apply(waiting));
    assertEquals(1, h.table.outcomeCount(), "the try's answer (a live hold and a waiter need none)");
    h.expireAt(t0 + 60_000);
    assertEquals(1, h.table.outcomeCount(), "kept exactly at the retention");
    assertFalse(h.table.hasExpiryDue(t0 + 60_000));
    assertTrue(h.table.hasExpiryDue(t0 + 60_001));
    h.expireAt(t0 + 60_001);
    assertEquals(0, h.table.outcomeCount());
    assertNull(h.table.outcome(h.client, try1.origin().requestId()));
    // the waiter is still found by its request id
    assertEquals(w, queued(h.replay(waiting)));
    assertEquals(List.of("h"), h.holderKeys("o"));
  }

  @Test
  void sessionlessOutcomesAreBoundedAndTheOldestIsForgottenFirst() {
    h.apply(new Command.Refresh(h.now, new Capacity(100, 100, 10, 100, 10, 3, 4, 60_000)));
    List<Command.Acquire> tries = new ArrayList<>();
    granted(h.lock("full", 1, "h"));
    for (int i = 0; i < 6; i++) {
      h.client = "client-" + i;
      h.now += 1;
      Command.Acquire t = h.acquireCmd("full", 1, "t" + i, 0, -1, true, 0);
      notAcquired(h.apply(t));
      tries.add(t);
    }
    assertTrue(h.table.outcomeCount() <= 4, "outcomes " + h.table.outcomeCount());
    assertNull(h.table.outcome("client-0", tries.get(0).origin().requestId()));
    assertNotNull(h.table.outcome("client-5", tries.get(5).origin().requestId()));
  }

  @Test
  void aSessionsEndAgesItsClientsOutcomesAndAnIdleClientIsForgotten() {
    long t0 = h.now;
    long s = session(h.openSession(1_000)).id();
    granted(h.tryLock("a", 1, "k"));
    h.unlock("a", "k");
    long kept = h.table.outcomeCount();
    assertEquals(3, kept);
    h.now = t0 + 10;
    h.closeSession(s);
    // kept for the sessionless retention from the end, then forgotten with the client's marks
    h.expireAt(t0 + 10 + Capacity.DEFAULT.sessionlessOutcomeRetentionMs());
    assertEquals(4, h.table.outcomeCount(), "three aged outcomes and the close's own answer");
    h.expireAt(t0 + 11 + Capacity.DEFAULT.sessionlessOutcomeRetentionMs());
    assertEquals(0, h.table.outcomeCount());
    assertEquals(1, h.table.clientCount(), "idle: marks kept for the retention");
    h.expireAt(t0 + 12 + 2 * Capacity.DEFAULT.sessionlessOutcomeRetentionMs());
    assertEquals(0, h.table.clientCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Keys and request identity
  // ------------------------------------------------------------------------------------------------

  @Test
  void aKeyThatAlreadyHoldsOrWaitsIsRejected() {
    granted(h.lock("dup", 1, "h"));
    rejectedWithoutChange(h.acquireCmd("dup", 1, "h", 0, -1, false, 0), ErrorCode.INVALID_KEY);
    queued(h.lock("dup", 1, "w"));
    // a second waiter with the key of a queued one would become a second holder with the same key
    rejectedWithoutChange(h.acquireCmd("dup", 1, "w", 0, -1, false, 0), ErrorCode.INVALID_KEY);
    h.unlock("dup", "h");
    assertEquals(List.of("w"), h.holderKeys("dup"));
    // the same key on another lock is fine
    granted(h.lock("other", 1, "w"));
  }

  @Test
  void aWaitRequiresARequestIdentity() {
    granted(h.lock("anon", 1, "h"));
    // without (clientId, requestId) a queued waiter could not be told apart, retried or abandoned
    for (Origin o : List.of(Origin.of("", 0), Origin.of("x", 0), Origin.of("", 5))) {
      rejectedWithoutChange(h.acquireCmd(o, "anon", 1, "w", 0, -1, false, 0, false, 0, 1), ErrorCode.INVALID_ARGUMENT);
    }
    // an anonymous request that does not wait is fine, and nothing is remembered of it
    notAcquired(h.apply(h.acquireCmd(Origin.NONE, "anon", 1, "t", 0, -1, true, 0, false, 0, 1)));
    granted(h.apply(h.acquireCmd(Origin.NONE, "free", 1, "t", 0, -1, false, 0, false, 0, 1)));
    assertEquals(0, h.table.waiterCount());
    assertEquals(0, h.table.outcomeCount());
  }

  // ------------------------------------------------------------------------------------------------
  // Limits
  // ------------------------------------------------------------------------------------------------

  @Test
  void waitersPerLockAreLimited() {
    LockTable t = new LockTable();
    long index = 0;
    int max = Capacity.DEFAULT.waitersPerLockMax();
    granted(t.apply(++index, 0, new Command.Acquire(1_000, Origin.of("c", index), "busy", 1, 0, -1, false, 0, "", false,
        0, 1, "", "h"), Changes.NONE));
    for (int i = 0; i < max; i++) {
      queued(t.apply(++index, 0, new Command.Acquire(1_000, Origin.of("c", index), "busy", 1, 0, -1, false, 0, "",
          false, 0, 1, "", "w" + i), Changes.NONE));
    }
    Meta before = t.meta();
    Result over = t.apply(++index, 0, new Command.Acquire(2_000, Origin.of("c", index), "busy", 1, 0, -1, false, 0, "",
        false, 0, 1, "", "x"), Changes.NONE);
    assertEquals(ErrorCode.LIMIT_EXCEEDED, assertInstanceOf(Result.Failure.class, over).code());
    assertEquals(before, t.meta());
    assertEquals(max, t.waiterCount());
    t.checkInvariants();
    // a free place in the queue takes a waiter again
    assertEquals(Result.DONE, t.apply(++index, 0, new Command.Release(2_000, Origin.of("c", index), "busy", "h"),
        Changes.NONE));
    queued(t.apply(++index, 0, new Command.Acquire(2_000, Origin.of("c", index), "busy", 1, 0, -1, false, 0, "", false,
        0, 1, "", "x"), Changes.NONE));
    assertEquals(List.of("w0"), t.getLock("busy").holders().stream().map(Holder::key).toList());
  }

  @Test
  void flushNamesAreLimited() {
    populate();
    List<String> many = new ArrayList<>();
    for (int i = 0; i <= Limits.FLUSH_NAMES_MAX; i++) {
      many.add("n" + i);
    }
    Result.Failure f = rejectedWithoutChange(new Command.Flush(h.now, h.origin(), many, ""), ErrorCode.INVALID_ARGUMENT);
    assertTrue(f.message().contains(String.valueOf(Limits.FLUSH_NAMES_MAX)), f.message());
    many.remove(many.size() - 1);
    assertEquals(List.of(), names(h.apply(new Command.Flush(h.now, h.origin(), many, ""))));
  }

  @Test
  void aReadListsAtMostSoManyHoldersAndCountsThemAll() {
    int n = Limits.REPLY_HOLDERS_MAX + 5;
    for (int i = 0; i < n; i++) {
      granted(h.apply(h.acquireCmd(Origin.NONE, "wide", 10_000, "k" + i, 0, -1, true, 0, false, 0, 1)));
    }
    LockView v = h.table.getLock("wide");
    assertEquals(Limits.REPLY_HOLDERS_MAX, v.holders().size());
    assertEquals(n, v.holderCount());
    assertEquals("k0", v.holders().get(0).key(), "in grant order");
  }

  // ------------------------------------------------------------------------------------------------
  // Queries
  // ------------------------------------------------------------------------------------------------

  @Test
  void listPagesByPrefix() {
    for (String n : List.of("app/a", "app/b", "app/c", "apq", "ap", "zzz")) {
      granted(h.lock(n, 1, "k"));
    }
    Function<List<LockView>, List<String>> names = l -> l.stream().map(LockView::name).toList();
    assertEquals(List.of("app/a", "app/b", "app/c"), names.apply(h.table.list("app/", "", 10)));
    assertEquals(List.of("app/a", "app/b"), names.apply(h.table.list("app/", "", 2)));
    assertEquals(List.of("app/c"), names.apply(h.table.list("app/", "app/b", 2)));
    assertEquals(List.of(), names.apply(h.table.list("app/", "app/c", 2)));
    assertEquals(6, h.table.list("", "", 100).size());
    assertEquals(List.of("ap", "app/a"), names.apply(h.table.list("ap", "", 2)));
    assertEquals(1, h.table.list("zzz", "", 10).get(0).holderCount());
  }
}
