package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  private LockResponse leased(Rpc c, String name, long leaseMs) {
    LockResponse r = cluster.stub(anyLive()).tryLock(c.lock(name).setLeaseMs(leaseMs).build());
    assertTrue(r.getLocked(), name);
    return r;
  }

  @Test
  void aLeaseEndsWhenTheLeaderClockPassesItNotBefore() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    Rpc c = new Rpc();
    leased(c, "clocked-long", 10_000);
    leased(c, "clocked-short", 9_000);
    cluster.advanceAll(Duration.ofMillis(9_500));
    await("the 9 s lease ended at 9.5 s", () -> !held("clocked-short"));
    assertTrue(held("clocked-long"), "a 10 s lease still held at 9.5 s");
    cluster.advanceAll(Duration.ofMillis(1_000));
    await("the 10 s lease ended at 10.5 s", () -> !held("clocked-long"));
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
    await("the probe session ended", () -> !held("ttl-" + probe.getSessionId()));
    assertTrue(held("ttl-" + s.getSessionId()), "kept alive at 3 s with a 5 s TTL: held at 7.5 s");
    cluster.advanceAll(Duration.ofMillis(1_000)); // 8.5 s
    await("the session ended at 8.5 s", () -> !held("ttl-" + s.getSessionId()));
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
      cluster.advanceAll(Duration.ofSeconds(5)); // past the TTL before the next keep-alive: the session ends
      await("the session ended", () -> !held("requeue-marker"));
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
