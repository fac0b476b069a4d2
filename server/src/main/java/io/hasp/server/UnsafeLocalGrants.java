package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.LockGrant;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import java.util.UUID;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * TEST ONLY (node setting {@code unsafe.local.grants}): the API with a deliberately broken TryLock, so the
 * chaos harness can prove that it catches a double grant. TryLock is answered from this node's own (possibly
 * stale) state without consensus, with a made-up token, and nothing is recorded in the log: two callers racing
 * for a free lock both get it. Every other call is the real one. The production service never contains this.
 */
final class UnsafeLocalGrants extends HaspService {
  private final Replicator replicator;
  private final NodeMetrics metrics;

  UnsafeLocalGrants(Replicator replicator, AcquireFlow acquires, Commands commands,
      Supplier<ClusterStatusResponse> status, LongSupplier clockMs, NodeMetrics metrics) {
    super(replicator, acquires, commands, status, clockMs, metrics, Integer.MAX_VALUE);
    this.replicator = replicator;
    this.metrics = metrics;
  }

  @Override
  public void tryLock(LockRequest r, StreamObserver<LockResponse> out) {
    NodeMetrics.Call call = metrics.start("try_lock");
    long size = r.hasSize() ? r.getSize() : 1;
    replicator.readLocal(Query.newBuilder().setGetLock(r.getName()).build()).whenComplete((bytes, error) -> {
      if (error != null) {
        call.fail(out, error);
        return;
      }
      try {
        GetLockResponse g = GetLockResponse.parseFrom(bytes);
        long holders = g.getExists() ? g.getLock().getHolderCount() : 0;
        long token = 1;
        for (HolderInfo h : g.getLock().getHoldersList()) {
          token = Math.max(token, h.getToken() + 1);
        }
        if (holders >= size) {
          call.ok(out, LockResponse.newBuilder().setLocked(false).build());
          return;
        }
        call.ok(out, LockResponse.newBuilder().setLocked(true).setGrant(LockGrant.newBuilder().setName(r.getName())
            .setKey(UUID.randomUUID().toString()).setToken(token).setSize(size).setLeaseMs(r.getLeaseMs())
            .setSessionId(r.getSessionId()).setOwner(r.getOwner())).build());
      } catch (InvalidProtocolBufferException e) {
        call.fail(out, new HaspError(ErrorCode.INTERNAL, "unreadable local answer"));
      }
    });
  }
}
