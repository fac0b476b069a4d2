package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.NodeStats;
import io.hasp.tests.ldlmwire.ErrorCode;
import io.hasp.tests.ldlmwire.LockRequest;
import io.hasp.tests.ldlmwire.LockResponse;
import io.hasp.tests.ldlmwire.TryLockRequest;
import io.hasp.tests.ldlmwire.UnlockResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * LDLM's gRPC protocol against a real 3-node cluster, through each node in turn (leader and followers), by a client
 * built only from the tests' own {@code ldlm_wire.proto} (issue 16, acceptance 1 and 2): lock, try-lock from a second
 * connection, wait timeout, unlock, renew and the RefreshLock alias, lease expiry, size N and size mismatch,
 * release when the holder's connection closes (within 2 s) and when its node is killed (within TTL + 2 s), errors
 * inside the response with LDLM's codes and the cluster's state unchanged, and a given-up or closed waiting Lock
 * leaving nothing behind.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LdlmWireTest extends LdlmClusterTest {
  @BeforeAll
  static void start() throws Exception {
    startCluster(Map.of());
  }

  static void assertLocked(LockResponse r, String name) {
    assertTrue(r.getLocked(), "not locked: " + r);
    assertFalse(r.hasError(), r.toString());
    assertEquals(name, r.getName());
    UUID.fromString(r.getKey()); // the key is a server-made UUID
  }

  static void assertError(LockResponse r, ErrorCode code) {
    assertFalse(r.getLocked(), r.toString());
    assertTrue(r.hasError(), "no error in " + r);
    assertEquals(code, r.getError().getCode(), r.toString());
  }

  static void assertError(UnlockResponse r, ErrorCode code) {
    assertFalse(r.getUnlocked(), r.toString());
    assertTrue(r.hasError(), "no error in " + r);
    assertEquals(code, r.getError().getCode(), r.toString());
  }

  @Test
  @Order(1)
  void lockTryLockWaitTimeoutUnlockThroughEachNode() throws Exception {
    for (int i = 0; i < 3; i++) {
      String n = name("basic-n" + (i + 1));
      LdlmWireClient a = client(i);
      LdlmWireClient b = client(i);
      LockResponse held = a.lock(n);
      assertLocked(held, n);
      GetLockResponse seen = get(n);
      assertEquals(1, seen.getLock().getHolderCount(), "Hasp sees the hold");
      assertTrue(seen.getLock().getHolders(0).getToken() > 0, "with a fencing token");

      LockResponse tried = b.tryLock(n);
      assertFalse(tried.getLocked(), "try-lock from a second connection: " + tried);
      assertFalse(tried.hasError(), tried.toString());

      long t0 = System.nanoTime();
      LockResponse timedOut = b.lock(LockRequest.newBuilder().setName(n).setWaitTimeoutSeconds(1).build());
      long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertError(timedOut, ErrorCode.LockWaitTimeout);
      assertTrue(waitedMs >= 900, "answered after " + waitedMs + " ms, before the 1 s wait timeout");
      await(Duration.ofSeconds(10), "the timed-out waiter is gone", () -> waiters(n) == 0);

      assertError(b.unlock(n, UUID.randomUUID().toString()), ErrorCode.InvalidLockKey);
      // a waiting Lock (no timeout) through this node is granted when the holder unlocks
      ListenableFuture<LockResponse> waiting = b.futureStub().lock(LockRequest.newBuilder().setName(n).build());
      await(Duration.ofSeconds(10), "the Lock is queued", () -> waiters(n) == 1);
      UnlockResponse u = a.unlock(n, held.getKey());
      assertTrue(u.getUnlocked(), u.toString());
      assertEquals(n, u.getName());
      LockResponse granted = waiting.get(10, TimeUnit.SECONDS);
      assertLocked(granted, n);
      assertError(a.unlock(n, held.getKey()), ErrorCode.InvalidLockKey);
      assertTrue(b.unlock(n, granted.getKey()).getUnlocked());
      assertError(b.unlock(n, granted.getKey()), ErrorCode.LockDoesNotExist);
      assertLocked(a.tryLock(n), n);
    }
  }

  @Test
  @Order(2)
  void renewRefreshLockAliasAndLeaseExpiryThroughEachNode() {
    for (int i = 0; i < 3; i++) {
      String n = name("lease-n" + (i + 1));
      LdlmWireClient a = client(i);
      LdlmWireClient b = client((i + 1) % 3);
      LockResponse held = a.lock(LockRequest.newBuilder().setName(n).setLockTimeoutSeconds(2).build());
      assertLocked(held, n);
      LockResponse renewed = a.renew(n, held.getKey(), 3);
      assertLocked(renewed, n);
      assertEquals(held.getKey(), renewed.getKey());
      LockResponse refreshed = a.refreshLock(n, held.getKey(), 3); // the name clients up to v1.1 use
      assertLocked(refreshed, n);
      long renewedAt = System.nanoTime();
      assertFalse(b.tryLock(n).getLocked(), "held while its lease runs");
      assertError(a.renew(n, UUID.randomUUID().toString(), 3), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertError(a.renew(n, held.getKey(), 0), ErrorCode.Unknown);
      assertError(a.renew(name("nothing"), held.getKey(), 3), ErrorCode.LockDoesNotExistOrInvalidKey);

      // a lock taken without a timeout has none to renew (LDLM: LockDoesNotExistOrInvalidKey)
      String plain = name("plain");
      LockResponse p = a.lock(plain);
      assertLocked(p, plain);
      assertError(a.renew(plain, p.getKey(), 5), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertError(a.refreshLock(plain, p.getKey(), 5), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertTrue(a.unlock(plain, p.getKey()).getUnlocked());

      // not renewed again: the lease ends it although its connection lives on
      LockResponse[] taken = new LockResponse[1];
      await(Duration.ofSeconds(10), "the lease expires", () -> (taken[0] = b.tryLock(n)).getLocked());
      long afterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - renewedAt);
      assertTrue(afterMs >= 2_500, "released " + afterMs + " ms after a renew of 3 s");
      assertTrue(afterMs <= 3_000 + 2_000, "released " + afterMs + " ms after a renew of 3 s");
      assertError(a.renew(n, held.getKey(), 3), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertError(a.unlock(n, held.getKey()), ErrorCode.InvalidLockKey);
      assertTrue(b.unlock(n, taken[0].getKey()).getUnlocked());
    }
  }

  @Test
  @Order(3)
  void sizeNAndSizeMismatchThroughEachNode() {
    for (int i = 0; i < 3; i++) {
      String n = name("size-n" + (i + 1));
      LockResponse[] held = new LockResponse[3];
      for (int k = 0; k < 3; k++) {
        held[k] = client((i + k) % 3).tryLock(TryLockRequest.newBuilder().setName(n).setSize(3).build());
        assertLocked(held[k], n);
      }
      LdlmWireClient d = client(i);
      LockResponse full = d.tryLock(TryLockRequest.newBuilder().setName(n).setSize(3).build());
      assertFalse(full.getLocked(), full.toString());
      assertFalse(full.hasError(), full.toString());
      assertError(d.tryLock(TryLockRequest.newBuilder().setName(n).setSize(2).build()), ErrorCode.LockSizeMismatch);
      assertError(d.lock(LockRequest.newBuilder().setName(n).setSize(4).build()), ErrorCode.LockSizeMismatch);
      assertError(d.lock(LockRequest.newBuilder().setName(n).setSize(3).setWaitTimeoutSeconds(1).build()),
          ErrorCode.LockWaitTimeout);
      GetLockResponse g = get(n);
      assertEquals(3, g.getLock().getSize());
      assertEquals(3, g.getLock().getHolderCount());
      assertTrue(client(i).unlock(n, held[1].getKey()).getUnlocked(), "any connection may unlock with the key");
      assertLocked(d.tryLock(TryLockRequest.newBuilder().setName(n).setSize(3).build()), n);
    }
  }

  @Test
  @Order(4)
  void holdersConnectionClosingReleasesWithinTwoSecondsThroughEachNode() throws Exception {
    for (int i = 0; i < 3; i++) {
      String n = name("close-n" + (i + 1));
      LdlmWireClient holder = client(i);
      LdlmWireClient other = client((i + 1) % 3);
      assertLocked(holder.lock(n), n);
      ListenableFuture<LockResponse> waiting = other.futureStub().lock(LockRequest.newBuilder().setName(n).build());
      await(Duration.ofSeconds(10), "the second Lock is queued", () -> waiters(n) == 1);
      long closedAt = System.nanoTime();
      holder.close();
      LockResponse granted = waiting.get(10, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAt);
      assertLocked(granted, n);
      System.out.printf("ldlm: n%d: the waiter was granted %d ms after the holder's connection closed%n", i + 1, ms);
      assertTrue(ms <= 2_000, "granted " + ms + " ms after the holder's connection closed (at most 2 s)");
      assertEquals(1, holders(n));
    }
  }

  @Test
  @Order(5)
  void badInputGetsLdlmCodesInsideOkResponsesAndChangesNothing() {
    // the earlier tests' connections are closed, and with them their sessions
    await(Duration.ofSeconds(20), "no LDLM session is left open", () -> stats().getSessions() == 0);
    NodeStats before = stats();
    String longName = "x".repeat(600);
    for (int i = 0; i < 3; i++) {
      LdlmWireClient c = client(i);
      String n = name("bad-n" + (i + 1));
      // every one of these is answered with status OK (no exception) and an error inside
      assertError(c.lock(""), ErrorCode.Unknown);
      assertTrue(c.lock("").getError().getMessage().contains("empty"), c.lock("").toString());
      assertError(c.tryLock(""), ErrorCode.Unknown);
      assertError(c.lock(LockRequest.newBuilder().setName(n).setLockTimeoutSeconds(-1).build()), ErrorCode.Unknown);
      assertError(c.lock(LockRequest.newBuilder().setName(n).setWaitTimeoutSeconds(-5).build()), ErrorCode.Unknown);
      assertError(c.tryLock(TryLockRequest.newBuilder().setName(n).setLockTimeoutSeconds(-1).build()),
          ErrorCode.Unknown);
      assertError(c.lock(LockRequest.newBuilder().setName(n).setSize(0).build()), ErrorCode.InvalidLockSize);
      assertError(c.tryLock(TryLockRequest.newBuilder().setName(n).setSize(0).build()), ErrorCode.InvalidLockSize);
      assertError(c.tryLock(TryLockRequest.newBuilder().setName(n).setSize(-3).build()), ErrorCode.InvalidLockSize);
      assertError(c.tryLock(longName), ErrorCode.Unknown);
      assertError(c.unlock("", "k"), ErrorCode.LockDoesNotExist);
      assertError(c.unlock(n, "k"), ErrorCode.LockDoesNotExist);
      assertError(c.unlock(n, ""), ErrorCode.LockDoesNotExist);
      assertError(c.renew("", "k", 5), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertError(c.renew(n, "k", 5), ErrorCode.LockDoesNotExistOrInvalidKey);
      assertError(c.renew(n, "k", -1), ErrorCode.Unknown);
      assertFalse(get(n).getExists());
    }
    NodeStats after = stats();
    assertEquals(before, after, "bad input changed the cluster's state");
  }

  @Test
  @Order(6)
  void givenUpLockLeavesNoWaiterAndNoHoldThroughEachNode() {
    for (int i = 0; i < 3; i++) {
      String n = name("cancel-n" + (i + 1));
      LdlmWireClient holder = client(i);
      LdlmWireClient quitter = client(i);
      LockResponse held = holder.lock(n);
      assertLocked(held, n);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> quitter.stub()
          .withDeadlineAfter(1, TimeUnit.SECONDS).lock(LockRequest.newBuilder().setName(n).build()));
      assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
      await(Duration.ofSeconds(10), "the given-up waiter is removed", () -> waiters(n) == 0);
      assertEquals(1, holders(n));
      assertTrue(holder.unlock(n, held.getKey()).getUnlocked());
      await(Duration.ofSeconds(10), "nobody holds it (no grant went to the given-up call)", () -> !get(n).getExists());
      LockResponse again = quitter.tryLock(n); // the connection goes on working
      assertLocked(again, n);
      assertTrue(quitter.unlock(n, again.getKey()).getUnlocked());
    }
  }

  @Test
  @Order(7)
  void closingAClientMidWaitRemovesItsWaiterThroughEachNode() throws Exception {
    for (int i = 0; i < 3; i++) {
      String n = name("midwait-n" + (i + 1));
      LdlmWireClient holder = client(i);
      LdlmWireClient waiter = client(i);
      LockResponse held = holder.lock(n);
      ListenableFuture<LockResponse> waiting = waiter.futureStub().lock(LockRequest.newBuilder().setName(n).build());
      await(Duration.ofSeconds(10), "queued", () -> waiters(n) == 1);
      waiter.close();
      ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof StatusRuntimeException, e.toString());
      await(Duration.ofSeconds(10), "the closed client's waiter is removed", () -> waiters(n) == 0);
      assertTrue(holder.unlock(n, held.getKey()).getUnlocked());
      await(Duration.ofSeconds(10), "nobody holds it after the unlock", () -> !get(n).getExists());
    }
  }

  @Test
  @Order(100)
  void killedNodesClientsLoseTheirLocksWithinTtlPlusTwoSecondsThroughEachNode() throws Exception {
    for (int i = 0; i < 3; i++) {
      String n = name("kill-n" + (i + 1));
      int other = (i + 1) % 3;
      LdlmWireClient holder = client(i);
      LdlmWireClient waiter = client(other);
      assertLocked(holder.lock(n), n);
      ListenableFuture<LockResponse> waiting = waiter.futureStub().lock(LockRequest.newBuilder().setName(n).build());
      await(Duration.ofSeconds(10), "queued", () -> waiters(n) == 1);
      boolean wasLeader = cluster.leaderIndex(Duration.ofSeconds(30)) == i;
      long killedAt = System.nanoTime();
      cluster.kill(i);
      LockResponse granted = waiting.get(30, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      assertLocked(granted, n);
      System.out.printf("ldlm: n%d%s killed: the waiter was granted %d ms later (ldlm.session.ttl %d ms)%n", i + 1,
          wasLeader ? " (the leader)" : "", ms, TTL.toMillis());
      assertTrue(ms <= TTL.toMillis() + 2_000, "granted " + ms + " ms after n" + (i + 1) + (wasLeader ? " (the leader)" : "")
          + " was killed; ldlm.session.ttl is " + TTL.toMillis() + " ms");
      cluster.restart(i);
      cluster.leaderIndex(Duration.ofSeconds(60));
    }
  }
}
