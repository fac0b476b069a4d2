package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.client.FencedLock;
import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.client.TaskLock;
import io.hasp.client.TaskLockedException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The Java client against a real 3-node cluster. */
class ClientTest extends SharedClusterTest {

  private HaspClient client() {
    return HaspClient.builder().endpoints(cluster.endpoints()).build();
  }

  @Test
  void everyCallWorks() {
    try (HaspClient a = client(); HaspClient b = client()) {
      LockHandle h = a.lock("client-basic");
      assertTrue(h.isValid());
      assertTrue(h.token() > 0);
      assertEquals(Optional.empty(), b.tryLock("client-basic"));
      assertTrue(b.isLocked("client-basic"));
      assertEquals(1, b.getLock("client-basic").orElseThrow().getHoldersCount());
      assertTrue(b.listLocks("client-").stream().anyMatch(l -> l.getName().equals("client-basic")));
      h.close();
      h.close();
      assertFalse(h.isValid());
      assertFalse(b.isLocked("client-basic"));

      LockOptions sem = LockOptions.builder().size(3).build();
      List<LockHandle> holds = List.of(a.lock("client-sem", sem), a.lock("client-sem", sem), b.lock("client-sem", sem));
      assertTrue(b.tryLock("client-sem", sem).isEmpty());
      assertThrows(HaspException.class, () -> b.tryLock("client-sem", LockOptions.builder().size(2).build()));
      assertEquals(Set.of("client-sem"), b.flushLocks("client-sem", "client-none"));
      holds.forEach(LockHandle::close);

      LockHandle held = a.lock("client-wait");
      long t0 = System.nanoTime();
      assertThrows(HaspException.LockWaitTimeoutException.class,
          () -> b.lock("client-wait", LockOptions.builder().waitTimeout(Duration.ofMillis(500)).build()));
      assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) >= 450);
      CompletableFuture<LockHandle> waiting = b.lockAsync("client-wait", LockOptions.DEFAULT);
      held.close();
      LockHandle next = waiting.orTimeout(10, TimeUnit.SECONDS).join();
      assertTrue(next.token() > held.token());
      next.close();
    }
  }

  @Test
  void asyncTwinsAgreeWithTheBlockingCalls() throws Exception {
    try (HaspClient a = client()) {
      LockHandle h = a.tryLockAsync("client-async", LockOptions.DEFAULT).get(10, TimeUnit.SECONDS).orElseThrow();
      assertTrue(a.isLockedAsync("client-async").get(10, TimeUnit.SECONDS));
      assertEquals(h.token(), a.getLockAsync("client-async").get(10, TimeUnit.SECONDS).orElseThrow().getHolders(0).getToken());
      assertTrue(a.listLocksAsync("client-async").get(10, TimeUnit.SECONDS).stream()
          .anyMatch(l -> l.getName().equals("client-async")));
      a.renewAsync(h, Duration.ofSeconds(30)).get(10, TimeUnit.SECONDS);
      a.unlockAsync("client-async", h.key()).get(10, TimeUnit.SECONDS);
      assertFalse(a.isLockedAsync("client-async").get(10, TimeUnit.SECONDS));
      java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> a.unlockAsync("client-async", h.key()).get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof HaspException, e.toString());
      a.lock("client-async");
      assertEquals(Set.of("client-async"), a.flushLocksAsync("client-async").get(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void lockViewIsPerThreadReentrantAndFenced() throws Exception {
    try (HaspClient a = client()) {
      FencedLock lock = a.newLock("client-view");
      lock.lock();
      lock.lock();
      long fence = lock.getFence();
      assertTrue(fence > 0);
      CompletableFuture<Boolean> other = CompletableFuture.supplyAsync(() -> {
        assertThrows(IllegalMonitorStateException.class, lock::unlock);
        return lock.tryLock();
      });
      assertFalse(other.get(10, TimeUnit.SECONDS), "another thread cannot take a held lock");
      lock.unlock();
      assertTrue(a.isLocked("client-view"), "still held after one of two unlocks");
      lock.unlock();
      assertFalse(a.isLocked("client-view"));
      assertTrue(lock.tryLock(1, TimeUnit.SECONDS));
      assertTrue(lock.getFence() > fence);
      lock.unlock();
      assertThrows(UnsupportedOperationException.class, lock::newCondition);
    }
  }

  @Test
  void taskLockNeverWaits() throws Exception {
    try (HaspClient a = client(); HaspClient b = client()) {
      TaskLock task = a.lockTask("client-task");
      AtomicInteger runs = new AtomicInteger();
      try (TaskLock.Held held = task.acquire()) {
        assertTrue(held.token() > 0);
        assertTrue(b.lockTask("client-task").isLocked());
        assertThrows(TaskLockedException.class, () -> b.lockTask("client-task").acquire());
        assertThrows(TaskLockedException.class, () -> b.lockTask("client-task").wrap((Runnable) runs::incrementAndGet).run());
      }
      b.lockTask("client-task").wrap((Runnable) runs::incrementAndGet).run();
      assertEquals(1, runs.get());
      assertEquals(42, (int) b.lockTask("client-task").wrap(() -> 42).call());
      task.acquire();
      assertTrue(b.lockTask("client-task").clear());
      assertFalse(b.lockTask("client-task").clear());
    }
  }

  @Test
  void autoRenewKeepsAShortLeaseAliveAndWithoutItTheLeaseExpires() {
    try (HaspClient a = client()) {
      LockHandle renewed = a.lock("client-renew", LockOptions.builder().lease(Duration.ofSeconds(2)).build());
      LockHandle expiring = a.lock("client-rate", LockOptions.builder().lease(Duration.ofSeconds(1)).autoRenew(false).build());
      assertEquals(0, expiring.sessionId(), "without auto-renew a leased hold is not tied to the session");
      ProcessCluster.sleep(3_000);
      assertFalse(expiring.isValid());
      assertFalse(a.isLocked("client-rate"), "the unrenewed lease expired");
      for (int second = 0; second < 57; second++) {
        ProcessCluster.sleep(1_000);
        assertTrue(renewed.isValid(), "lost after " + (second + 3) + " s");
      }
      assertTrue(a.isLocked("client-renew"), "renewed every ~700 ms, still held after a minute (30 leases)");
      renewed.close();
    }
  }
}
