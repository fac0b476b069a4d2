package io.hasp.tests;

import static io.hasp.tests.Rpc.assertError;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.OpenSessionRequest;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Leases, wait timeouts and session expiry fire within a second of their deadline, never before it. */
class ExpiryTest extends SharedClusterTest {
  @Test
  void leaseExpiresWithinASecondOfItsDeadline() {
    Rpc c = new Rpc();
    long sent = System.nanoTime();
    cluster.stub(1).lock(c.lock("expiry-lease").setLeaseMs(1_500).build());
    long releasedAfter = awaitUnlocked("expiry-lease", sent);
    assertTrue(releasedAfter >= 1_400 && releasedAfter <= 2_500, "released after " + releasedAfter + " ms");
  }

  @Test
  void waitTimesOutWithinASecondOfItsDeadline() {
    Rpc c = new Rpc();
    cluster.stub(0).lock(c.lock("expiry-wait").setLeaseMs(30_000).build());
    long sent = System.nanoTime();
    assertError(Status.Code.ABORTED, "LOCK_WAIT_TIMEOUT",
        () -> cluster.stub(2).lock(new Rpc().lock("expiry-wait").setWaitTimeoutMs(1_000).build()));
    long after = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);
    assertTrue(after >= 950 && after <= 2_000, "timed out after " + after + " ms");
  }

  @Test
  void sessionWithoutKeepAliveExpiresAndReleasesItsHolds() {
    Rpc c = new Rpc();
    long sent = System.nanoTime();
    var session = cluster.stub(2).openSession(OpenSessionRequest.newBuilder().setHeader(c.header()).setTtlMs(1_000).build());
    cluster.stub(0).lock(c.lock("expiry-session").setSessionId(session.getSessionId())
        .setSessionKey(session.getSessionKey()).build());
    long releasedAfter = awaitUnlocked("expiry-session", sent);
    assertTrue(releasedAfter >= 950 && releasedAfter <= 2_000, "released after " + releasedAfter + " ms");
  }

  private static long awaitUnlocked(String name, long sentNanos) {
    long deadline = sentNanos + TimeUnit.SECONDS.toNanos(10);
    while (cluster.stub(0).isLocked(IsLockedRequest.newBuilder().setName(name).build()).getLocked()) {
      assertTrue(System.nanoTime() < deadline, name + " never released");
      ProcessCluster.sleep(20);
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentNanos);
  }
}
