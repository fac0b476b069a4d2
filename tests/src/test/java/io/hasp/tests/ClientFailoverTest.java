package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The client through leader kills and a session lost while its node is down. */
class ClientFailoverTest extends FreshClusterTest {

  @Test
  void sixteenThreadsThroughLeaderKillAndRestart() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    try (HaspClient client = HaspClient.builder().endpoints(cluster.endpoints())
        .callTimeout(Duration.ofSeconds(8)).build()) {
      ConcurrentHashMap<String, Long> lastToken = new ConcurrentHashMap<>();
      ConcurrentHashMap<String, Boolean> held = new ConcurrentHashMap<>();
      List<String> violations = new CopyOnWriteArrayList<>();
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
      ExecutorService pool = Executors.newFixedThreadPool(16);
      List<Future<?>> workers = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        String name = "fo-" + (t % 4);
        workers.add(pool.submit(() -> {
          while (System.nanoTime() < end) {
            try (LockHandle h = client.lock(name, LockOptions.builder().waitTimeout(Duration.ofSeconds(5)).build())) {
              if (held.putIfAbsent(name, true) != null) {
                violations.add("two holders of " + name);
              }
              Long prev = lastToken.put(name, h.token());
              if (prev != null && prev >= h.token()) {
                violations.add("token of " + name + " went from " + prev + " to " + h.token());
              }
              held.remove(name);
              ok.incrementAndGet();
            } catch (HaspException e) {
              failed.incrementAndGet();
            }
          }
        }));
      }
      ProcessCluster.sleep(3_000);
      int leader = cluster.leaderIndex(Duration.ofSeconds(60));
      cluster.kill(leader);
      ProcessCluster.sleep(3_000);
      cluster.restart(leader);
      for (Future<?> w : workers) {
        w.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();
      assertEquals(List.of(), violations);
      assertTrue(ok.get() > 50, "ok " + ok.get() + ", failed " + failed.get());
      LockHandle after = client.lock("fo-0");
      assertTrue(after.token() > lastToken.get("fo-0"), "the same client works after the failover");
      after.close();
    }
  }

  @Test
  void sessionLostWhileCutOffFromTheQuorumIsReportedThenANewSessionWorks() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    List<String> lost = new CopyOnWriteArrayList<>();
    try (HaspClient client = HaspClient.builder().endpoints(cluster.endpoints())
        .sessionTtl(Duration.ofSeconds(1)).callTimeout(Duration.ofSeconds(3))
        .lockLostListener((h, e) -> lost.add(h.name() + ":" + e.code())).build()) {
      LockHandle h = client.lock("lost-me");
      // Cut the client off from any quorum for longer than its session TTL.
      int leader = cluster.leaderIndex(Duration.ofSeconds(60));
      int other = (leader + 1) % 3;
      cluster.stop(leader);
      cluster.stop(other);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (lost.isEmpty() && System.nanoTime() < deadline) {
        ProcessCluster.sleep(100);
      }
      assertEquals(List.of("lost-me:SESSION_EXPIRED"), lost);
      assertTrue(!h.isValid());
      cluster.restart(leader);
      cluster.restart(other);
      cluster.leaderIndex(Duration.ofSeconds(60));
      LockHandle again = client.lock("lost-me", LockOptions.builder().waitTimeout(Duration.ofSeconds(60)).build());
      assertTrue(again.isValid());
      assertTrue(again.token() > h.token());
      again.close();
    }
  }

  /**
   * Failover across an outage of the whole cluster, as users call it: a primary holds its lock (defaults: tied
   * to its client's session), every node stops, a standby calls {@code lock()} with no wait timeout during the
   * outage, the outage outlasts the session TTL (the primary's client reports its hold lost), the cluster comes
   * back: the standby is granted within seconds. Two things made it late. gRPC's reconnect backoff had grown to
   * tens of seconds on every channel (without Transport.reconnectNow: granted 11.6 s after the cluster served).
   * And a new leader gives every session a full TTL again, so the lost primary's session blocked the lock for
   * another TTL unless its client closed it on reconnecting (without ClientSession.release: 8.7 s).
   */
  @Test
  void aStandbyWaitingWithoutTimeoutTakesOverAfterAnOutageOfTheWholeCluster() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    List<String> lost = new CopyOnWriteArrayList<>();
    try (HaspClient primaryClient = HaspClient.builder().endpoints(cluster.endpoints())
        .lockLostListener((h, e) -> lost.add(h.name() + ":" + e.code())).build();
        HaspClient standbyClient = HaspClient.builder().endpoints(cluster.endpoints()).build()) {
      LockHandle primary = primaryClient.lock("outage-primary");
      standbyClient.tryLock("outage-warm-up").orElseThrow().close(); // both clients are connected
      for (int i = 0; i < 3; i++) {
        cluster.stop(i);
      }
      CompletableFuture<LockHandle> standby =
          CompletableFuture.supplyAsync(() -> standbyClient.lock("outage-primary"));
      ProcessCluster.sleep(45_000); // the outage itself: its length is what grows the backoff
      assertFalse(standby.isDone(), "no grant without a cluster: " + standby);
      assertEquals(List.of("outage-primary:SESSION_EXPIRED"), lost, "the primary was told it lost its hold");
      assertFalse(primary.isValid());
      for (int i = 0; i < 3; i++) {
        cluster.restart(i);
      }
      cluster.leaderIndex(Duration.ofSeconds(60));
      long serving = System.nanoTime();
      LockHandle h = standby.get(120, TimeUnit.SECONDS);
      long lateMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - serving);
      assertTrue(lateMs < 6_000, "granted " + lateMs + " ms after the cluster served again");
      assertTrue(h.isValid());
      assertTrue(h.token() > primary.token());
      h.close();
    }
  }
}
