package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.OpenSessionResponse;
import java.nio.file.Path;
import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Expiry and leader hand-over replayed on clocks the test moves: an in-process cluster whose nodes only see the
 * time the test gives them. A "not yet" is shown against a "now" on the same clock: a twin lock with a shorter
 * lease expires first, so the leader's timer has provably run past the moment checked.
 */
class ClockedClusterTest {
  @TempDir Path dir;
  private InProcessCluster cluster;

  @AfterEach
  void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private boolean held(String name) {
    GetLockResponse r = cluster.stub(anyLive()).getLock(GetLockRequest.newBuilder().setName(name).build());
    return r.hasLock() && r.getLock().getHoldersCount() > 0;
  }

  private int anyLive() {
    for (int i = 0; i < cluster.size(); i++) {
      if (cluster.status(i) != null) {
        return i;
      }
    }
    throw new IllegalStateException("no node runs");
  }

  private static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, what + " did not happen within 60 s");
      ProcessCluster.sleep(20);
    }
  }

  /** The highest term a running node reports. */
  private long term() {
    long term = 0;
    for (int i = 0; i < cluster.size(); i++) {
      var s = cluster.status(i);
      if (s != null) {
        term = Math.max(term, s.getTerm());
      }
    }
    return term;
  }

  /** A scenario run within one term: false when the leader changed before it could finish. */
  private interface InTerm {
    boolean run(long term, String tag) throws Exception;
  }

  private void inOneTerm(InTerm scenario) throws Exception {
    Rpc c = new Rpc();
    for (int attempt = 1; attempt <= 3; attempt++) {
      long term = expiring(c, "pilot-" + attempt);
      if (scenario.run(term, "-" + attempt)) {
        return;
      }
    }
    fail("the leader changed during each of 3 attempts");
  }

  /**
   * Moves the clocks in 100 ms steps until a 1 s pilot lease ends: the leader has then applied its term's Refresh
   * and ends holds by its clock. Returns the term read before the pilot was seen gone.
   */
  private long expiring(Rpc c, String pilot) {
    leased(c, pilot, 1_000);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      long term = term();
      if (!held(pilot)) {
        return term;
      }
      assertTrue(System.nanoTime() < deadline, "the leader ended no lease within 60 s");
      cluster.advanceAll(Duration.ofMillis(100));
      ProcessCluster.sleep(20);
    }
  }

  /** Waits for the condition; false when the term moved on first (the new leader extended every deadline). */
  private boolean awaitInTerm(String what, long term, BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (term() != term) {
        return false;
      }
      assertTrue(System.nanoTime() < deadline, what + " did not happen within 60 s");
      ProcessCluster.sleep(20);
    }
    return true;
  }

  private LockResponse leased(Rpc c, String name, long leaseMs) {
    LockResponse r = cluster.stub(anyLive()).tryLock(c.lock(name).setLeaseMs(leaseMs).build());
    assertTrue(r.getLocked(), name);
    return r;
  }

  @Test
  void aLeaseEndsWhenTheLeaderClockPassesItNotBefore() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    inOneTerm((term, tag) -> {
      Rpc c = new Rpc();
      leased(c, "clocked-long" + tag, 10_000);
      leased(c, "clocked-short" + tag, 9_000);
      cluster.advanceAll(Duration.ofMillis(9_500));
      if (!awaitInTerm("the 9 s lease ended at 9.5 s", term, () -> !held("clocked-short" + tag))) {
        return false;
      }
      assertTrue(held("clocked-long" + tag), "a 10 s lease still held at 9.5 s");
      cluster.advanceAll(Duration.ofMillis(1_000));
      return awaitInTerm("the 10 s lease ended at 10.5 s", term, () -> !held("clocked-long" + tag));
    });
  }

  @Test
  void aNewLeaderWithAClockAheadEndsNoLeaseEarly() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    // the followers' clocks run 30 s ahead of the leader's: to them every lease below is long over
    for (int i = 0; i < cluster.size(); i++) {
      if (i != leader) {
        cluster.clock(i).advance(Duration.ofSeconds(30));
      }
    }
    Rpc c = new Rpc();
    leased(c, "handover-lease", 10_000);
    OpenSessionResponse s = cluster.stub(leader).openSession(OpenSessionRequest.newBuilder().setHeader(c.header())
        .setTtlMs(10_000).build());
    LockResponse inSession = cluster.stub(leader).lock(c.lock("handover-session").setSessionId(s.getSessionId())
        .setSessionKey(s.getSessionKey()).build());
    assertTrue(inSession.getLocked());
    cluster.advanceAll(Duration.ofSeconds(6));
    cluster.stop(leader);
    int next = cluster.leaderIndex(Duration.ofSeconds(60));
    // The new leader first refreshes every lease and session to at least its now + their length; an Expire of
    // its own, stamped 36 s after the grants, must not come before that (DESIGN section 3).
    leased(c, "handover-probe", 9_000);
    cluster.advanceAll(Duration.ofMillis(9_500));
    await("the probe lease ended", () -> !held("handover-probe"));
    assertTrue(held("handover-lease"), "the lease survived the hand-over with at least its full length");
    assertTrue(held("handover-session"), "the session survived the hand-over with at least its full TTL");
    cluster.advanceAll(Duration.ofSeconds(1));
    await("the lease ended a full lease after the new leader took over", () -> !held("handover-lease"));
    await("the session ended a full TTL after the new leader took over", () -> !held("handover-session"));
    assertTrue(next != leader);
  }

  @Test
  void aSessionLivesItsTtlFromItsLastKeepAlive() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    inOneTerm((term, tag) -> {
      Rpc c = new Rpc();
      int leader = cluster.leaderIndex(Duration.ofSeconds(60));
      OpenSessionResponse s = cluster.stub(leader).openSession(OpenSessionRequest.newBuilder().setHeader(c.header())
          .setTtlMs(5_000).build());
      OpenSessionResponse probe = cluster.stub(leader).openSession(OpenSessionRequest.newBuilder()
          .setHeader(c.header()).setTtlMs(4_000).build());
      for (OpenSessionResponse x : new OpenSessionResponse[] {s, probe}) {
        assertTrue(cluster.stub(leader).lock(c.lock("ttl-" + x.getSessionId()).setSessionId(x.getSessionId())
            .setSessionKey(x.getSessionKey()).build()).getLocked());
      }
      cluster.advanceAll(Duration.ofMillis(3_000));
      cluster.stub(leader).keepAlive(io.hasp.proto.KeepAliveRequest.newBuilder().setHeader(c.header())
          .setSessionId(s.getSessionId()).setSessionKey(s.getSessionKey()).build());
      // the probe (4 s, never kept alive) ends at 4 s; the kept-alive session lives until 3 + 5 = 8 s
      cluster.advanceAll(Duration.ofMillis(4_500)); // 7.5 s
      if (!awaitInTerm("the probe session ended", term, () -> !held("ttl-" + probe.getSessionId()))) {
        return false;
      }
      assertTrue(held("ttl-" + s.getSessionId()), "kept alive at 3 s with a 5 s TTL: held at 7.5 s");
      cluster.advanceAll(Duration.ofMillis(1_000)); // 8.5 s
      return awaitInTerm("the session ended at 8.5 s", term, () -> !held("ttl-" + s.getSessionId()));
    });
  }

  private long waiters(String name) {
    GetLockResponse r = cluster.stub(anyLive()).getLock(GetLockRequest.newBuilder().setName(name).build());
    return r.hasLock() ? r.getLock().getWaiters() : 0;
  }

  /**
   * A forever lock() whose session expires while it waits (the client could not keep it alive for longer than
   * its TTL; here the cluster's clocks jump past it) is not lost: it is sent again in a new session and granted.
   */
  @Test
  void aForeverWaitOutlivesTheExpiryOfItsSession() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    Rpc c = new Rpc();
    LockResponse holder = leased(c, "requeue", 3_600_000);
    try (HaspClient client = HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(Duration.ofSeconds(2))
        .build()) {
      LockHandle marker = client.lock("requeue-marker"); // held in the session: gone when the session ends
      CompletableFuture<LockHandle> waiting = client.lockAsync("requeue", LockOptions.builder().build());
      await("the wait queued", () -> waiters("requeue") == 1);
      // past the TTL before the next keep-alive: the session ends. A keep-alive applied before the leader's expiry
      // (or a new leader's Refresh) keeps it from the new now on: then the clocks jump again.
      for (int jump = 1; held("requeue-marker"); jump++) {
        assertTrue(jump <= 5, "the session outlived 5 jumps of 5 s past its 2 s TTL");
        cluster.advanceAll(Duration.ofSeconds(5));
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (held("requeue-marker") && System.nanoTime() < until) {
          ProcessCluster.sleep(20);
        }
      }
      // the old waiter left with its session in the same entry: a waiter now is the wait sent again
      await("the wait queued again in a new session", () -> waiters("requeue") == 1);
      assertFalse(waiting.isDone(), "the wait goes on: " + waiting);
      cluster.stub(anyLive()).unlock(c.unlock("requeue", holder.getGrant().getKey()));
      LockHandle h = waiting.get(60, TimeUnit.SECONDS);
      assertTrue(h.sessionId() != marker.sessionId(), "granted in a new session");
      assertTrue(held("requeue"));
      h.close();
    }
  }
}
