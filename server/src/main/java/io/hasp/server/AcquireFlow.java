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
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.Codec;
import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Waiter;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Lock and TryLock: propose the acquire, answer a grant at once, or hold the call on a future in {@link Waits}
 * until the entry that grants (or removes) the waiter is applied on this node.
 *
 * <p>A re-sent wait in a session (attempt &gt; 1: the client's try ran out, or it failed over) re-attaches without
 * a log entry: after a ReadIndex read this node's state has every entry committed before the re-send, so the
 * request's waiter, its live hold or its outcome is found locally; only a request the cluster never saw is
 * proposed. Clients re-send long waits every few seconds, so this keeps them cheap.
 *
 * <p>A wait in a session that asked for a pulse ({@code wait_pulse_ms}) is ended with WAIT_CONTINUES when it
 * has waited that long: the client then knows the node is alive and sends the same request again, and a try
 * that gets no answer at all tells it the node is not answering (frozen, cut off without a reset).
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
final class AcquireFlow implements AutoCloseable {
  private final Replicator replicator;
  private final Waits waits;
  private final Commands commands;
  private final NodeMetrics metrics;
  private final LockStateMachine stateMachine;
  private final ScheduledExecutorService pulses =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hasp-wait-pulse");
        t.setDaemon(true);
        return t;
      });
  /** Pulses shorter than this are raised to it (each costs the client a re-send). */
  static final long PULSE_MIN_MS = 500;

  AcquireFlow(Replicator replicator, Waits waits, Commands commands, NodeMetrics metrics,
      LockStateMachine stateMachine) {
    this.stateMachine = stateMachine;
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
    long pulseMs = !tryOnly && r.getSessionId() != 0 && r.getWaitPulseMs() > 0
        ? Math.max(PULSE_MIN_MS, r.getWaitPulseMs()) : 0;
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
    if (waiting != null && r.getSessionId() != 0 && r.getAttempt() > 1) {
      reattach(command, key, waiting, pulseMs, call, out);
    } else if (tryOnly) {
      probeThenPropose(command, call, out);
    } else {
      propose(command, key, waiting, pulseMs, call, out);
    }
  }

  /**
   * A TryLock on a lock that is full (or has waiters) is answered "not acquired" from a linearizable read of the
   * applied state, without a log entry: the answer the log would give at the read's point in time, and nothing
   * to remember (a retry of it is asked again). Any other case (it may be granted, it is a retry, it is invalid)
   * goes through the log. On the leader with its lease this read needs no network round.
   */
  private void probeThenPropose(Command command, NodeMetrics.Call call, ServerCallStreamObserver<LockResponse> out) {
    replicator.read(Query.newBuilder().setTryLock(command).build()).whenComplete((bytes, error) -> {
      if (error != null) {
        call.fail(out, error);
        return;
      }
      boolean fails;
      try {
        fails = io.hasp.proto.replicated.TryLockProbe.parseFrom(bytes).getFails();
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        fails = false;
      }
      if (fails) {
        metrics.triedByRead();
        call.ok(out, NOT_LOCKED);
      } else {
        propose(command, null, null, 0, call, out);
      }
    });
  }

  private static final LockResponse NOT_LOCKED = LockResponse.newBuilder().setLocked(false).build();

  private void reattach(Command command, Waits.Key key, CompletableFuture<Result> waiting, long pulseMs,
      NodeMetrics.Call call, ServerCallStreamObserver<LockResponse> out) {
    replicator.read(Query.newBuilder().setIsLocked(command.getAcquire().getName()).build())
        .whenComplete((bytes, error) -> {
          if (error != null) {
            done(key, waiting);
            call.fail(out, error);
            return;
          }
          Waiter w = stateMachine.localWaiter(key.clientId(), key.requestId());
          if (w != null && w.name().equals(command.getAcquire().getName())) {
            metrics.reattached();
            pulse(command, key, waiting, pulseMs);
            answerWhenDone(waiting, call, out); // the registered future hears of the grant or removal
            return;
          }
          Holder h = stateMachine.localHolder(key.clientId(), key.requestId());
          if (h != null && h.name().equals(command.getAcquire().getName())) {
            metrics.reattached();
            done(key, waiting);
            call.ok(out, LockResponse.newBuilder().setLocked(true)
                .setGrant(grant(Codec.grant(h, stateMachine.localSize(h.name())))).build());
            return;
          }
          // an outcome, or a request never seen: the log decides (a stored outcome answers without a change)
          propose(command, key, waiting, pulseMs, call, out);
        });
  }

  private void propose(Command command, Waits.Key key, CompletableFuture<Result> waiting, long pulseMs,
      NodeMetrics.Call call, ServerCallStreamObserver<LockResponse> out) {
    if (waiting != null && command.getAcquire().getSessionId() != 0) {
      // the node was cut off from the leader (or is closing) while the acquire was still being proposed: answer
      // now, so the client re-attaches elsewhere; the proposal's own answer, if it comes, is then dropped
      waiting.whenComplete((result, error) -> {
        if (error != null) {
          call.fail(out, error);
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
          call.ok(out, NOT_LOCKED);
        }
        case QUEUED -> {
          if (waiting == null) {
            call.fail(out, new HaspError(ErrorCode.INTERNAL, "a TryLock was queued"));
            return;
          }
          pulse(command, key, waiting, pulseMs);
          answerWhenDone(waiting, call, out);
        }
        default -> call.fail(out, new HaspError(ErrorCode.INTERNAL, "unexpected acquire status " + a.getStatus()));
      }
    });
  }

  /** Ends a pulsed wait with WAIT_CONTINUES when its pulse comes due and it still waits. */
  private void pulse(Command command, Waits.Key key, CompletableFuture<Result> waiting, long ms) {
    if (ms <= 0) {
      return;
    }
    try {
      pulses.schedule(() -> {
        if (waiting.completeExceptionally(new HaspError(ErrorCode.WAIT_CONTINUES, "still waiting for lock '"
            + command.getAcquire().getName() + "': send the same request again"))) {
          waits.unregister(key, waiting);
          metrics.pulsed();
        }
      }, ms, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // shutting down
    }
  }

  private static void answerWhenDone(CompletableFuture<Result> waiting, NodeMetrics.Call call,
      ServerCallStreamObserver<LockResponse> out) {
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

  /** Stops pulsing; the node's waits are failed by the node itself as it closes. */
  @Override
  public void close() {
    pulses.shutdownNow();
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
