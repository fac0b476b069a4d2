package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.StatusRuntimeException;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.server.Errors;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node removed from the group and started again on its old data (not as a joining node) refuses to start,
 * with exit code 2 and a message that says how to bring it back, instead of idling in Ratis' initializing state
 * (it would neither campaign nor vote, and added back as it is it would never become a working voter).
 */
class RemovedNodeRestartTest extends FreshClusterTest {
  @Test
  void removedNodeRestartedOnItsOldDataRefusesToStart() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    int victim = (leader + 1) % 3;
    String id = cluster.id(victim);
    removeOnLeader(id);
    awaitExit(victim, id + " did not exit after its removal");

    // refused by the removal it recorded, then, without that record, by the configuration in its log
    java.nio.file.Path marker = cluster.dataDir(victim).resolve("REMOVED");
    assertTrue(java.nio.file.Files.exists(marker), "the removal is recorded in " + marker);
    for (String by : List.of("was removed from the group (", "not a member of the group in the latest configuration")) {
      IllegalStateException refused = assertThrows(IllegalStateException.class, () -> cluster.restart(victim),
          "a removed node started on its old data must not come up");
      String why = refused.getMessage();
      assertTrue(why.contains("exited with 2"), why);
      assertTrue(why.contains("refusing to start") && why.contains(by), why);
      assertTrue(why.contains("empty data directory") && why.contains("join=true")
          && why.contains("member add " + id + "=" + cluster.raftAddress(victim) + "/" + cluster.endpoint(victim)), why);
      java.nio.file.Files.deleteIfExists(marker);
    }

    // the others go on as a group of two
    int still = cluster.leaderIndex(Duration.ofSeconds(60));
    assertTrue(still != victim);
  }

  /**
   * A follower that was down while the others removed it never got the configuration that leaves it out, so its
   * data does not say it was removed and it starts. Its first election asks the leader, which answers that it is
   * no member: it exits as a removed node (exit 0, the removal message), not as one whose state machine failed
   * (exit 70 and a message about its state: an on-failure restart policy would start it again and again). It
   * records that in its data directory, so a second start refuses at once (exit 2) as on data that says so.
   */
  @Test
  void nodeDownThroughItsRemovalExitsAsRemovedThenRefusesToStart() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    int victim = (leader + 1) % 3;
    String id = cluster.id(victim);
    cluster.kill(victim);
    removeOnLeader(id);
    try {
      cluster.restart(victim); // it may be told before it is ready, or after
    } catch (IllegalStateException exitedBeforeReady) {
      // checked below
    }
    awaitExit(victim, id + " did not exit after it learned of its removal");
    String log = java.nio.file.Files.readString(cluster.logFile(victim));
    String firstStart = log.substring(log.lastIndexOf("---- start "));
    assertEquals(0, cluster.exitValue(victim), "first start:\n" + cluster.tail(victim));
    assertTrue(firstStart.contains("was removed from the group"), "first start:\n" + cluster.tail(victim));

    IllegalStateException refused = assertThrows(IllegalStateException.class, () -> cluster.restart(victim),
        "a second start on the same data must refuse");
    String why = refused.getMessage() + "\n" + cluster.tail(victim);
    assertTrue(why.contains("exited with 2"), why);
    assertTrue(why.contains("refusing to start") && why.contains("was removed from the group")
        && why.contains("empty data directory") && why.contains("join=true"), why);
  }

  /** Waits (60 s at most) until node i's process has exited; fails with {@code what} and its log's tail. */
  private void awaitExit(int i, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (cluster.isRunning(i)) {
      assertTrue(System.nanoTime() < deadline, what + ":\n" + cluster.tail(i));
      ProcessCluster.sleep(100);
    }
  }

  /** Sends the removal to each running node until the leader carries it out (bounded). */
  private void removeOnLeader(String id) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    StatusRuntimeException last = null;
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < cluster.size(); i++) {
        if (!cluster.isRunning(i)) {
          continue;
        }
        try {
          HaspAdminGrpc.newBlockingStub(cluster.channel(i)).withDeadlineAfter(30, TimeUnit.SECONDS)
              .removeMember(RemoveMemberRequest.newBuilder().setId(id).build());
          return;
        } catch (StatusRuntimeException e) {
          String code = e.getTrailers() == null ? null : e.getTrailers().get(Errors.ERROR_CODE);
          if (code != null && !code.equals("NOT_LEADER") && !code.equals("NO_QUORUM")) {
            throw e;
          }
          last = e;
        }
      }
      ProcessCluster.sleep(100);
    }
    throw new AssertionError("no leader removed " + id, last);
  }
}
