package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ClientCall;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.proto.CallCancel;
import io.hasp.proto.CallFrame;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.ReplyFrame;
import io.hasp.proto.RequestHeader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code Calls} stream as a client sees it: frames answered by call id, the unary outcome in each reply (errors
 * included), cancellation by frame and by the end of the stream with the unary semantics (a sessionless wait is
 * abandoned), the per-stream bound, and the Java client's promise that an async caller's callback may block
 * without stalling its other calls.
 */
class CallStreamTest {
  @TempDir static Path dir;
  static ProcessCluster cluster;
  /** The per-stream bound of calls in flight, set low so that a test can reach it. */
  static final int CALLS_MAX = 20;

  @BeforeAll
  static void start() throws Exception {
    cluster = ProcessCluster.start(3, dir, Map.of("limits.calls.per.connection.max", Integer.toString(CALLS_MAX)));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A raw Calls stream to one node, its replies queued as they come. */
  static final class RawStream implements AutoCloseable {
    final BlockingQueue<ReplyFrame> replies = new LinkedBlockingQueue<>();
    final CompletableFuture<Throwable> ended = new CompletableFuture<>();
    final ClientCall<CallFrame, ReplyFrame> call;
    final StreamObserver<CallFrame> out;

    RawStream(int node) {
      call = cluster.channel(node).newCall(HaspGrpc.getCallsMethod(), io.grpc.CallOptions.DEFAULT);
      out = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
        @Override
        public void onNext(ReplyFrame r) {
          replies.add(r);
        }

        @Override
        public void onError(Throwable t) {
          ended.complete(t);
        }

        @Override
        public void onCompleted() {
          ended.complete(null);
        }
      });
    }

    synchronized void send(CallFrame f) {
      out.onNext(f);
    }

    ReplyFrame next() throws InterruptedException {
      ReplyFrame r = replies.poll(30, TimeUnit.SECONDS);
      assertTrue(r != null, "no reply within 30 s");
      return r;
    }

