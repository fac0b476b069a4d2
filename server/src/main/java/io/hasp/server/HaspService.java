package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.AbandonRequest;
import io.hasp.proto.AbandonResponse;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.CloseSessionResponse;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.FlushLocksResponse;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.IsLockedResponse;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.KeepAliveResponse;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockInfo;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.OpenSessionResponse;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RenewResponse;
import io.hasp.proto.UnlockRequest;
import io.hasp.proto.UnlockResponse;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.ListQuery;
import io.hasp.proto.replicated.NamesReply;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.core.Limits;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The public gRPC API: each call is validated and turned into a command ({@link Commands}), proposed through
 * the {@link Replicator} or read with ReadIndex, and answered asynchronously (no thread is parked per call).
 * Lock and TryLock go through {@link AcquireFlow}.
 */
class HaspService extends HaspGrpc.HaspImplBase {
  private final Replicator replicator;
  private final AcquireFlow acquires;
  private final Commands commands;
  private final Supplier<ClusterStatusResponse> status;
  private final LongSupplier clockMs;
  private final NodeMetrics metrics;
  private final int callsPerStreamMax;

  HaspService(Replicator replicator, AcquireFlow acquires, Commands commands, Supplier<ClusterStatusResponse> status,
      LongSupplier clockMs, NodeMetrics metrics, int callsPerStreamMax) {
    this.callsPerStreamMax = callsPerStreamMax;
    this.replicator = replicator;
    this.acquires = acquires;
    this.commands = commands;
    this.status = status;
    this.clockMs = clockMs;
    this.metrics = metrics;
  }

  // ------------------------------------------------------------------------------------------------
  // Locks
  // ------------------------------------------------------------------------------------------------

  @Override
  public void lock(LockRequest request, StreamObserver<LockResponse> observer) {
    acquires.acquire(request, false, observer);
  }

  @Override
  public void tryLock(LockRequest request, StreamObserver<LockResponse> observer) {
    acquires.acquire(request, true, observer);
  }

  @Override
  public void unlock(UnlockRequest r, StreamObserver<UnlockResponse> observer) {
    write("unlock", observer, () -> commands.unlock(r), reply -> UnlockResponse.newBuilder().setUnlocked(true).build());
  }

  @Override
  public void renew(RenewRequest r, StreamObserver<RenewResponse> observer) {
    write("renew", observer, () -> commands.renew(r),
        reply -> RenewResponse.newBuilder().setGrant(AcquireFlow.grant(reply.getRenewed())).build());
  }

  @Override
  public void abandon(AbandonRequest r, StreamObserver<AbandonResponse> observer) {
    write("abandon", observer, () -> commands.abandon(r), reply -> {
      AbandonResponse.Outcome o = AbandonResponse.Outcome.forNumber(reply.getAbandoned().getOutcome());
      return AbandonResponse.newBuilder().setOutcome(o == null ? AbandonResponse.Outcome.OUTCOME_UNSPECIFIED : o)
          .build();
    });
  }

  /** A flush of every lock goes in pages (one entry each); the reply lists the first names and counts them all. */
  @Override
  public void flushLocks(FlushLocksRequest r, StreamObserver<FlushLocksResponse> observer) {
    NodeMetrics.Call call = metrics.start("flush");
    Command first;
    try {
      first = commands.flush(r, "");
    } catch (HaspError e) {
      call.fail(observer, e);
      return;
    }
    List<String> shown = new ArrayList<>();
    long[] total = {0};
    flushPage(r, first, shown, total).whenComplete((v, error) -> {
      if (error != null) {
        call.fail(observer, error);
      } else {
        call.ok(observer, FlushLocksResponse.newBuilder().addAllReleased(shown).setReleasedTotal(total[0]).build());
      }
    });
  }

