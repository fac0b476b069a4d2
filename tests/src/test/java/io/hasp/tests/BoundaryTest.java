package io.hasp.tests;

import static io.hasp.tests.Rpc.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.proto.AbandonRequest;
import io.hasp.proto.AbandonResponse;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.OpenSessionResponse;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.replicated.CapacityRecord;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.ExpireCmd;
import io.hasp.proto.replicated.ForwardedBatch;
import io.hasp.proto.replicated.RefreshCmd;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.Test;

/**
 * What a client connection may not do: reach the node-to-node service, propose the leader's timer commands,
 * or use a session it did not open; and the edges of request handling (sizes, an abandon after the grant).
 */
class BoundaryTest extends SharedClusterTest {

  /** The old internal service on the API port is gone: a client can no longer hand the leader raw commands. */
  @Test
  void theApiPortServesNoNodeToNodeService() {
    io.grpc.MethodDescriptor<byte[], byte[]> old = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
        .setFullMethodName("hasp.replicated.v1.HaspInternal/ForwardBatch")
        .setRequestMarshaller(new ClusterApiTest.BytesMarshaller())
        .setResponseMarshaller(new ClusterApiTest.BytesMarshaller())
        .build();
    byte[] expire = CommandBatch.newBuilder().addCommands(Command.newBuilder().setExpire(ExpireCmd.newBuilder()
        .setMaxItems(10))).build().toByteArray();
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> io.grpc.stub.ClientCalls.blockingUnaryCall(cluster.channel(0), old,
            io.grpc.CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), expire));
    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.toString());
  }

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> FORWARD = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("hasp.internal.v1.Peer/ForwardBatch")
      .setRequestMarshaller(BYTES)
      .setResponseMarshaller(BYTES)
      .build();

  /**
   * Even whoever reaches the Raft port (where peers forward batches) cannot make the leader apply timer
   * commands: Expire and Refresh are accepted only from the leader's own submissions.
   */
  @Test
  void timerCommandsForwardedByAnyoneButTheLeaderItselfAreRefused() throws Exception {
    Rpc c = new Rpc();
    LockResponse held = cluster.stub(0).lock(c.lock("boundary-lease").setLeaseMs(600_000).build());
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    ManagedChannel raft = NettyChannelBuilder.forTarget(cluster.raftAddress(leader)).usePlaintext().build();
    try {
      Command expire = Command.newBuilder().setExpire(ExpireCmd.newBuilder().setMaxItems(10_000)).build();
      Command refresh = Command.newBuilder().setRefresh(RefreshCmd.newBuilder().setCapacity(CapacityRecord.newBuilder()
          .setLocksMax(1).setHoldersMax(1).setWaitersPerLockMax(1).setWaitersMax(1).setSessionsMax(1)
          .setOutcomesPerClientMax(1).setSessionlessOutcomesMax(1).setSessionlessOutcomeRetentionMs(1))).build();
      for (Command forged : new Command[] {expire, refresh}) {
        byte[] uuid = new byte[16];
        java.nio.ByteBuffer.wrap(uuid).putLong(UUID.randomUUID().getMostSignificantBits())
            .putLong(UUID.randomUUID().getLeastSignificantBits());
        ForwardedBatch fb = ForwardedBatch.newBuilder().setRaftClientId(ByteString.copyFrom(uuid)).setCallId(1)
            .setBatch(CommandBatch.newBuilder().addCommands(forged).build().toByteString()).build();
        StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
            () -> ClientCalls.blockingUnaryCall(raft, FORWARD, org.apache.ratis.thirdparty.io.grpc.CallOptions.DEFAULT
                .withDeadlineAfter(10, TimeUnit.SECONDS), fb.toByteArray()));
        String code = e.getTrailers().get(Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER));
        assertEquals("INVALID_ARGUMENT", code, e.toString());
        assertTrue(e.getStatus().getDescription().contains("only from the leader's own timer"), e.toString());
      }
    } finally {
      raft.shutdownNow();
    }
    // nothing changed: the hold is there, and new locks are not limited by the forged capacity
    GetLockResponse info = cluster.stub(1).getLock(GetLockRequest.newBuilder().setName("boundary-lease").build());
    assertEquals(held.getGrant().getToken(), info.getLock().getHolders(0).getToken());
    for (int i = 0; i < 3; i++) {
      assertTrue(cluster.stub(2).tryLock(c.lock("boundary-cap-" + i).setLeaseMs(1_000).build()).getLocked());
    }
  }

  @Test
  void anotherClientCannotKeepAliveCloseOrUseMySession() {
    try (HaspClient mine = HaspClient.builder().endpoints(cluster.endpoints()).build()) {
      LockHandle held = mine.lock("boundary-mine");
      long session = held.sessionId();
      assertTrue(session > 0);
      Rpc other = new Rpc();
      // the session id alone is not enough
      assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(0).closeSession(
          CloseSessionRequest.newBuilder().setHeader(other.header()).setSessionId(session).build()));
      for (int node = 0; node < 3; node++) {
        int n = node;
        assertError(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED", () -> cluster.stub(n).closeSession(
            CloseSessionRequest.newBuilder().setHeader(other.header()).setSessionId(session).setSessionKey("guess")
                .build()));
        assertError(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED", () -> cluster.stub(n).keepAlive(
            KeepAliveRequest.newBuilder().setHeader(other.header()).setSessionId(session).setSessionKey("guess")
                .build()));
        assertError(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED", () -> cluster.stub(n).lock(
            other.lock("boundary-theirs").setSessionId(session).setSessionKey("guess").build()));
      }
      GetLockResponse info = cluster.stub(1).getLock(GetLockRequest.newBuilder().setName("boundary-mine").build());
      assertEquals(held.token(), info.getLock().getHolders(0).getToken(), "my hold is untouched");
      assertEquals(session, info.getLock().getHolders(0).getSessionId());
      assertFalse(cluster.stub(2).isLocked(IsLockedRequest.newBuilder().setName("boundary-theirs").build()).getLocked());
      held.close();
    }
  }

  /** The server half of the cancel race: the abandon arrives after the grant, and releases it. */
  @Test
  void anAbandonThatArrivesAfterTheGrantReleasesIt() throws Exception {
    Rpc a = new Rpc();
    Rpc b = new Rpc();
    LockResponse held = cluster.stub(0).lock(a.lock("boundary-race").build());
    OpenSessionResponse s = cluster.stub(1).openSession(OpenSessionRequest.newBuilder().setHeader(b.header())
        .setTtlMs(60_000).build());
    LockRequest wait = b.lock("boundary-race").setSessionId(s.getSessionId()).setSessionKey(s.getSessionKey())
        .setAttempt(1).build();
    ListenableFuture<LockResponse> call = cluster.futureStub(1).lock(wait);
    ClusterApiTestSupport.awaitWaiters(cluster, 1, "boundary-race", 1);
    call.cancel(true); // the client gives up; with a session its waiter stays until it says so
    cluster.stub(0).unlock(a.unlock("boundary-race", held.getGrant().getKey())); // the grant wins the race
    GetLockResponse granted = cluster.stub(2).getLock(GetLockRequest.newBuilder().setName("boundary-race").build());
    assertEquals(1, granted.getLock().getHolderCount(), "granted to the waiter nobody waits for");
    AbandonResponse r = cluster.stub(2).abandon(AbandonRequest.newBuilder().setHeader(b.header())
        .setRequestId(wait.getHeader().getRequestId()).build());
    assertEquals(AbandonResponse.Outcome.GRANT_RELEASED, r.getOutcome());
    assertFalse(cluster.stub(0).isLocked(IsLockedRequest.newBuilder().setName("boundary-race").build()).getLocked());
    // the request now answers that it was abandoned: a late re-send does not take the lock again
    assertError(Status.Code.ABORTED, "WAIT_CANCELLED", () -> cluster.stub(0).lock(wait.toBuilder().setAttempt(2).build()));
    assertFalse(cluster.stub(1).isLocked(IsLockedRequest.newBuilder().setName("boundary-race").build()).getLocked());
    assertEquals(AbandonResponse.Outcome.ALREADY_SETTLED, cluster.stub(1).abandon(AbandonRequest.newBuilder()
        .setHeader(b.header()).setRequestId(wait.getHeader().getRequestId()).build()).getOutcome());
  }

  @Test
  void aRequestOverTheSizeLimitGetsACodedError() {
    Rpc c = new Rpc();
    FlushLocksRequest.Builder huge = FlushLocksRequest.newBuilder().setHeader(c.header());
    // 5 MiB of names: far past the request limit (1 MiB), below the transport's own
    for (int i = 0; i < 10_000; i++) {
      huge.addNames(String.format("%0500d", i));
    }
    String message = assertError(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED",
        () -> cluster.stub(0).flushLocks(huge.build()));
    assertTrue(message.contains("limits.request.bytes.max"), message);
    assertTrue(cluster.stub(0).tryLock(c.lock("boundary-after-huge").setLeaseMs(1_000).build()).getLocked(),
        "the node lives on");
  }

  @Test
  void smallFindings() {
    Rpc c = new Rpc();
    // the proto says 1,000 <= ttl_ms
    assertError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> cluster.stub(0).openSession(
        OpenSessionRequest.newBuilder().setHeader(c.header()).setTtlMs(999).build()));
    // a renew after the lease ended (and took its lock along) is INVALID_KEY, as the contract says
    LockResponse g = cluster.stub(0).lock(c.lock("boundary-short").setLeaseMs(300).build());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cluster.stub(0).isLocked(IsLockedRequest.newBuilder().setName("boundary-short").build()).getLocked()) {
      assertTrue(System.nanoTime() < deadline, "the lease never ended");
      ProcessCluster.sleep(20);
    }
    assertError(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", () -> cluster.stub(1).renew(RenewRequest.newBuilder()
        .setHeader(c.header()).setName("boundary-short").setKey(g.getGrant().getKey()).setLeaseMs(1_000).build()));
  }
}
