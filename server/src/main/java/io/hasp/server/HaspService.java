package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
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
import io.hasp.proto.LockGrant;
import io.hasp.proto.LockInfo;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.OpenSessionResponse;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RenewResponse;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import io.hasp.proto.UnlockResponse;
import io.hasp.proto.replicated.AcquireCmd;
import io.hasp.proto.replicated.AcquireReply;
import io.hasp.proto.replicated.CancelWaitCmd;
import io.hasp.proto.replicated.CloseSessionCmd;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.FlushCmd;
import io.hasp.proto.replicated.GrantRecord;
import io.hasp.proto.replicated.KeepAliveCmd;
import io.hasp.proto.replicated.ListQuery;
import io.hasp.proto.replicated.OpenSessionCmd;
import io.hasp.proto.replicated.Query;
import io.hasp.proto.replicated.ReleaseCmd;
import io.hasp.proto.replicated.RenewCmd;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.Codec;
import io.hasp.statemachine.core.Limits;
import io.hasp.statemachine.core.LockTable;
import io.hasp.statemachine.core.Result;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The public gRPC API. Validates every request before it reaches the log (a clear INVALID_ARGUMENT or
 * INVALID_SIZE, nothing proposed), turns it into a replicated command, and answers asynchronously: no thread
 * is parked per call, and a Lock that waits holds only a future in {@link Waits}.
 */
final class HaspService extends HaspGrpc.HaspImplBase {
  private final Replicator replicator;
  private final Waits waits;
  private final Supplier<ClusterStatusResponse> status;
  private final LongSupplier clockMs;
  private final NodeMetrics metrics;
  /** TEST ONLY (config unsafe.local.grants): answer TryLock from local state without consensus. */
  private final boolean unsafeLocalGrants;
  /** For requests without a header: unique per node process, so they are never deduplicated by mistake. */
  private final String anonymousClientPrefix = "anon-" + UUID.randomUUID() + "-";
  private final AtomicLong anonymousIds = new AtomicLong();

  HaspService(Replicator replicator, Waits waits, Supplier<ClusterStatusResponse> status, LongSupplier clockMs,
      NodeMetrics metrics, boolean unsafeLocalGrants) {
    this.unsafeLocalGrants = unsafeLocalGrants;
    this.replicator = replicator;
    this.waits = waits;
    this.status = status;
    this.clockMs = clockMs;
    this.metrics = metrics;
  }

  // ------------------------------------------------------------------------------------------------
  // Locks
  // ------------------------------------------------------------------------------------------------

  @Override
  public void lock(LockRequest request, StreamObserver<LockResponse> observer) {
    acquire(request, false, observer);
  }

  @Override
  public void tryLock(LockRequest request, StreamObserver<LockResponse> observer) {
    acquire(request, true, observer);
  }

