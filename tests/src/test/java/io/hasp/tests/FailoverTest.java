package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.LockResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** kill -9 of the leader: holders, tokens, queued waiters and leases survive; new grants get larger tokens. */
class FailoverTest extends FreshClusterTest {
  @Test
  void holderAndWaiterSurviveKillOfTheLeader() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    int follower = cluster.followerIndex();
    Rpc a = new Rpc();
    Rpc b = new Rpc();
    LockResponse held = cluster.stub(follower).lock(a.lock("failover").build());
    ListenableFuture<LockResponse> waiter = cluster.futureStub(follower).lock(b.lock("failover").build());
    ClusterApiTestSupport.awaitWaiters(cluster, follower, "failover", 1);

    long killedAt = System.nanoTime();
    cluster.kill(leader);
    int newLeader = cluster.leaderIndex(Duration.ofSeconds(60));
    long electionMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    assertNotEquals(leader, newLeader);
    assertTrue(electionMs < 10_000, "new leader after " + electionMs + " ms");

    GetLockResponse info = cluster.stub(follower).getLock(GetLockRequest.newBuilder().setName("failover").build());
    assertEquals(1, info.getLock().getHoldersCount());
    assertEquals(held.getGrant().getToken(), info.getLock().getHolders(0).getToken(), "same holder, same token");
    assertEquals(1, info.getLock().getWaiters(), "the queued waiter survived");
    assertFalse(waiter.isDone());

    cluster.stub(follower).unlock(a.unlock("failover", held.getGrant().getKey()));
    LockResponse granted = waiter.get(15, TimeUnit.SECONDS);
    assertTrue(granted.getGrant().getToken() > held.getGrant().getToken(), "a new grant has a larger token");
    cluster.stub(newLeader).unlock(b.unlock("failover", granted.getGrant().getKey()));

    cluster.restart(leader);
    LockResponse after = cluster.stub(leader).lock(new Rpc().lock("failover").setLeaseMs(10_000).build());
    assertTrue(after.getGrant().getToken() > granted.getGrant().getToken(), "restarted node serves, tokens still grow");
  }

  @Test
  void leaseDoesNotExpireEarlyBecauseOfFailover() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    int follower = cluster.followerIndex();
    Rpc a = new Rpc();
    long sentAt = System.nanoTime();
    LockResponse held = cluster.stub(follower).lock(a.lock("failover-lease").setLeaseMs(4_000).build());
    ProcessCluster.sleep(1_500);
    cluster.kill(leader);
    cluster.leaderIndex(Duration.ofSeconds(60));
    // Until the lease the client computed from its send time has passed, the holder must still be there.
    while (System.nanoTime() - sentAt < TimeUnit.MILLISECONDS.toNanos(3_900)) {
      GetLockResponse info = cluster.stub(follower).getLock(GetLockRequest.newBuilder().setName("failover-lease").build());
      assertEquals(held.getGrant().getToken(), info.getLock().getHolders(0).getToken(), "lease ended early");
      ProcessCluster.sleep(100);
    }
    // The new leader extended it to at most now + lease at takeover; it then expires on its own.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
    while (cluster.stub(follower).isLocked(IsLockedRequest.newBuilder().setName("failover-lease").build()).getLocked()) {
      assertTrue(System.nanoTime() < deadline, "lease never expired after failover");
      ProcessCluster.sleep(100);
    }
  }

  /**
   * With election timeouts of 6-8 s Ratis alone replaces a killed leader only after 6 s of silence. The survivors
   * see its process gone (its append-entries streams break and its Raft port refuses connections) and one of them
   * starts an election at once (LeaderLoss); the holder is still there afterwards.
   */
  @Test
  void survivorsElectAtOnceWhenTheLeaderProcessIsGone() throws Exception {
    cluster = ProcessCluster.start(3, dir, Map.of("election.timeout.min", "6s", "election.timeout.max", "8s"));
    int leader = cluster.leaderIndex(Duration.ofSeconds(90));
    int follower = cluster.followerIndex();
    Rpc a = new Rpc();
    LockResponse held = cluster.stub(follower).lock(a.lock("gone").build());

    long killedAt = System.nanoTime();
    cluster.kill(leader);
    int newLeader = cluster.leaderIndex(Duration.ofSeconds(60));
    long electionMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    assertNotEquals(leader, newLeader);
    assertTrue(electionMs < 5_000, "a new leader only after " + electionMs + " ms: the survivors waited for their "
        + "election timeout (6-8 s) instead of seeing the leader's process gone; logs: " + cluster.tail(newLeader));
    GetLockResponse info = cluster.stub(follower).getLock(GetLockRequest.newBuilder().setName("gone").build());
    assertEquals(held.getGrant().getToken(), info.getLock().getHolders(0).getToken(), "same holder, same token");
  }

  /**
   * Survivors take turns by id only among logs as complete as theirs: a survivor behind the others (here the first
   * by id, paused while the leader committed entries with the other) would force an election it cannot win, and its
   * vote request would move the other to the next term, where the other's own forced election is refused: with
   * 6-8 s election timeouts the cluster would then wait 6 s. It asks the others for their last entries first and
   * leaves the election to the one ahead, which is elected in the very next term.
   */
  @Test
  void aSurvivorBehindLeavesTheElectionToTheOneAhead() throws Exception {
    cluster = ProcessCluster.start(3, dir, Map.of("election.timeout.min", "6s", "election.timeout.max", "8s"));
    int leader = cluster.leaderIndex(Duration.ofSeconds(90));
    int behind = leader == 0 ? 1 : 0; // the first survivor by id
    int ahead = 3 - leader - behind;
    Rpc a = new Rpc();
    cluster.stub(leader).tryLock(a.lock("behind-first").setLeaseMs(60_000).build());
    long term = cluster.status(leader).getTerm();
    cluster.pause(behind);
    long killedAt;
    try {
      // one entry per call, each sent to the paused follower as its own request: the leader stops sending after
      // 8 unanswered ones (raft.grpc.server.leader.outstanding.appends.max), so the paused one lacks the rest
      for (int k = 0; k < 40; k++) {
        cluster.stub(leader).tryLock(a.lock("behind-" + k).setLeaseMs(60_000).build());
      }
    } finally {
      killedAt = System.nanoTime();
      cluster.kill(leader);
      cluster.resume(behind);
    }
    int newLeader = cluster.leaderIndex(Duration.ofSeconds(60));
    long electionMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    assertEquals(ahead, newLeader, "only the survivor with every committed entry can win");
    assertTrue(electionMs < 5_000, "a new leader only after " + electionMs + " ms: the survivor behind forced an "
        + "election it could not win; logs: " + cluster.tail(behind));
    assertEquals(term + 1, cluster.status(newLeader).getTerm(), "one election after the leader's term");
    assertTrue(cluster.stub(newLeader).isLocked(IsLockedRequest.newBuilder().setName("behind-39").build()).getLocked());
  }
}
