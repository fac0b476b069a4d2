package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Stop every node, start them again: holders, waiter queues and sessions are as before. */
class RestartTest extends FreshClusterTest {
  @Test
  void fullRestartKeepsLocksWaitersAndSessions() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    Rpc a = new Rpc();
    Rpc w = new Rpc();
    var opened = cluster.stub(0).openSession(OpenSessionRequest.newBuilder().setHeader(a.header()).setTtlMs(60_000).build());
    long session = opened.getSessionId();
    LockResponse sessionHold = cluster.stub(1).lock(a.lock("restart-a").setSessionId(session)
        .setSessionKey(opened.getSessionKey()).build());
    LockResponse leaseHold = cluster.stub(2).lock(a.lock("restart-b").setLeaseMs(120_000).setSize(2).build());
    // the waiter is tied to a session: a waiter without one would end with its call
    var waiterSession = cluster.stub(0).openSession(OpenSessionRequest.newBuilder().setHeader(w.header())
        .setTtlMs(60_000).build());
    LockRequest waitRequest = w.lock("restart-a").setSessionId(waiterSession.getSessionId())
        .setSessionKey(waiterSession.getSessionKey()).setAttempt(1).build();
    ListenableFuture<LockResponse> waiting = cluster.futureStub(0).lock(waitRequest);
    ClusterApiTestSupport.awaitWaiters(cluster, 0, "restart-a", 1);

    for (int i = 0; i < 3; i++) {
      cluster.stop(i);
    }
    assertThrows(ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS), "the waiting call ends with its node");
    for (int i = 0; i < 3; i++) {
      cluster.restart(i);
    }
    cluster.leaderIndex(Duration.ofSeconds(30));

    GetLockResponse aInfo = cluster.stub(2).getLock(GetLockRequest.newBuilder().setName("restart-a").build());
    assertEquals(sessionHold.getGrant().getToken(), aInfo.getLock().getHolders(0).getToken());
    assertEquals(session, aInfo.getLock().getHolders(0).getSessionId());
    assertEquals(1, aInfo.getLock().getWaiters(), "the waiter queue survived");
    GetLockResponse bInfo = cluster.stub(1).getLock(GetLockRequest.newBuilder().setName("restart-b").build());
    assertEquals(leaseHold.getGrant().getToken(), bInfo.getLock().getHolders(0).getToken());
    assertEquals(2, bInfo.getLock().getSize());
    assertTrue(bInfo.getLock().getHolders(0).getRemainingLeaseMs() > 60_000);
    cluster.stub(0).keepAlive(KeepAliveRequest.newBuilder().setHeader(a.header()).setSessionId(session)
        .setSessionKey(opened.getSessionKey()).build());

    // The waiter re-attaches with the same request (its next try) and is granted when the holder leaves.
    ListenableFuture<LockResponse> reattached = cluster.futureStub(1).lock(waitRequest.toBuilder().setAttempt(2).build());
    ProcessCluster.sleep(300);
    assertEquals(1, cluster.stub(2).getLock(GetLockRequest.newBuilder().setName("restart-a").build()).getLock().getWaiters(),
        "re-attaching did not queue a second waiter");
    cluster.stub(2).unlock(a.unlock("restart-a", sessionHold.getGrant().getKey()));
    LockResponse granted = reattached.get(15, TimeUnit.SECONDS);
    assertTrue(granted.getGrant().getToken() > sessionHold.getGrant().getToken());
  }
}