  private void acquire(LockRequest r, boolean tryOnly, StreamObserver<LockResponse> observer) {
    String op = tryOnly ? "try_lock" : "lock";
    NodeMetrics.Call call = metrics.start(op);
    ServerCallStreamObserver<LockResponse> out = (ServerCallStreamObserver<LockResponse>) observer;
    Command command;
    RequestHeader header;
    try {
      checkName(r.getName());
      long size = r.hasSize() ? r.getSize() : 1;
      if (size < 1 || size > Limits.LOCK_SIZE_MAX) {
        throw new HaspError(ErrorCode.INVALID_SIZE,
            "size must be between 1 and " + Limits.LOCK_SIZE_MAX + ", got " + size);
      }
      if (r.hasLeaseMs() && (r.getLeaseMs() <= 0 || r.getLeaseMs() > Limits.LEASE_MS_MAX)) {
        throw Errors.invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + " when set, got " + r.getLeaseMs());
      }
      if (r.hasWaitTimeoutMs() && (r.getWaitTimeoutMs() < 0 || r.getWaitTimeoutMs() > Limits.WAIT_TIMEOUT_MS_MAX)) {
        throw Errors.invalid("wait_timeout_ms must be between 0 and " + Limits.WAIT_TIMEOUT_MS_MAX + " when set, got "
            + r.getWaitTimeoutMs());
      }
      checkOwner(r.getOwner());
      header = header(r.getHeader(), r.hasHeader());
      command = base(header).setAcquire(AcquireCmd.newBuilder()
          .setName(r.getName())
          .setSize(size)
          .setLeaseMs(r.hasLeaseMs() ? r.getLeaseMs() : 0)
          .setWaitTimeoutMs(tryOnly ? 0 : (r.hasWaitTimeoutMs() ? r.getWaitTimeoutMs() : -1))
          .setTryOnly(tryOnly)
          .setSessionId(r.getSessionId())
          .setOwner(r.getOwner())
          .setKey(UUID.randomUUID().toString()))
          .build();
    } catch (HaspError e) {
      call.fail(out, e);
      return;
    }
    if (tryOnly && unsafeLocalGrants) {
      unsafeLocalTryLock(command.getAcquire(), call, out);
      return;
    }
    Waits.Key key = new Waits.Key(header.getClientId(), header.getRequestId());
    CompletableFuture<Result> waiting = tryOnly ? null : waits.register(key);
    if (!tryOnly) {
      out.setOnCancelHandler(() -> {
        // The caller gave up (cancel, deadline or disconnect): remove its waiter through the log. If the grant
        // won the race the hold stays; it ends with its session or lease.
        waits.unregister(key, waiting);
        replicator.write(Command.newBuilder().setCancelWait(CancelWaitCmd.newBuilder()
            .setTargetClientId(key.clientId()).setTargetRequestId(key.requestId())).build());
        metrics.cancelled();
      });
    }
    replicator.write(command).whenComplete((reply, error) -> {
      if (error != null) {
        if (waiting != null) {
          waits.unregister(key, waiting);
        }
        call.fail(out, error);
        return;
      }
      if (reply.getErrorCode() != 0) {
        if (waiting != null) {
          waits.unregister(key, waiting);
        }
        call.fail(out, replyError(reply));
        return;
      }
      AcquireReply a = reply.getAcquire();
      switch (a.getStatus()) {
        case GRANTED:
          if (waiting != null) {
            waits.unregister(key, waiting);
          }
          call.ok(out, LockResponse.newBuilder().setLocked(true).setGrant(grant(a.getGrant())).build());
          break;
        case NOT_ACQUIRED:
          if (waiting != null) {
            waits.unregister(key, waiting);
          }
          call.ok(out, LockResponse.newBuilder().setLocked(false).build());
          break;
        case QUEUED:
          waiting.whenComplete((result, waitError) -> {
            if (waitError != null) {
              call.fail(out, waitError);
            } else if (result instanceof Result.Granted g) {
              call.ok(out, LockResponse.newBuilder().setLocked(true)
                  .setGrant(grant(Codec.grant(g.holder(), g.size()))).build());
            } else if (result instanceof Result.Failure f) {
              call.fail(out, new HaspError(ErrorCode.valueOf(f.code().name()), f.message()));
            } else {
              call.fail(out, new HaspError(ErrorCode.INTERNAL, "unexpected wait outcome " + result));
            }
          });
          break;
        default:
          call.fail(out, new HaspError(ErrorCode.INTERNAL, "unexpected acquire status " + a.getStatus()));
      }
    });
  }

  /**
   * The deliberately broken path behind {@code unsafe.local.grants}: grants when this node's own (possibly stale)
   * state shows room, records nothing in the log, and makes up a token. Two callers racing for a free lock both
   * get it. It exists only so the chaos harness can prove it catches a double grant.
   */
  private void unsafeLocalTryLock(AcquireCmd a, NodeMetrics.Call call, ServerCallStreamObserver<LockResponse> out) {
    replicator.readLocal(Query.newBuilder().setGetLock(a.getName()).build()).whenComplete((bytes, error) -> {
      if (error != null) {
        call.fail(out, error);
        return;
      }
      try {
        GetLockResponse g = GetLockResponse.parseFrom(bytes);
        long holders = g.getExists() ? g.getLock().getHoldersCount() : 0;
        long token = 1;
        for (HolderInfo h : g.getLock().getHoldersList()) {
          token = Math.max(token, h.getToken() + 1);
        }
        if (holders >= a.getSize()) {
          call.ok(out, LockResponse.newBuilder().setLocked(false).build());
          return;
        }
        call.ok(out, LockResponse.newBuilder().setLocked(true).setGrant(LockGrant.newBuilder().setName(a.getName())
            .setKey(a.getKey()).setToken(token).setSize(a.getSize()).setLeaseMs(a.getLeaseMs())
            .setSessionId(a.getSessionId()).setOwner(a.getOwner())).build());
      } catch (InvalidProtocolBufferException e) {
        call.fail(out, new HaspError(ErrorCode.INTERNAL, "unreadable local answer"));
      }
    });
  }

  @Override
  public void unlock(UnlockRequest r, StreamObserver<UnlockResponse> observer) {
    write("unlock", observer, () -> {
      checkName(r.getName());
      checkKey(r.getKey());
      return base(header(r.getHeader(), r.hasHeader()))
          .setRelease(ReleaseCmd.newBuilder().setName(r.getName()).setKey(r.getKey())).build();
    }, reply -> UnlockResponse.newBuilder().setUnlocked(true).build());
  }

  @Override
  public void renew(RenewRequest r, StreamObserver<RenewResponse> observer) {
    write("renew", observer, () -> {
      checkName(r.getName());
      checkKey(r.getKey());
      if (r.getLeaseMs() <= 0 || r.getLeaseMs() > Limits.LEASE_MS_MAX) {
        throw Errors.invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + ", got " + r.getLeaseMs());
      }
      return base(header(r.getHeader(), r.hasHeader()))
          .setRenew(RenewCmd.newBuilder().setName(r.getName()).setKey(r.getKey()).setLeaseMs(r.getLeaseMs())).build();
    }, reply -> RenewResponse.newBuilder().setGrant(grant(reply.getRenewed())).build());
  }

  @Override
  public void flushLocks(FlushLocksRequest r, StreamObserver<FlushLocksResponse> observer) {
    write("flush", observer, () -> {
      if (r.getNamesCount() > Limits.FLUSH_NAMES_MAX) {
        throw Errors.invalid("at most " + Limits.FLUSH_NAMES_MAX + " names per flush, got " + r.getNamesCount());
      }
      for (String name : r.getNamesList()) {
        checkName(name);
      }
      return base(header(r.getHeader(), r.hasHeader()))
          .setFlush(FlushCmd.newBuilder().addAllNames(r.getNamesList())).build();
    }, reply -> FlushLocksResponse.newBuilder().addAllReleased(reply.getNames().getNamesList()).build());
  }

  // ------------------------------------------------------------------------------------------------
  // Sessions
  // ------------------------------------------------------------------------------------------------

  @Override
  public void openSession(OpenSessionRequest r, StreamObserver<OpenSessionResponse> observer) {
    write("open_session", observer, () -> {
      long ttl = r.getTtlMs() == 0 ? Limits.SESSION_TTL_MS_DEFAULT : r.getTtlMs();
      if (ttl < Limits.SESSION_TTL_MS_MIN || ttl > Limits.SESSION_TTL_MS_MAX) {
        throw Errors.invalid("ttl_ms must be between " + Limits.SESSION_TTL_MS_MIN + " and "
            + Limits.SESSION_TTL_MS_MAX + ", got " + r.getTtlMs());
      }
      checkOwner(r.getOwner());
      return base(header(r.getHeader(), r.hasHeader()))
          .setOpenSession(OpenSessionCmd.newBuilder().setTtlMs(ttl).setOwner(r.getOwner())).build();
    }, reply -> OpenSessionResponse.newBuilder()
        .setSessionId(reply.getSession().getSessionId()).setTtlMs(reply.getSession().getTtlMs()).build());
  }

  @Override
  public void keepAlive(KeepAliveRequest r, StreamObserver<KeepAliveResponse> observer) {
    write("keep_alive", observer, () -> {
      checkSessionId(r.getSessionId());
      return base(header(r.getHeader(), r.hasHeader()))
          .setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(r.getSessionId())).build();
    }, reply -> KeepAliveResponse.newBuilder().setTtlMs(reply.getSession().getTtlMs())
        .setExpiresAtMs(reply.getSession().getExpiresAtMs()).build());
  }

  @Override
  public void closeSession(CloseSessionRequest r, StreamObserver<CloseSessionResponse> observer) {
    write("close_session", observer, () -> {
      checkSessionId(r.getSessionId());
      return base(header(r.getHeader(), r.hasHeader()))
          .setCloseSession(CloseSessionCmd.newBuilder().setSessionId(r.getSessionId())).build();
    }, reply -> CloseSessionResponse.newBuilder().addAllReleased(reply.getNames().getNamesList()).build());
  }

  // ------------------------------------------------------------------------------------------------
  // Reads
  // ------------------------------------------------------------------------------------------------

  @Override
  public void isLocked(IsLockedRequest r, StreamObserver<IsLockedResponse> observer) {
    read("is_locked", observer, () -> {
      checkName(r.getName());
      return Query.newBuilder().setIsLocked(r.getName()).build();
    }, IsLockedResponse::parseFrom);
  }

  @Override
  public void getLock(GetLockRequest r, StreamObserver<GetLockResponse> observer) {
    read("get_lock", observer, () -> {
      checkName(r.getName());
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
   * One mutating call: {@code command} validates the request and builds the command (throwing a HaspError
   * for bad input, so nothing is proposed); the reply is mapped by {@code onOk} or answered as an error.
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
        call.fail(observer, replyError(reply));
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

  private static HaspError replyError(CommandReply reply) {
    ErrorCode code = ErrorCode.forNumber(reply.getErrorCode());
    return new HaspError(code == null ? ErrorCode.INTERNAL : code, reply.getErrorMessage());
  }

  private RequestHeader header(RequestHeader h, boolean present) {
    if (!present || h.getClientId().isEmpty()) {
      return RequestHeader.newBuilder().setClientId(anonymousClientPrefix + anonymousIds.incrementAndGet())
          .setRequestId(1).build();
    }
    if (h.getClientId().getBytes(StandardCharsets.UTF_8).length > Limits.CLIENT_ID_BYTES_MAX) {
      throw Errors.invalid("header.client_id is longer than " + Limits.CLIENT_ID_BYTES_MAX + " bytes");
    }
    if (h.getRequestId() == 0) {
      throw Errors.invalid("header.request_id must be set (non-zero) when header.client_id is set");
    }
    return h;
  }

  private static Command.Builder base(RequestHeader h) {
    return Command.newBuilder().setClientId(h.getClientId()).setRequestId(h.getRequestId());
  }

  private static void checkName(String name) {
    Result.Failure f = LockTable.checkName(name);
    if (f != null) {
      throw Errors.invalid(f.message());
    }
  }

  private static void checkKey(String key) {
    if (key.isEmpty()) {
      throw Errors.invalid("key must not be empty");
    }
    if (key.getBytes(StandardCharsets.UTF_8).length > Limits.KEY_BYTES_MAX) {
      throw Errors.invalid("key is longer than " + Limits.KEY_BYTES_MAX + " bytes");
    }
  }

  private static void checkOwner(String owner) {
    if (owner.getBytes(StandardCharsets.UTF_8).length > Limits.OWNER_BYTES_MAX) {
      throw Errors.invalid("owner is longer than " + Limits.OWNER_BYTES_MAX + " bytes");
    }
  }

  private static void checkSessionId(long id) {
    if (id == 0) {
      throw Errors.invalid("session_id must be set");
    }
  }

  static LockGrant grant(GrantRecord g) {
    return LockGrant.newBuilder().setName(g.getName()).setKey(g.getKey()).setToken(g.getToken()).setSize(g.getSize())
        .setLeaseMs(g.getLeaseMs()).setExpiresAtMs(g.getExpiresAtMs()).setSessionId(g.getSessionId())
        .setOwner(g.getOwner()).build();
  }
}
