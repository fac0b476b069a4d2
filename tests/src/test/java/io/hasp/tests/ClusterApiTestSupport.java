package io.hasp.tests;

import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import java.util.concurrent.TimeUnit;

/** Waiting helpers shared by the cluster tests. */
final class ClusterApiTestSupport {
  private ClusterApiTestSupport() {}

  /** Waits (bounded) until the lock has at least {@code count} waiters, read through node {@code node}. */
  static void awaitWaiters(ProcessCluster cluster, int node, String name, int count) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      GetLockResponse r = cluster.stub(node).getLock(GetLockRequest.newBuilder().setName(name).build());
      if (r.getLock().getWaiters() >= count) {
        return;
      }
      ProcessCluster.sleep(20);
    }
    throw new AssertionError(name + " never had " + count + " waiters");
  }
}