  private CompletableFuture<Void> flushPage(FlushLocksRequest r, Command page, List<String> shown, long[] total) {
    return replicator.write(page).thenCompose(reply -> {
      if (reply.getErrorCode() != 0) {
        return CompletableFuture.failedFuture(AcquireFlow.replyError(reply));
      }
      NamesReply n = reply.getNames();
      for (String name : n.getNamesList()) {
        if (shown.size() < Limits.REPLY_NAMES_MAX) {
          shown.add(name);
        }
      }
      total[0] += n.getTotal();
      if (n.getResumeAfter().isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
      return flushPage(r, commands.flush(r, n.getResumeAfter()), shown, total);
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Sessions
  // ------------------------------------------------------------------------------------------------

  @Override
  public void openSession(OpenSessionRequest r, StreamObserver<OpenSessionResponse> observer) {
    write("open_session", observer, () -> commands.openSession(r), reply -> OpenSessionResponse.newBuilder()
        .setSessionId(reply.getSession().getSessionId()).setTtlMs(reply.getSession().getTtlMs())
        .setSessionKey(reply.getSession().getKey()).build());
  }

  @Override
  public void keepAlive(KeepAliveRequest r, StreamObserver<KeepAliveResponse> observer) {
    write("keep_alive", observer, () -> commands.keepAlive(r), reply -> KeepAliveResponse.newBuilder()
        .setTtlMs(reply.getSession().getTtlMs()).setExpiresAtMs(reply.getSession().getExpiresAtMs()).build());
  }

  @Override
  public void closeSession(CloseSessionRequest r, StreamObserver<CloseSessionResponse> observer) {
    write("close_session", observer, () -> commands.closeSession(r), reply -> CloseSessionResponse.newBuilder()
        .addAllReleased(reply.getNames().getNamesList()).setReleasedTotal(reply.getNames().getTotal()).build());
  }

  // ------------------------------------------------------------------------------------------------
  // Reads
  // ------------------------------------------------------------------------------------------------

  @Override
  public void isLocked(IsLockedRequest r, StreamObserver<IsLockedResponse> observer) {
    read("is_locked", observer, () -> {
      Commands.name(r.getName());
      return Query.newBuilder().setIsLocked(r.getName()).build();
    }, IsLockedResponse::parseFrom);
  }

  @Override
  public void getLock(GetLockRequest r, StreamObserver<GetLockResponse> observer) {
    read("get_lock", observer, () -> {
      Commands.name(r.getName());
      return Query.newBuilder().setGetLock(r.getName()).build();
    }, bytes -> {
      GetLockResponse g = GetLockResponse.parseFrom(bytes);
      if (!g.getExists()) {
        return g;
      }
      long now = clockMs.getAsLong();
      LockInfo.Builder info = g.getLock().toBuilder();
      for (int i = 0; i < info.getHoldersCount(); i++) {
        HolderInfo h = info.getHolders(i);
        if (h.getExpiresAtMs() > 0) {
          info.setHolders(i, h.toBuilder().setRemainingLeaseMs(Math.max(0, h.getExpiresAtMs() - now)));
        }
      }
      return g.toBuilder().setLock(info).build();
    });
  }

  @Override
  public void listLocks(ListLocksRequest r, StreamObserver<ListLocksResponse> observer) {
    read("list_locks", observer, () -> {
      if (r.getPrefix().getBytes(StandardCharsets.UTF_8).length > Limits.LOCK_NAME_BYTES_MAX) {
        throw Errors.invalid("prefix is longer than " + Limits.LOCK_NAME_BYTES_MAX + " bytes");
      }
      if (r.getLimit() > Limits.LIST_LIMIT_MAX) {
        throw Errors.invalid("limit must be at most " + Limits.LIST_LIMIT_MAX + ", got " + r.getLimit());
      }
      return Query.newBuilder().setList(ListQuery.newBuilder().setPrefix(r.getPrefix())
          .setAfter(r.getPageToken()).setLimit(r.getLimit())).build();
    }, ListLocksResponse::parseFrom);
  }

  /** The leader's API address when this node follows a known leader (set on stream answers), else null. */
  String leaderIfFollowing() {
    return replicator.leaderIfFollowing();
  }

  /** Many calls on one stream (see {@link CallStream}); each frame is handled as its unary twin. */
  @Override
  public StreamObserver<io.hasp.proto.CallFrame> calls(StreamObserver<io.hasp.proto.ReplyFrame> responses) {
    return new CallStream(this, responses, callsPerStreamMax);
  }

  @Override
  public void clusterStatus(ClusterStatusRequest r, StreamObserver<ClusterStatusResponse> observer) {
    observer.onNext(status.get());
    observer.onCompleted();
  }

  // ------------------------------------------------------------------------------------------------
  // Plumbing
  // ------------------------------------------------------------------------------------------------

  private interface Parser<T> {
    T parse(byte[] bytes) throws InvalidProtocolBufferException;
  }

  /**
   * One mutating call: {@code command} validates the request and builds the command (throwing a HaspError for bad
   * input, so nothing is proposed); the reply is mapped by {@code onOk} or answered as an error.
   */
  private <T> void write(String op, StreamObserver<T> observer, Supplier<Command> command,
      Function<CommandReply, T> onOk) {
    NodeMetrics.Call call = metrics.start(op);
    Command c;
    try {
      c = command.get();
    } catch (HaspError e) {
      call.fail(observer, e);
      return;
    }
    replicator.write(c).whenComplete((reply, error) -> {
      if (error != null) {
        call.fail(observer, error);
      } else if (reply.getErrorCode() != 0) {
        call.fail(observer, AcquireFlow.replyError(reply));
      } else {
        call.ok(observer, onOk.apply(reply));
      }
    });
  }

  /** One linearizable read: {@code query} validates and builds the question; {@code parser} reads the answer. */
  private <T> void read(String op, StreamObserver<T> observer, Supplier<Query> query, Parser<T> parser) {
    NodeMetrics.Call call = metrics.start(op);
    Query q;
    try {
      q = query.get();
    } catch (HaspError e) {
      call.fail(observer, e);
      return;
    }
    replicator.read(q).whenComplete((bytes, error) -> {
      if (error != null) {
        call.fail(observer, error);
        return;
      }
      try {
        call.ok(observer, parser.parse(bytes));
      } catch (InvalidProtocolBufferException e) {
        call.fail(observer, new HaspError(ErrorCode.INTERNAL, "unreadable query answer"));
      }
    });
  }
}
