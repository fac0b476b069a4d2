package io.hasp.tests;

import static io.hasp.tests.Rpc.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Status;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Every API call against a real 3-node cluster, through the leader and through followers. */
class ClusterApiTest extends SharedClusterTest {
  @Test
  void lockTryLockUnlockThroughEveryNode() {
    for (int node = 0; node < 3; node++) {
      Rpc a = new Rpc();
      Rpc b = new Rpc();
      String name = "api-basic-" + node;
      LockResponse held = cluster.stub(node).lock(a.lock(name).build());
      assertTrue(held.getLocked());
      assertEquals(name, held.getGrant().getName());
      assertTrue(held.getGrant().getToken() > 0);
      assertFalse(cluster.stub((node + 1) % 3).tryLock(b.lock(name).build()).getLocked(), "try on a held mutex");
      assertTrue(cluster.stub((node + 2) % 3).isLocked(IsLockedRequest.newBuilder().setName(name).build()).getLocked());
      assertTrue(cluster.stub(node).unlock(a.unlock(name, held.getGrant().getKey())).getUnlocked());
      assertFalse(cluster.stub((node + 1) % 3).isLocked(IsLockedRequest.newBuilder().setName(name).build()).getLocked(),
          "linearizable read on another node sees the unlock");
      assertFalse(cluster.stub(node).getLock(GetLockRequest.newBuilder().setName(name).build()).getExists(),
          "a lock with no holders and no waiters is deleted at once");
    }
  }

  @Test
  void waiterIsGrantedInFifoOrderWithIncreasingTokens() throws Exception {
    String name = "api-fifo";
    Rpc holder = new Rpc();
    LockResponse first = cluster.stub(0).lock(holder.lock(name).build());
    List<Rpc> waiters = List.of(new Rpc(), new Rpc(), new Rpc());
    java.util.List<ListenableFuture<LockResponse>> pending = new java.util.ArrayList<>();
    for (int i = 0; i < waiters.size(); i++) {
      pending.add(cluster.futureStub(i % 3).lock(waiters.get(i).lock(name).build()));
      awaitWaiters(name, i + 1);
    }
    GetLockResponse info = cluster.stub(1).getLock(GetLockRequest.newBuilder().setName(name).build());
    assertEquals(3, info.getLock().getWaiters());
    assertFalse(cluster.stub(2).tryLock(new Rpc().lock(name).build()).getLocked(), "TryLock never jumps the queue");
    long lastToken = first.getGrant().getToken();
    String key = first.getGrant().getKey();
    Rpc releaser = holder;
    for (int i = 0; i < waiters.size(); i++) {
      cluster.stub(i % 3).unlock(releaser.unlock(name, key));
      LockResponse granted = pending.get(i).get(10, TimeUnit.SECONDS);
      assertTrue(granted.getLocked());
      assertTrue(granted.getGrant().getToken() > lastToken, "tokens increase");
      for (int j = i + 1; j < waiters.size(); j++) {
        assertFalse(pending.get(j).isDone(), "waiter " + j + " granted before waiter " + i);
      }
      lastToken = granted.getGrant().getToken();
      key = granted.getGrant().getKey();
      releaser = waiters.get(i);
    }
    cluster.stub(0).unlock(releaser.unlock(name, key));
  }

  @Test
  void semaphoreGrantsSizeHoldersThenQueues() throws Exception {
    String name = "api-sem";
    Rpc c = new Rpc();
    LockResponse[] grants = new LockResponse[3];
    for (int i = 0; i < 3; i++) {
      grants[i] = cluster.stub(i).lock(c.lock(name).setSize(3).build());
      assertTrue(grants[i].getLocked());
    }
    assertFalse(cluster.stub(0).tryLock(c.lock(name).setSize(3).build()).getLocked());
    assertError(Status.Code.FAILED_PRECONDITION, "LOCK_SIZE_MISMATCH",
        () -> cluster.stub(1).lock(c.lock(name).setSize(2).build()));
    GetLockResponse info = cluster.stub(2).getLock(GetLockRequest.newBuilder().setName(name).build());
    assertEquals(3, info.getLock().getHoldersCount());
    assertEquals(3, info.getLock().getSize());
    for (LockResponse g : grants) {
      cluster.stub(0).unlock(c.unlock(name, g.getGrant().getKey()));
    }
    assertTrue(cluster.stub(1).lock(c.lock(name).setSize(2).build()).getLocked(), "a deleted lock takes a new size");
  }

  @Test
  void retriedRequestReturnsTheOriginalOutcome() {
    Rpc c = new Rpc();
    LockRequest request = c.lock("api-retry").setLeaseMs(60_000).build();
    LockResponse first = cluster.stub(0).lock(request);
    LockResponse again = cluster.stub(1).lock(request);
    assertEquals(first.getGrant(), again.getGrant(), "a replayed acquire returns the original grant");
    UnlockRequest unlock = c.unlock("api-retry", first.getGrant().getKey());
    cluster.stub(2).unlock(unlock);
    LockResponse other = cluster.stub(0).lock(new Rpc().lock("api-retry").setLeaseMs(60_000).build());
    assertTrue(cluster.stub(1).unlock(unlock).getUnlocked(), "a replayed unlock returns the original success");
    assertTrue(cluster.stub(2).isLocked(IsLockedRequest.newBuilder().setName("api-retry").build()).getLocked(),
        "the replayed unlock did not release the later holder");
    cluster.stub(0).flushLocks(FlushLocksRequest.newBuilder().setHeader(c.header()).addNames("api-retry").build());
    assertTrue(other.getLocked());
  }

