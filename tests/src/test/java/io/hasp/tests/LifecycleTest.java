package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.client.FencedLock;
import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.IsLockedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * A request's life as users live it, against real node processes: a {@code lock()} without a wait timeout that
 * must survive node deaths, waits given up on by cancel, interrupt or close (also in a race with the grant), and
 * leases across many leader changes. Each test here failed on the code before the request lifecycle was made
 * replicated (see the commit that added it).
 */
class LifecycleTest extends FreshClusterTest {
  private HaspClient client(String... lostInto) {
    return HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(Duration.ofSeconds(60)).build();
  }

  private static void await(String what, Duration bound, BooleanSupplier condition) {
    long deadline = System.nanoTime() + bound.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + " did not happen within " + bound);
      }
      ProcessCluster.sleep(20);
    }
  }

  /** Node-side view of a lock through the first node that answers (any node: linearizable reads). */
  private GetLockResponse lockInfo(String name) {
    RuntimeException last = null;
    for (int i = 0; i < cluster.size(); i++) {
      if (!cluster.isRunning(i)) {
        continue;
      }
      try {
        return cluster.stub(i).getLock(GetLockRequest.newBuilder().setName(name).build());
      } catch (RuntimeException e) {
        last = e;
      }
    }
    throw last != null ? last : new IllegalStateException("no node runs");
  }

  private int waiters(String name) {
    GetLockResponse r = lockInfo(name);
    return r.getExists() ? r.getLock().getWaiters() : 0;
  }

  private boolean locked(String name) {
    return lockInfo(name).getExists() && lockInfo(name).getLock().getHolderCount() > 0;
  }

  @Test
  void aForeverLockReattachesAcrossAFollowerDeathALeaderKillAndARestartOfAllNodes() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    ExecutorService pool = Executors.newCachedThreadPool();
    try (HaspClient a = client(); HaspClient b = client()) {
      LockHandle held = a.lock("forever");
      Future<LockHandle> waiting = pool.submit(() -> b.lock("forever")); // no wait timeout: as users call it
      await("b queued", Duration.ofSeconds(60), () -> waiters("forever") == 1);

      int follower = cluster.followerIndex();
      cluster.kill(follower);
      cluster.restart(follower);
      int leader = cluster.leaderIndex(Duration.ofSeconds(30));
      cluster.kill(leader); // both clients talk to the leader: b's waiting call dies with it
      cluster.leaderIndex(Duration.ofSeconds(30));
      ProcessCluster.sleep(500);
      assertFalse(waiting.isDone(), "the forever lock() gave up: " + (waiting.isDone() ? failure(waiting) : ""));
      await("b still queued once", Duration.ofSeconds(30), () -> waiters("forever") == 1);
      cluster.restart(leader);

      held.close();
      LockHandle got = waiting.get(60, TimeUnit.SECONDS);
      assertTrue(got.token() > held.token());
      assertEquals(0, waiters("forever"), "re-sending the wait never queued it twice");

      // a restart of every node while a waits forever behind b
      Future<LockHandle> next = pool.submit(() -> a.lock("forever"));
      await("a queued", Duration.ofSeconds(60), () -> waiters("forever") == 1);
      for (int i = 0; i < 3; i++) {
        cluster.stop(i);
      }
      for (int i = 0; i < 3; i++) {
        cluster.restart(i);
      }
      cluster.leaderIndex(Duration.ofSeconds(30));
      await("a still queued once after the restart", Duration.ofSeconds(60), () -> waiters("forever") == 1);
      assertFalse(next.isDone(), "the forever lock() gave up across the restart");
      got.close();
      LockHandle again = next.get(60, TimeUnit.SECONDS);
      assertTrue(again.token() > got.token());
      again.close();
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Every node down for longer than the session lives and than a session open may try: the waiting forever
   * lock() loses its session, cannot open a new one while no node answers, and still must not give up (it threw
   * NO_QUORUM here, seen by the chaos failover checker during restart-all).
   */
  @Test
  void aForeverLockOutlivesAnOutageLongerThanItsSession() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    ExecutorService pool = Executors.newCachedThreadPool();
    Duration ttl = Duration.ofSeconds(2);
    try (HaspClient a = HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(ttl).build();
        HaspClient b = HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(ttl).build()) {
      LockHandle held = a.lock("outage");
      Future<LockHandle> waiting = pool.submit(() -> b.lock("outage"));
      await("b queued", Duration.ofSeconds(60), () -> waiters("outage") == 1);
      for (int i = 0; i < 3; i++) {
        cluster.stop(i);
      }
      // and a lock() called while no node runs, by a client that has no session yet
      HaspClient late = HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(ttl).build();
      Future<LockHandle> lateLock = pool.submit(() -> late.lock("outage-late"));
      // no node answers for several session lifetimes and session-open budgets
      long downUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
      while (System.nanoTime() < downUntil) {
        assertFalse(waiting.isDone(), () -> "the forever lock() gave up while no node ran: " + failure(waiting));
        assertFalse(lateLock.isDone(), () -> "the lock() called during the outage gave up: " + failure(lateLock));
        ProcessCluster.sleep(100);
      }
      for (int i = 0; i < 3; i++) {
        cluster.restart(i);
      }
      // a's session expired with the outage, so its hold ends and b's forever wait is granted
      LockHandle got = waiting.get(120, TimeUnit.SECONDS);
      assertTrue(got.token() > held.token(), "granted after the outage with a newer token");
      got.close();
      lateLock.get(120, TimeUnit.SECONDS).close();
      late.close();
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A batch re-sent with the same Raft client and call id (what a follower does when the leader it forwarded to
   * dies before answering) reaches a new leader that applied it as a follower: Ratis answers it from that
   * node's retry cache, and the answer must carry the batch's replies (followers kept none: "batch of 1
   * commands got 0 replies", INTERNAL to the waiting client).
   */
  @Test
  void aBatchRetriedAtTheNextLeaderIsAnsweredWithItsReplies() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    byte[] uuid = new byte[16];
    java.nio.ByteBuffer.wrap(uuid).putLong(java.util.UUID.randomUUID().getMostSignificantBits())
        .putLong(java.util.UUID.randomUUID().getLeastSignificantBits());
    io.hasp.proto.replicated.Command acquire = io.hasp.proto.replicated.Command.newBuilder().setClientId("retrier")
        .setRequestId(1).setAcquire(io.hasp.proto.replicated.AcquireCmd.newBuilder().setName("retried").setSize(1)
            .setTryOnly(true).setLeaseMs(600_000).setKey("retried-key")).build();
    io.hasp.proto.replicated.ForwardedBatch fb = io.hasp.proto.replicated.ForwardedBatch.newBuilder()
        .setRaftClientId(com.google.protobuf.ByteString.copyFrom(uuid)).setCallId(7)
        .setBatch(io.hasp.proto.replicated.CommandBatch.newBuilder().addCommands(acquire).build().toByteString())
        .build();
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    io.hasp.proto.replicated.BatchReply first = forward(leader, fb);
    assertEquals(1, first.getRepliesCount(), first.toString());
    assertTrue(first.getReplies(0).getAcquire().hasGrant(), first.toString());
    long applied = cluster.status(leader).getCommitIndex();
    await("every node applied the batch", Duration.ofSeconds(60), () -> {
      for (int i = 0; i < 3; i++) {
        if (cluster.status(i) == null || cluster.status(i).getAppliedIndex() < applied) {
          return false;
        }
      }
      return true;
    });
    cluster.kill(leader);
    int next = cluster.leaderIndex(Duration.ofSeconds(60));
    io.hasp.proto.replicated.BatchReply again = forward(next, fb);
    assertEquals(1, again.getRepliesCount(), "the retry was answered without the batch's replies: " + again);
    assertEquals(first.getReplies(0).getAcquire().getGrant().getToken(),
        again.getReplies(0).getAcquire().getGrant().getToken(), "the same grant, not a second one");
  }

  private io.hasp.proto.replicated.BatchReply forward(int node, io.hasp.proto.replicated.ForwardedBatch fb)
      throws Exception {
    org.apache.ratis.thirdparty.io.grpc.ManagedChannel raft = org.apache.ratis.thirdparty.io.grpc.netty
        .NettyChannelBuilder.forTarget(cluster.raftAddress(node)).usePlaintext().build();
    try {
      byte[] reply = org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls.blockingUnaryCall(raft, BoundaryTest.FORWARD,
          org.apache.ratis.thirdparty.io.grpc.CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
          fb.toByteArray());
      return io.hasp.proto.replicated.BatchReply.parseFrom(reply);
    } finally {
      raft.shutdownNow();
    }
  }

  private static String failure(Future<?> f) {
    try {
      f.get();
      return "completed";
    } catch (Exception e) {
      return e.toString();
    }
  }

  @Test
  void aCancelledInterruptedOrClosedWaiterLeavesNothingBehind() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    try (HaspClient a = client(); HaspClient b = client()) {
      // cancel() of lockAsync
      LockHandle held = a.lock("gone-cancel");
      CompletableFuture<LockHandle> f = b.lockAsync("gone-cancel", LockOptions.builder().owner("b").build());
      await("queued", Duration.ofSeconds(60), () -> waiters("gone-cancel") == 1);
      assertTrue(f.cancel(true));
      await("the cancelled waiter removed", Duration.ofSeconds(20), () -> waiters("gone-cancel") == 0);
      held.close();
      await("the lock free after its holder left", Duration.ofSeconds(20), () -> !locked("gone-cancel"));

      // an interrupt of FencedLock.lockInterruptibly
      LockHandle held2 = a.lock("gone-interrupt");
      FencedLock view = b.newLock("gone-interrupt");
      AtomicBoolean interrupted = new AtomicBoolean();
      Thread t = new Thread(() -> {
        try {
          view.lockInterruptibly();
        } catch (InterruptedException e) {
          interrupted.set(true);
        }
      });
      t.start();
      await("queued", Duration.ofSeconds(60), () -> waiters("gone-interrupt") == 1);
      t.interrupt();
      t.join(10_000);
      assertTrue(interrupted.get(), "lockInterruptibly ends with InterruptedException");
      await("the interrupted waiter removed", Duration.ofSeconds(20), () -> waiters("gone-interrupt") == 0);
      held2.close();
      await("the lock free", Duration.ofSeconds(20), () -> !locked("gone-interrupt"));

      // an interrupt of a blocking lock(): the wait is abandoned, the flag kept
      LockHandle held3 = a.lock("gone-blocking");
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicBoolean flag = new AtomicBoolean();
      Thread u = new Thread(() -> {
        try {
          b.lock("gone-blocking");
        } catch (HaspException e) {
          thrown.set(e);
          flag.set(Thread.currentThread().isInterrupted());
        }
      });
      u.start();
      await("queued", Duration.ofSeconds(60), () -> waiters("gone-blocking") == 1);
      u.interrupt();
      u.join(10_000);
      assertTrue(thrown.get() instanceof HaspException h && h.code() == io.hasp.proto.ErrorCode.WAIT_CANCELLED,
          "lock() interrupted: " + thrown.get());
      assertTrue(flag.get(), "the interrupt flag stays set");
      await("the interrupted waiter removed", Duration.ofSeconds(20), () -> waiters("gone-blocking") == 0);
      held3.close();
      await("the lock free", Duration.ofSeconds(20), () -> !locked("gone-blocking"));

      // close() of a client while it waits, also for a hold that would stand alone (auto-renew off, lease)
      LockHandle held4 = a.lock("gone-close");
      HaspClient c = client();
      CompletableFuture<LockHandle> cw = c.lockAsync("gone-close", LockOptions.builder().lease(Duration.ofMinutes(10))
          .autoRenew(false).build());
      await("queued", Duration.ofSeconds(60), () -> waiters("gone-close") == 1);
      c.close();
      assertTrue(cw.isDone(), "close ends the pending lock");
      await("the closed client's waiter removed", Duration.ofSeconds(20), () -> waiters("gone-close") == 0);
      held4.close();
      await("the lock free", Duration.ofSeconds(20), () -> !locked("gone-close"));
    }
  }

  @Test
  void aCancelThatRacesTheGrantLeavesNoHolder() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    int grantWon = 0;
    try (HaspClient a = client(); HaspClient b = client()) {
      for (int i = 0; i < 25; i++) {
        String name = "race-" + i;
        LockHandle held = a.lock(name);
        CompletableFuture<LockHandle> f = b.lockAsync(name, LockOptions.builder().owner("b-" + i).build());
        await("queued", Duration.ofSeconds(60), () -> waiters(name) == 1);
        CountDownLatch go = new CountDownLatch(1);
        Future<?> release = pool.submit(() -> {
          go.await();
          held.close();
          return null;
        });
        long spin = i % 5; // vary which side tends to win
        Future<Boolean> cancel = pool.submit(() -> {
          go.await();
          long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(spin);
          while (System.nanoTime() < until) {
            Thread.onSpinWait();
          }
          return f.cancel(true);
        });
        go.countDown();
        release.get(20, TimeUnit.SECONDS);
        if (!cancel.get(20, TimeUnit.SECONDS)) {
          // the grant reached this client before the cancel: it holds the lock legitimately
          f.get().close();
          grantWon++;
        }
        // whoever won, one second after both the lock must be free (nothing leaked to b's live session)
        await("no holder left after the race on " + name, Duration.ofSeconds(20), () -> !locked(name));
        ProcessCluster.sleep(1_000);
        assertFalse(locked(name), "a hold appeared after the race on " + name + ": " + lockInfo(name));
      }
    } finally {
      pool.shutdownNow();
    }
    System.out.println("races the grant won at the client: " + grantWon + " of 25");
  }

  @Test
  void noLeaseEndsBeforeNowPlusLeaseAcrossTwentyLeaderChanges() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    List<String> lost = new CopyOnWriteArrayList<>();
    try (HaspClient c = HaspClient.builder().endpoints(cluster.endpoints()).sessionTtl(Duration.ofSeconds(20))
        .lockLostListener((h, e) -> lost.add(h.name() + ": " + e.getMessage())).build()) {
      // renewed every 2 s, tied to the session
      LockHandle renewed = c.lock("lease-renewed", LockOptions.builder().lease(Duration.ofSeconds(6)).build());
      // a rate-limit style hold: not renewed, no session; it must last until its lease, counted from the send
      long sent = System.nanoTime();
      LockHandle free = c.tryLock("lease-free", LockOptions.builder().lease(Duration.ofSeconds(180)).autoRenew(false)
          .build()).orElseThrow();
      // a plain session hold
      LockHandle session = c.lock("lease-session");
      List<Long> terms = new ArrayList<>();
      for (int change = 0; change < 20; change++) {
        int leader = cluster.leaderIndex(Duration.ofSeconds(30));
        terms.add(cluster.status(leader).getTerm());
        cluster.pause(leader); // longer than the election timeout: the others elect a new leader
        int next = awaitOtherLeader(leader);
        cluster.resume(leader);
        for (LockHandle h : List.of(renewed, free, session)) {
          GetLockResponse info = cluster.stub(next).getLock(GetLockRequest.newBuilder().setName(h.name()).build());
          assertTrue(info.getExists() && info.getLock().getHoldersList().stream().map(HolderInfo::getToken)
              .anyMatch(tk -> tk == h.token()), "change " + change + ": " + h.name() + " ended early: " + info);
        }
        assertTrue(System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(170), "the test ran past the free lease");
      }
      assertEquals(List.of(), lost, "a hold was reported lost");
      assertTrue(renewed.isValid() && free.isValid() && session.isValid());
      assertTrue(terms.stream().distinct().count() >= 20, "20 leader changes, terms " + terms);
    }
  }

  /** Waits until a node other than {@code paused} leads (the paused one cannot answer). */
  private int awaitOtherLeader(int paused) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < cluster.size(); i++) {
        if (i != paused) {
          var s = cluster.status(i);
          if (s != null && s.getRole().equals("LEADER")) {
            return i;
          }
        }
      }
      ProcessCluster.sleep(20);
    }
    throw new AssertionError("no new leader while node " + paused + " was paused");
  }

  @Test
  void everyForeverLockerGetsAGrantAfterALeaderKill() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    int n = 8;
    List<HaspClient> clients = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(n);
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    long[] lastGrant = new long[n];
    AtomicBoolean stop = new AtomicBoolean();
    try {
      for (int i = 0; i < n; i++) {
        clients.add(HaspClient.builder().endpoints(cluster.endpoints()).build());
      }
      List<Future<?>> loops = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int me = i;
        loops.add(pool.submit(() -> {
          while (!stop.get()) {
            try (LockHandle h = clients.get(me).lock("w7-" + me)) {
              lastGrant[me] = System.nanoTime();
            } catch (RuntimeException e) {
              errors.add(e);
              return;
            }
          }
        }));
      }
      ProcessCluster.sleep(2_000);
      int leader = cluster.leaderIndex(Duration.ofSeconds(60));
      long killed = System.nanoTime();
      cluster.kill(leader);
      await("every client granted after the kill", Duration.ofSeconds(30), () -> {
        for (long t : lastGrant) {
          if (t - killed < 0) {
            return false;
          }
        }
        return true;
      });
      stop.set(true);
      for (Future<?> f : loops) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertEquals(List.of(), errors, "errors surfaced to the callers");
    } finally {
      stop.set(true);
      pool.shutdownNow();
      for (HaspClient c : clients) {
        c.close();
      }
    }
  }

  @Test
  void aTryLockCancelledInARaceReleasesWhatItWon() throws Exception {
    cluster = ProcessCluster.start(3, dir);
    try (HaspClient b = client()) {
      for (int i = 0; i < 20; i++) {
        String name = "try-race-" + i;
        CompletableFuture<Optional<LockHandle>> f = b.tryLockAsync(name, LockOptions.DEFAULT);
        if (i % 2 == 0) {
          ProcessCluster.sleep(i % 7);
        }
        if (!f.cancel(true)) {
          f.get().ifPresent(LockHandle::close);
        }
        await("no holder after a cancelled tryLock on " + name, Duration.ofSeconds(20), () -> !locked(name));
      }
    }
    assertFalse(cluster.stub(0).isLocked(IsLockedRequest.newBuilder().setName("try-race-0").build()).getLocked());
  }
}
