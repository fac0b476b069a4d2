package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.LockResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Snapshots are taken, the log behind them is purged, and a wiped node catches up from a snapshot. */
class SnapshotTest extends FreshClusterTest {
  @Test
  void wipedFollowerCatchesUpFromSnapshot() throws Exception {
    cluster = ProcessCluster.start(3, dir, Map.of("snapshot.threshold.entries", "100", "log.segment.size.bytes", "8192",
        "log.purge.gap.entries", "50"));
    Rpc c = new Rpc();
    List<LockResponse> kept = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      kept.add(cluster.stub(i % 3).lock(c.lock("snap-keep-" + i).setLeaseMs(600_000).build()));
    }
    int ops = 0;
    for (int round = 0; round < 50; round++) {
      List<ListenableFuture<LockResponse>> batch = new ArrayList<>();
      for (int j = 0; j < 64; j++) {
        batch.add(cluster.futureStub(j % 3).tryLock(c.lock("snap-churn-" + (round * 64 + j)).setLeaseMs(200).build()));
      }
      for (ListenableFuture<LockResponse> f : batch) {
        assertTrue(f.get(30, TimeUnit.SECONDS).getLocked());
        ops++;
      }
    }
    assertEquals(3200, ops);
    for (int i = 0; i < 3; i++) {
      ClusterStatusResponse s = cluster.status(i);
      assertTrue(s.getSnapshotIndex() > 0, "node " + i + " has a snapshot: " + s);
      assertTrue(oldestLogIndex(i) > 0, "node " + i + " purged its log behind the snapshot");
    }

    int victim = cluster.followerIndex();
    cluster.stop(victim);
    cluster.wipe(victim);
    for (int j = 0; j < 600; j++) {
      cluster.stub((victim + 1) % 3).tryLock(c.lock("snap-after-" + j).setLeaseMs(200).build());
    }
    // The leader as the live nodes see it, before the wiped node is back: leaderIndex waits until every running
    // node names the same leader, and a wiped node names none until the leader reaches it (on a busy machine,
    // with Ratis' default appender back-off of up to 5 s, that took longer than the wait: "no leader within 30s").
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    long target = cluster.status(leader).getCommitIndex();
    cluster.restart(victim);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (cluster.status(victim) == null || cluster.status(victim).getAppliedIndex() < target) {
      assertTrue(System.nanoTime() < deadline, "wiped node did not catch up: " + cluster.status(victim) + "\n" + cluster.tail(victim) + "\nleader:\n" + cluster.tail(leader));
      ProcessCluster.sleep(100);
    }
    assertTrue(Files.readString(cluster.logFile(victim)).contains("Loading state from snapshot"),
        "the wiped node was restored from a snapshot:\n" + cluster.tail(victim));
    // Make the restored node serve reads from its own state: stop the old leader if that is not the victim.
    if (leader != victim) {
      cluster.kill(leader);
      cluster.leaderIndex(Duration.ofSeconds(60));
    }
    for (LockResponse k : kept) {
      GetLockResponse r = cluster.stub(victim).getLock(GetLockRequest.newBuilder().setName(k.getGrant().getName()).build());
      assertEquals(k.getGrant().getToken(), r.getLock().getHolders(0).getToken(), "restored holder of " + k.getGrant().getName());
    }
  }

  /**
   * A follower whose disk was lost comes back to an idle cluster (no write after it is back): it catches up.
   * Ratis' leader sent such a member only heartbeats against its old progress until some entry was appended
   * (RATIS-2523); the node now asks for a no-op entry while its log is empty.
   */
  @Test
  void wipedFollowerOfAnIdleClusterCatchesUp() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    Rpc c = new Rpc();
    List<LockResponse> kept = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      kept.add(cluster.stub(i % 3).lock(c.lock("idle-keep-" + i).setLeaseMs(600_000).build()));
    }
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    long target = cluster.status(leader).getCommitIndex();
    int victim = cluster.followerIndex();
    // caught up before it goes: the leader's record of its progress is the whole log
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (cluster.status(victim).getAppliedIndex() < target) {
      assertTrue(System.nanoTime() < deadline, "follower did not catch up before the wipe");
      ProcessCluster.sleep(50);
    }
    cluster.stop(victim);
    cluster.wipe(victim);
    cluster.restart(victim);
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cluster.status(victim) == null || cluster.status(victim).getAppliedIndex() < target) {
      assertTrue(System.nanoTime() < deadline, "the wiped follower of an idle cluster did not catch up within 30 s: "
          + cluster.status(victim) + "\n" + cluster.tail(victim) + "\nleader:\n" + cluster.tail(leader));
      ProcessCluster.sleep(100);
    }
    assertEquals(20, cluster.status(victim).getStats().getLocks(), "the wiped follower has every lock again");
  }

  /** The smallest start index of the Raft log segments on node i. */
  private long oldestLogIndex(int node) throws IOException {
    Pattern segment = Pattern.compile("log_(?:inprogress_)?(\\d+)(?:-\\d+)?");
    long oldest = Long.MAX_VALUE;
    try (Stream<Path> files = Files.walk(cluster.dataDir(node).resolve("raft"))) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Matcher m = segment.matcher(p.getFileName().toString());
        if (m.matches()) {
          oldest = Math.min(oldest, Long.parseLong(m.group(1)));
        }
      }
    }
    return oldest;
  }
}
