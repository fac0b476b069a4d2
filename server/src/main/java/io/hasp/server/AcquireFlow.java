package io.hasp.server;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.LockGrant;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.replicated.AcquireReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.GrantRecord;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.Codec;
import io.hasp.statemachine.core.Result;
import java.util.concurrent.CompletableFuture;

/**
 * Lock and TryLock: propose the acquire, answer a grant at once, or hold the call on a future in {@link Waits}
 * until the entry that grants (or removes) the waiter is applied on this node.
 *
 * <p>When a call ends before it is answered (the client cancelled, its deadline passed, its connection or node
 * went away):
 *
 * <ul>
 *   <li>with a session, nothing is undone here: the client re-sends the same request (it re-attaches to its
 *       waiter or its grant, wherever it now talks), abandons it explicitly, or its session ends;
 *   <li>without a session nobody could ever take what the request still gets, so this node abandons the
 *       request, but only up to the call's own attempt: a newer try the client sent elsewhere is left alone.
 * </ul>
 */
final class AcquireFlow {
  private final Replicator replicator;
  private final Waits waits;
  private final Commands commands;
  private final NodeMetrics metrics;

  AcquireFlow(Replicator replicator, Waits waits, Commands commands, NodeMetrics metrics) {
    this.replicator = replicator;
    this.waits = waits;
    this.commands = commands;
    this.metrics = metrics;
  }

  void acquire(LockRequest r, boolean tryOnly, StreamObserver<LockResponse> observer) {
    NodeMetrics.Call call = metrics.start(tryOnly ? "try_lock" : "lock");
    ServerCallStreamObserver<LockResponse> out = (ServerCallStreamObserver<LockResponse>) observer;
    RequestHeader header;
    Command command;
    try {
      header = commands.header(r.getHeader(), r.hasHeader());
      if (header.getClientId().isEmpty() && !tryOnly) {
        header = commands.anonymous();
      }
      command = commands.lock(r, header, tryOnly);
    } catch (HaspError e) {
      call.fail(out, e);
      return;
    }
    Waits.Key key = new Waits.Key(header.getClientId(), header.getRequestId());
    CompletableFuture<Result> waiting = tryOnly ? null : waits.register(key);
    boolean abandonOnEnd = r.getSessionId() == 0 && !header.getClientId().isEmpty();
    RequestHeader h = header;
    if (waiting != null || abandonOnEnd) {
      out.setOnCancelHandler(() -> {
        if (waiting != null) {
          waits.unregister(key, waiting);
        }
        if (abandonOnEnd) {
          replicator.write(Commands.abandonCall(h, r.getAttempt()));
          metrics.cancelled();
        }
      });
    }
    replicator.write(command).whenComplete((reply, error) -> {
      if (error != null) {
        done(key, waiting);
        call.fail(out, error);
        return;
      }
      if (reply.getErrorCode() != 0) {
        done(key, waiting);
        call.fail(out, replyError(reply));
        return;
      }
      AcquireReply a = reply.getAcquire();
      switch (a.getStatus()) {
        case GRANTED -> {
          done(key, waiting);
          call.ok(out, LockResponse.newBuilder().setLocked(true).setGrant(grant(a.getGrant())).build());
        }
        case NOT_ACQUIRED -> {
          done(key, waiting);
          call.ok(out, LockResponse.newBuilder().setLocked(false).build());
        }
        case QUEUED -> {
          if (waiting == null) {
            call.fail(out, new HaspError(ErrorCode.INTERNAL, "a TryLock was queued"));
            return;
          }
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
        }
        default -> call.fail(out, new HaspError(ErrorCode.INTERNAL, "unexpected acquire status " + a.getStatus()));
      }
    });
  }

  private void done(Waits.Key key, CompletableFuture<Result> waiting) {
    if (waiting != null) {
      waits.unregister(key, waiting);
    }
  }

  static HaspError replyError(CommandReply reply) {
    ErrorCode code = ErrorCode.forNumber(reply.getErrorCode());
    return new HaspError(code == null ? ErrorCode.INTERNAL : code, reply.getErrorMessage());
  }

  static LockGrant grant(GrantRecord g) {
    return LockGrant.newBuilder().setName(g.getName()).setKey(g.getKey()).setToken(g.getToken()).setSize(g.getSize())
        .setLeaseMs(g.getLeaseMs()).setExpiresAtMs(g.getExpiresAtMs()).setSessionId(g.getSessionId())
        .setOwner(g.getOwner()).build();
  }
}
