package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.common.util.concurrent.ListenableFuture;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.LockResponse;
import io.hasp.statemachine.LockStateMachine;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.ratis.util.CodeInjectionForTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node loads its state on a thread of its own at start: it votes and replicates meanwhile (a cluster restarted
 * as a whole elects its leader while the loads run), and nothing is read from or applied to its state until the
 * load is done. The test holds every node's load back with Ratis' fault-injection point.
 */
class StateLoadTest {
  @TempDir Path dir;
  private InProcessCluster cluster;
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void stop() {
    CodeInjectionForTesting.remove(LockStateMachine.LOAD_INJECTION);
    release.countDown();
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aClusterRestartedAsAWholeElectsWhileItLoadsAndAnswersOnlyFromTheLoadedState() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    Rpc a = new Rpc();
    LockResponse held = cluster.stub(leader).lock(a.lock("load-a").build());
    long lastToken = held.getGrant().getToken();
    for (int i = 0; i < 20; i++) {
      lastToken = cluster.stub(leader).lock(a.lock("load-b" + i).build()).getGrant().getToken();
    }
    for (int i = 0; i < 3; i++) {
      cluster.stop(i);
    }

    AtomicInteger heldBack = new AtomicInteger();
    CodeInjectionForTesting.put(LockStateMachine.LOAD_INJECTION, (local, remote, args) -> {
      heldBack.incrementAndGet();
      try {
        release.await(120, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return true;
    });
    for (int i = 0; i < 3; i++) {
      cluster.restart(i); // returns while the node's load is held back
    }
    LdlmClusterTest.await(Duration.ofSeconds(30), "every load held back", () -> heldBack.get() == 3);
    int newLeader = cluster.leaderIndex(Duration.ofSeconds(60));
    assertEquals(1, release.getCount(), "the leader was elected while every load was held back");
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> ready = cluster.httpGet(i, "/ready");
      assertEquals(503, ready.statusCode(), ready.body());
      assertTrue(ready.body().contains("loading its state"), ready.body());
    }

    ListenableFuture<GetLockResponse> read = cluster.futureStub(newLeader)
        .getLock(GetLockRequest.newBuilder().setName("load-a").build());
    ListenableFuture<LockResponse> write = cluster.futureStub(newLeader).lock(new Rpc().lock("load-c").build());
    // Nothing can be answered truthfully before the load: no answer at all, or a refusal (then asked again).
    try {
      GetLockResponse early = read.get(1, TimeUnit.SECONDS);
      fail("answered before the state was loaded: " + early);
    } catch (TimeoutException | ExecutionException expected) {
      // not answered (or refused) while loading
    }
    assertFalse(write.isDone() && !failed(write), "a write was applied before the state was loaded");

    release.countDown();
    GetLockResponse info = failed(read) ? cluster.stub(newLeader)
        .getLock(GetLockRequest.newBuilder().setName("load-a").build()) : read.get(60, TimeUnit.SECONDS);
    assertEquals(1, info.getLock().getHolderCount(), info.toString());
    assertEquals(held.getGrant().getToken(), info.getLock().getHolders(0).getToken());
    LockResponse c = failed(write) ? cluster.stub(newLeader).lock(new Rpc().lock("load-c").build())
        : write.get(60, TimeUnit.SECONDS);
    assertTrue(c.getGrant().getToken() > lastToken, "tokens go on from the loaded state: " + c.getGrant());
    for (int i = 0; i < 3; i++) {
      int node = i;
      LdlmClusterTest.await(Duration.ofSeconds(60), "node " + node + " ready",
          () -> cluster.httpStatus(node, "/ready") == 200);
      GetLockResponse b = cluster.stub(node).getLock(GetLockRequest.newBuilder().setName("load-b19").build());
      assertEquals(lastToken, b.getLock().getHolders(0).getToken(), "node " + node);
    }
  }

  private static boolean failed(ListenableFuture<?> f) {
    if (!f.isDone()) {
      return false;
    }
    try {
      f.get();
      return false;
    } catch (ExecutionException e) {
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return true;
    }
  }
}