  @Test
  void renewExtendsAndUnknownKeysAreRejected() {
    Rpc c = new Rpc();
    LockResponse g = cluster.stub(0).lock(c.lock("api-renew").setLeaseMs(5_000).build());
    long before = g.getGrant().getExpiresAtMs();
    var renewed = cluster.stub(1).renew(RenewRequest.newBuilder().setHeader(c.header()).setName("api-renew")
        .setKey(g.getGrant().getKey()).setLeaseMs(60_000).build());
    assertTrue(renewed.getGrant().getExpiresAtMs() > before + 50_000);
    assertEquals(g.getGrant().getToken(), renewed.getGrant().getToken(), "renew keeps the token");
    assertError(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", () -> cluster.stub(2).renew(RenewRequest.newBuilder()
        .setHeader(c.header()).setName("api-renew").setKey("not-a-key").setLeaseMs(1000).build()));
    assertError(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", () -> cluster.stub(2).unlock(c.unlock("api-renew", "not-a-key")));
    assertError(Status.Code.NOT_FOUND, "LOCK_NOT_FOUND", () -> cluster.stub(0).unlock(c.unlock("api-no-such-lock", "k")));
    // renew: whether or not the lock still exists, a key that does not hold it answers INVALID_KEY (the hold is lost)
    assertError(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", () -> cluster.stub(0).renew(RenewRequest.newBuilder()
        .setHeader(c.header()).setName("api-no-such-lock").setKey("k").setLeaseMs(1000).build()));
    cluster.stub(0).unlock(c.unlock("api-renew", g.getGrant().getKey()));
  }

  @Test
  void flushReleasesHoldersKeepsWaitersQueued() throws Exception {
    Rpc c = new Rpc();
    cluster.stub(0).lock(c.lock("api-flush-a").build());
    cluster.stub(0).lock(c.lock("api-flush-b").build());
    ListenableFuture<LockResponse> waiter = cluster.futureStub(1).lock(new Rpc().lock("api-flush-a").build());
    awaitWaiters("api-flush-a", 1);
    var flushed = cluster.stub(2).flushLocks(FlushLocksRequest.newBuilder().setHeader(c.header())
        .addNames("api-flush-a").addNames("api-flush-b").addNames("api-flush-none").build());
    assertEquals(List.of("api-flush-a", "api-flush-b"), flushed.getReleasedList());
    LockResponse granted = waiter.get(10, TimeUnit.SECONDS);
    assertTrue(granted.getLocked(), "the queued waiter is granted after the flush");
    cluster.stub(0).flushLocks(FlushLocksRequest.newBuilder().setHeader(c.header()).addNames("api-flush-a").build());
  }

  @Test
  void listPagesThroughNamesByPrefix() {
    Rpc c = new Rpc();
    for (int i = 0; i < 7; i++) {
      cluster.stub(i % 3).lock(c.lock("api-list/" + i).setLeaseMs(60_000).build());
    }
    List<String> seen = new java.util.ArrayList<>();
    String token = "";
    do {
      ListLocksResponse page = cluster.stub(1).listLocks(ListLocksRequest.newBuilder().setPrefix("api-list/")
          .setPageToken(token).setLimit(3).build());
      page.getLocksList().forEach(l -> seen.add(l.getName()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    assertEquals(List.of("api-list/0", "api-list/1", "api-list/2", "api-list/3", "api-list/4", "api-list/5", "api-list/6"), seen);
    var flushed = cluster.stub(0).flushLocks(FlushLocksRequest.newBuilder().setHeader(c.header())
        .addAllNames(seen).build());
    assertEquals(seen, flushed.getReleasedList());
  }

  @Test
  void sessionCloseReleasesItsHoldsAndKeepAliveOfUnknownSessionFails() {
    Rpc c = new Rpc();
    var opened = cluster.stub(0).openSession(OpenSessionRequest.newBuilder().setHeader(c.header()).setTtlMs(10_000).build());
    long session = opened.getSessionId();
    String key = opened.getSessionKey();
    assertTrue(session > 0);
    assertTrue(key.length() >= 32, "a secret, not a guessable number: " + key);
    cluster.stub(1).lock(c.lock("api-session").setSessionId(session).setSessionKey(key).build());
    cluster.stub(2).keepAlive(KeepAliveRequest.newBuilder().setHeader(c.header()).setSessionId(session)
        .setSessionKey(key).build());
    var closed = cluster.stub(1).closeSession(CloseSessionRequest.newBuilder().setHeader(c.header()).setSessionId(session)
        .setSessionKey(key).build());
    assertEquals(List.of("api-session"), closed.getReleasedList());
    assertEquals(1, closed.getReleasedTotal());
    assertFalse(cluster.stub(0).isLocked(IsLockedRequest.newBuilder().setName("api-session").build()).getLocked());
    assertError(Status.Code.FAILED_PRECONDITION, "SESSION_EXPIRED", () -> cluster.stub(0).keepAlive(
        KeepAliveRequest.newBuilder().setHeader(c.header()).setSessionId(session).setSessionKey(key).build()));
    assertError(Status.Code.FAILED_PRECONDITION, "SESSION_EXPIRED",
        () -> cluster.stub(2).lock(c.lock("api-session").setSessionId(session).setSessionKey(key).build()));
  }

  @Test
  void badInputGetsAClearErrorAndChangesNothing() {
    Rpc c = new Rpc();
    LockResponse held = cluster.stub(0).lock(c.lock("api-bad").build());
    String oversize = "x".repeat(513);
    String multibyte = "é".repeat(257);
    Object[][] cases = {
        {c.lock(""), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "must not be empty"},
        {c.lock(oversize), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "512"},
        {c.lock(multibyte), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "512"},
        {c.lock("bad\nname"), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "control"},
        {c.lock("api-bad").setSize(0), Status.Code.INVALID_ARGUMENT, "INVALID_SIZE", "size"},
        {c.lock("api-bad").setSize(-5), Status.Code.INVALID_ARGUMENT, "INVALID_SIZE", "size"},
        {c.lock("api-bad").setSize(1_000_001), Status.Code.INVALID_ARGUMENT, "INVALID_SIZE", "size"},
        {c.lock("api-bad").setSize(2), Status.Code.FAILED_PRECONDITION, "LOCK_SIZE_MISMATCH", "size"},
        {c.lock("api-bad").setLeaseMs(0), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "lease_ms"},
        {c.lock("api-bad").setLeaseMs(-1), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "lease_ms"},
        {c.lock("api-bad").setWaitTimeoutMs(-1), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "wait_timeout_ms"},
        {c.lock("api-bad").setOwner("o".repeat(300)), Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "owner"},
        {LockRequest.newBuilder().setHeader(RequestHeader.newBuilder().setClientId("c")).setName("api-bad"),
            Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "request_id"},
    };
    for (Object[] k : cases) {
      LockRequest r = ((LockRequest.Builder) k[0]).build();
      for (int node = 0; node < 3; node++) {
        int n = node;
        String message = assertError((Status.Code) k[1], (String) k[2], () -> cluster.stub(n).lock(r));
        assertTrue(message.contains((String) k[3]), "message '" + message + "' should mention " + k[3]);
      }
    }
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(1).unlock(
        UnlockRequest.newBuilder().setHeader(c.header()).setName("api-bad").build()));
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(1).renew(RenewRequest.newBuilder()
        .setHeader(c.header()).setName("api-bad").setKey(held.getGrant().getKey()).setLeaseMs(-3).build()));
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(2).openSession(
        OpenSessionRequest.newBuilder().setHeader(c.header()).setTtlMs(-1).build()));
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(2).listLocks(
        ListLocksRequest.newBuilder().setLimit(5000).build()));
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(0).flushLocks(
        FlushLocksRequest.newBuilder().setHeader(c.header()).addNames("").build()));
    GetLockResponse after = cluster.stub(2).getLock(GetLockRequest.newBuilder().setName("api-bad").build());
    assertEquals(1, after.getLock().getHoldersCount(), "state unchanged by bad input");
    assertEquals(held.getGrant().getToken(), after.getLock().getHolders(0).getToken());
    assertEquals(0, after.getLock().getWaiters());
    assertEquals(1, after.getLock().getSize());
    cluster.stub(0).unlock(c.unlock("api-bad", held.getGrant().getKey()));
  }

  @Test
  void malformedBytesOnTheWireAreRejectedNotFatal() {
    // A request whose bytes do not parse as the message gets INVALID_ARGUMENT, and the node lives on.
    io.grpc.MethodDescriptor<byte[], byte[]> raw = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
        .setFullMethodName("hasp.v1.Hasp/Lock")
        .setRequestMarshaller(new BytesMarshaller())
        .setResponseMarshaller(new BytesMarshaller())
        .build();
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
        () -> io.grpc.stub.ClientCalls.blockingUnaryCall(cluster.channel(0), raw,
            io.grpc.CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), new byte[] {(byte) 0xff, 0x01, 0x02}));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.toString());
    assertEquals("INVALID_ARGUMENT", e.getTrailers().get(Rpc.ERROR_CODE));
    assertTrue(e.getStatus().getDescription().contains("malformed request"), e.toString());
    assertTrue(cluster.stub(0).lock(new Rpc().lock("api-after-garbage").setLeaseMs(1000).build()).getLocked());
  }

  static void awaitWaiters(String name, int count) {
    ClusterApiTestSupport.awaitWaiters(cluster, 0, name, count);
  }

  static final class BytesMarshaller implements io.grpc.MethodDescriptor.Marshaller<byte[]> {
    @Override
    public java.io.InputStream stream(byte[] value) {
      return new java.io.ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(java.io.InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }
}