    @Override
    public void close() {
      call.cancel("test done", null);
    }
  }

  private static String name() {
    return "stream-" + UUID.randomUUID();
  }

  private static RequestHeader header(String client, long request) {
    return RequestHeader.newBuilder().setClientId(client).setRequestId(request).build();
  }

  @Test
  void framesAreAnsweredByCallIdWithTheUnaryOutcome() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    String name = name();
    String client = "raw-" + UUID.randomUUID();
    try (RawStream s = new RawStream(leader)) {
      s.send(CallFrame.newBuilder().setCallId(7).setTryLock(LockRequest.newBuilder().setHeader(header(client, 1))
          .setName(name)).build());
      ReplyFrame granted = s.next();
      assertEquals(7, granted.getCallId());
      assertTrue(granted.getTryLock().getLocked(), granted.toString());
      assertTrue(granted.getTryLock().getGrant().getToken() > 0);
      // a second try on the held lock: not acquired (answered from a read), and a size mismatch: an error frame
      s.send(CallFrame.newBuilder().setCallId(8).setTryLock(LockRequest.newBuilder().setHeader(header(client, 2))
          .setName(name)).build());
      ReplyFrame refused = s.next();
      assertEquals(8, refused.getCallId());
      assertFalse(refused.getTryLock().getLocked(), refused.toString());
      s.send(CallFrame.newBuilder().setCallId(9).setTryLock(LockRequest.newBuilder().setHeader(header(client, 3))
          .setName(name).setSize(3)).build());
      ReplyFrame mismatch = s.next();
      assertEquals(9, mismatch.getCallId());
      assertTrue(mismatch.hasError(), mismatch.toString());
      assertEquals("LOCK_SIZE_MISMATCH", mismatch.getError().getErrorCode());
      assertEquals(io.grpc.Status.Code.FAILED_PRECONDITION.value(), mismatch.getError().getStatus());
      // bad input: the same coded error a unary call gets
      s.send(CallFrame.newBuilder().setCallId(10).setIsLocked(IsLockedRequest.newBuilder().setName("")).build());
      ReplyFrame bad = s.next();
      assertEquals("INVALID_ARGUMENT", bad.getError().getErrorCode(), bad.toString());
      // a frame that carries nothing
      s.send(CallFrame.newBuilder().setCallId(11).build());
      assertEquals("INVALID_ARGUMENT", s.next().getError().getErrorCode());
      // reads on the same stream
      s.send(CallFrame.newBuilder().setCallId(12).setGetLock(GetLockRequest.newBuilder().setName(name)).build());
      ReplyFrame got = s.next();
      assertEquals(1, got.getGetLock().getLock().getHolderCount(), got.toString());
    }
  }

  @Test
  void aCancelFrameAndTheEndOfTheStreamAbandonSessionlessWaits() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    String name = name();
    try (HaspClient holder = HaspClient.builder().endpoints(cluster.endpoints()).build();
        LockHandle held = holder.lock(name)) {
      String client = "raw-" + UUID.randomUUID();
      try (RawStream s = new RawStream(leader)) {
        for (int i = 1; i <= 2; i++) {
          s.send(CallFrame.newBuilder().setCallId(i).setLock(LockRequest.newBuilder().setHeader(header(client, i))
              .setName(name)).build());
        }
        waitFor(() -> waiters(holder, name) == 2, "two raw waiters queued");
        s.send(CallFrame.newBuilder().setCallId(1).setCancel(CallCancel.getDefaultInstance()).build());
        waitFor(() -> waiters(holder, name) == 1, "the cancelled wait removed");
      }
      // the stream ended (the test cancelled it): its last wait is abandoned too
      waitFor(() -> waiters(holder, name) == 0, "the stream's wait removed when the stream ended");
      assertTrue(held.isValid());
    }
  }

  @Test
  void aStreamTakesAtMostItsBoundOfCallsAtOnce() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    String name = name();
    try (HaspClient holder = HaspClient.builder().endpoints(cluster.endpoints()).build();
        LockHandle held = holder.lock(name)) {
      String client = "raw-" + UUID.randomUUID();
      try (RawStream s = new RawStream(leader)) {
        for (int i = 1; i <= CALLS_MAX; i++) {
          s.send(CallFrame.newBuilder().setCallId(i).setLock(LockRequest.newBuilder().setHeader(header(client, i))
              .setName(name + "/" + i)).build());
        }
        // CALLS_MAX waits of their own are not possible here (each lock is free): they are granted at once; what
        // stays in flight are waits on the held lock
        for (int i = 1; i <= CALLS_MAX; i++) {
          assertTrue(s.next().getLock().getLocked());
        }
        for (int i = 1; i <= CALLS_MAX; i++) {
          s.send(CallFrame.newBuilder().setCallId(100 + i).setLock(LockRequest.newBuilder()
              .setHeader(header(client, 100 + i)).setName(name)).build());
        }
        waitFor(() -> waiters(holder, name) == CALLS_MAX, CALLS_MAX + " waiters queued");
        s.send(CallFrame.newBuilder().setCallId(999).setIsLocked(IsLockedRequest.newBuilder().setName(name)).build());
        ReplyFrame over = s.next();
        assertEquals(999, over.getCallId());
        assertEquals("LIMIT_EXCEEDED", over.getError().getErrorCode(), over.toString());
      }
      waitFor(() -> waiters(holder, name) == 0, "the stream's waits removed when it ended");
    }
  }

  @Test
  void anAsyncCallbackThatBlocksDoesNotStallTheClientsOtherCalls() throws Exception {
    String name = name();
    String other = name();
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    // one endpoint: every call of this client on one connection (and one I/O thread)
    try (HaspClient c = HaspClient.builder().endpoints(cluster.endpoint(leader)).build();
        HaspClient holder = HaspClient.builder().endpoints(cluster.endpoints()).build()) {
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch inCallback = new CountDownLatch(1);
      LockHandle held = holder.lock(name);
      // the callback is attached while the lock is held, so it runs when the grant arrives (not on this thread)
      CompletableFuture<Void> blocked = c.lockAsync(name, LockOptions.DEFAULT).thenAccept(h -> {
        inCallback.countDown();
        try {
          release.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        h.close();
      });
      held.close();
      assertTrue(inCallback.await(30, TimeUnit.SECONDS), "the callback ran");
      try {
        // the callback holds its thread (until released, up to a minute); every other call of the same client
        // still gets its answer meanwhile, well within that minute
        CompletableFuture<Void> others = CompletableFuture.runAsync(() -> {
          try (LockHandle h = c.lock(other)) {
            assertTrue(c.isLocked(other));
            Optional<LockHandle> second = c.tryLock(other);
            assertTrue(second.isEmpty());
            assertNotEquals(0, h.token());
          }
          c.lockAsync(other, LockOptions.DEFAULT).join().close();
        });
        others.get(20, TimeUnit.SECONDS);
      } finally {
        release.countDown();
      }
      blocked.get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void aClientWithoutTheStreamSpeaksUnaryCalls() {
    String name = name();
    try (HaspClient a = HaspClient.builder().endpoints(cluster.endpoints()).callStream(false).build();
        HaspClient b = HaspClient.builder().endpoints(cluster.endpoints()).build()) {
      try (LockHandle h = a.lock(name)) {
        assertTrue(b.isLocked(name));
        assertTrue(b.tryLock(name).isEmpty());
        assertTrue(h.isValid());
      }
      assertFalse(a.isLocked(name));
    }
  }

  private static long waiters(HaspClient c, String name) {
    return c.getLock(name).map(l -> (long) l.getWaiters()).orElse(0L);
  }

  @Test
  void aFollowerNamesTheLeaderInItsAnswersAndTheLeaderDoesNot() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    int follower = (leader + 1) % 3;
    String client = "raw-" + UUID.randomUUID();
    try (RawStream atFollower = new RawStream(follower); RawStream atLeader = new RawStream(leader)) {
      atFollower.send(CallFrame.newBuilder().setCallId(1).setTryLock(LockRequest.newBuilder()
          .setHeader(header(client, 1)).setName(name())).build());
      ReplyFrame fromFollower = atFollower.next();
      assertTrue(fromFollower.getTryLock().getLocked(), fromFollower.toString());
      assertEquals(cluster.endpoint(leader), fromFollower.getLeader());
      atLeader.send(CallFrame.newBuilder().setCallId(1).setTryLock(LockRequest.newBuilder()
          .setHeader(header(client, 2)).setName(name())).build());
      ReplyFrame fromLeader = atLeader.next();
      assertTrue(fromLeader.getTryLock().getLocked(), fromLeader.toString());
      assertEquals("", fromLeader.getLeader());
    }
  }

  /**
   * After a leader change a client's calls land on a follower, which forwards every one of them; its first answer
   * names the leader, and the client's later calls go there. A client that was given only the follower's address
   * (a proxy, a port forward) stays with it.
   */
  @Test
  void aClientAnsweredByAFollowerMovesToTheLeaderAmongItsEndpoints() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    try (HaspClient client = HaspClient.builder().endpoints(cluster.endpoints()).build();
        HaspClient pinned = HaspClient.builder().endpoints(java.util.List.of(cluster.endpoint(leader))).build()) {
      client.tryLock(name()).orElseThrow().close(); // both start at the leader
      pinned.tryLock(name()).orElseThrow().close();
      int next = (leader + 1) % 3;
      io.hasp.proto.HaspAdminGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(60, TimeUnit.SECONDS)
          .transferLeader(io.hasp.proto.TransferLeaderRequest.newBuilder().setTargetId(cluster.id(next)).build());
      waitFor(() -> cluster.leaderIndex(Duration.ofSeconds(30)) == next, "leadership moved to " + cluster.id(next));
      long[] before = tryLocksAnswered();
      for (int i = 0; i < 20; i++) {
        client.tryLock(name()).orElseThrow().close();
      }
      long[] moved = tryLocksAnswered();
      assertTrue(moved[leader] - before[leader] <= 2, "the old leader answered " + (moved[leader] - before[leader]));
      assertTrue(moved[next] - before[next] >= 18, "the new leader answered " + (moved[next] - before[next]));
      for (int i = 0; i < 5; i++) {
        pinned.tryLock(name()).orElseThrow().close();
      }
      long[] after = tryLocksAnswered();
      assertEquals(5, after[leader] - moved[leader], "the pinned client stays at its only endpoint");
    }
  }

  /** try_lock calls each node answered OK, from its /metrics. */
  private static long[] tryLocksAnswered() throws Exception {
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    java.util.regex.Pattern line = java.util.regex.Pattern.compile(
        "^hasp_requests_total\\{([^}]*)\\} ([0-9.eE+]+)$", java.util.regex.Pattern.MULTILINE);
    long[] counts = new long[3];
    for (int i = 0; i < 3; i++) {
      String body = http.send(java.net.http.HttpRequest.newBuilder(
              java.net.URI.create("http://" + cluster.httpAddress(i) + "/metrics")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).body();
      java.util.regex.Matcher m = line.matcher(body);
      while (m.find()) {
        if (m.group(1).contains("method=\"try_lock\"") && m.group(1).contains("code=\"OK\"")) {
          counts[i] += (long) Double.parseDouble(m.group(2));
        }
      }
    }
    return counts;
  }

  private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, "not within 60 s: " + what);
      Thread.sleep(50);
    }
  }
}
