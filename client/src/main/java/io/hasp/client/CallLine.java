package io.hasp.client;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.CallCancel;
import io.hasp.proto.CallFrame;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.ReplyFrame;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@code Calls} stream to one endpoint: every call this client makes to that node, multiplexed on one gRPC
 * stream and answered by call id. Opened on first use; when it ends (the node died, the connection broke, the
 * client closed) every call still on it fails with the stream's status, exactly as unary calls on a dead
 * connection would, and the next call opens a new stream.
 *
 * <p>Replies are taken on the connection's I/O thread (no hand-off per reply): what runs there is the client's
 * own short, non-blocking bookkeeping; anything of the caller's runs elsewhere (see {@link HaspClient}).
 */
final class CallLine {
  /** Told the outcome of one call on the line: exactly one of the two, at most once. */
  interface Pending {
    void reply(ReplyFrame reply);

    void fail(StatusRuntimeException error);
  }

  private final ManagedChannel channel;
  private final AtomicLong callIds = new AtomicLong();
  private Stream current;
  private volatile boolean unsupported;
  private volatile boolean closed;

  CallLine(ManagedChannel channel) {
    this.channel = channel;
  }

  /** True once the node answered UNIMPLEMENTED (a node of an older version): calls then go unary. */
  boolean unsupported() {
    return unsupported;
  }

  /** Sends one call; returns its id (for {@link #cancel}). The pending is told its outcome on some thread. */
  long send(CallFrame.Builder frame, Pending pending) {
    long id = callIds.incrementAndGet();
    Stream s;
    synchronized (this) {
      if (closed) {
        pending.fail(Status.CANCELLED.withDescription("client is closed").asRuntimeException());
        return id;
      }
      if (current == null || current.dead) {
        current = new Stream();
      }
      s = current;
    }
    s.send(id, frame.setCallId(id).build(), pending);
    return id;
  }

  /** Gives up on call {@code id}: the node ends it as a cancelled call. False when it was answered already. */
  boolean cancel(long id) {
    Stream s;
    synchronized (this) {
      s = current;
    }
    return s != null && s.cancel(id);
  }

  /** Ends the stream; calls still on it fail with CANCELLED. */
  void close() {
    Stream s;
    synchronized (this) {
      closed = true;
      s = current;
      current = null;
    }
    if (s != null) {
      s.end("client is closed");
    }
  }

  /** One opened stream and the calls sent on it. */
  private final class Stream implements StreamObserver<ReplyFrame> {
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final ClientCall<CallFrame, ReplyFrame> call;
    private final StreamObserver<CallFrame> requests;
    private volatile boolean dead;
    /** Why the stream ended (its status), once it has. */
    private volatile StatusRuntimeException ending;

    Stream() {
      // replies on the I/O thread: see the class comment
      call = channel.newCall(HaspGrpc.getCallsMethod(),
          CallOptions.DEFAULT.withExecutor(Runnable::run));
      requests = ClientCalls.asyncBidiStreamingCall(call, this);
    }

    void send(long id, CallFrame frame, Pending p) {
      synchronized (this) {
        if (!dead) {
          pending.put(id, p);
          try {
            requests.onNext(frame);
            return;
          } catch (RuntimeException e) {
            pending.remove(id);
          }
        }
      }
      StatusRuntimeException why = ending;
      p.fail(why != null ? why
          : Status.UNAVAILABLE.withDescription("the call stream to this node ended").asRuntimeException());
    }

    boolean cancel(long id) {
      if (pending.remove(id) == null) {
        return false;
      }
      synchronized (this) {
        if (!dead) {
          try {
            requests.onNext(CallFrame.newBuilder().setCallId(id).setCancel(CallCancel.getDefaultInstance()).build());
          } catch (RuntimeException e) {
            // the stream is ending: that cancels the call on the node
          }
        }
      }
      return true;
    }

    void end(String why) {
      synchronized (this) {
        if (dead) {
          return;
        }
        dead = true;
      }
      call.cancel(why, null);
    }

    @Override
    public void onNext(ReplyFrame r) {
      Pending p = pending.remove(r.getCallId());
      if (p != null) {
        p.reply(r);
      }
    }

    @Override
    public void onError(Throwable t) {
      StatusRuntimeException e = t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
      if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
        unsupported = true;
      } else if (e.getStatus().getCode() == Status.Code.CANCELLED && !closed) {
        // not this client's cancel: the node ended the stream (it is shutting down, or its connection went away
        // mid-stream): for the calls on it that is a node that became unavailable, their outcome unknown
        e = Status.UNAVAILABLE.withDescription("the node ended the call stream: " + e.getStatus().getDescription())
            .withCause(e).asRuntimeException();
      }
      failAll(e);
    }

    @Override
    public void onCompleted() {
      failAll(Status.UNAVAILABLE.withDescription("the node ended the call stream").asRuntimeException());
    }

    private void failAll(StatusRuntimeException e) {
      synchronized (this) {
        ending = e;
        dead = true;
      }
      for (Long id : pending.keySet()) {
        Pending p = pending.remove(id);
        if (p != null) {
          p.fail(e);
        }
      }
    }
  }
}
