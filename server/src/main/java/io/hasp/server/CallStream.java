package io.hasp.server;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.CallError;
import io.hasp.proto.CallFrame;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.ReplyFrame;
import io.hasp.proto.RequestHeader;
import io.hasp.server.Errors.HaspError;
import io.hasp.server.ops.RequestContext;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * One {@code Calls} stream: many client calls multiplexed on one gRPC stream, each handled by the same code as
 * its unary twin ({@link HaspService}) through a {@link FrameCall} that stands in for the unary call's observer.
 * A call is answered by one {@link ReplyFrame} with its call id; its error travels as a {@link CallError} holding
 * what the unary call's status and trailers would have held.
 *
 * <p>Cancellation keeps the unary semantics: a cancel frame, or the end of the stream (the client closed it, its
 * connection broke, the node shuts down), runs the cancel handler of every call it ends, exactly as gRPC does
 * for a cancelled unary call (a waiting acquire without a session is then abandoned, a wait is unregistered).
 *
 * <p>Bounded: at most {@code inFlightMax} calls at once on one stream ({@code limits.calls.per.connection.max});
 * past it a call is answered LIMIT_EXCEEDED at once. Frames larger than the request limit never reach here
 * ({@link MalformedRequestInterceptor} ends the stream with LIMIT_EXCEEDED).
 */
final class CallStream implements StreamObserver<CallFrame> {
  private final HaspService service;
  private final ServerCallStreamObserver<ReplyFrame> out;
  private final int inFlightMax;
  private final Map<Long, FrameCall<?>> inFlight = new ConcurrentHashMap<>();
  private volatile boolean ended;

  CallStream(HaspService service, StreamObserver<ReplyFrame> responses, int inFlightMax) {
    this.service = service;
    this.out = (ServerCallStreamObserver<ReplyFrame>) responses;
    this.inFlightMax = inFlightMax;
    out.setOnCancelHandler(this::endAll);
  }

  @Override
  public void onNext(CallFrame f) {
    long id = f.getCallId();
    if (f.getCallCase() == CallFrame.CallCase.CANCEL) {
      FrameCall<?> c = inFlight.remove(id);
      if (c != null) {
        c.cancel();
      }
      return;
    }
    if (inFlight.size() >= inFlightMax) {
      refuse(id, new HaspError(ErrorCode.LIMIT_EXCEEDED, "this stream already has " + inFlightMax
          + " calls in flight (limits.calls.per.connection.max)"));
      return;
    }
    switch (f.getCallCase()) {
      case LOCK -> dispatch(id, f.getLock().getHeader(), f.getLock(), ReplyFrame.Builder::setLock, service::lock);
      case TRY_LOCK -> dispatch(id, f.getTryLock().getHeader(), f.getTryLock(), ReplyFrame.Builder::setTryLock,
          service::tryLock);
      case UNLOCK -> dispatch(id, f.getUnlock().getHeader(), f.getUnlock(), ReplyFrame.Builder::setUnlock,
          service::unlock);
      case RENEW -> dispatch(id, f.getRenew().getHeader(), f.getRenew(), ReplyFrame.Builder::setRenew, service::renew);
      case ABANDON -> dispatch(id, f.getAbandon().getHeader(), f.getAbandon(), ReplyFrame.Builder::setAbandon,
          service::abandon);
      case OPEN_SESSION -> dispatch(id, f.getOpenSession().getHeader(), f.getOpenSession(),
          ReplyFrame.Builder::setOpenSession, service::openSession);
      case KEEP_ALIVE -> dispatch(id, f.getKeepAlive().getHeader(), f.getKeepAlive(),
          ReplyFrame.Builder::setKeepAlive, service::keepAlive);
      case CLOSE_SESSION -> dispatch(id, f.getCloseSession().getHeader(), f.getCloseSession(),
          ReplyFrame.Builder::setCloseSession, service::closeSession);
      case IS_LOCKED -> dispatch(id, null, f.getIsLocked(), ReplyFrame.Builder::setIsLocked, service::isLocked);
      case GET_LOCK -> dispatch(id, null, f.getGetLock(), ReplyFrame.Builder::setGetLock, service::getLock);
      default -> refuse(id, Errors.invalid("call frame " + id + " carries no call"));
    }
  }

  private <Q, R> void dispatch(long id, RequestHeader header, Q request, BiConsumer<ReplyFrame.Builder, R> setter,
      BiConsumer<Q, StreamObserver<R>> method) {
    FrameCall<R> call = new FrameCall<>(id, setter);
    if (inFlight.putIfAbsent(id, call) != null) {
      refuse(id, Errors.invalid("call id " + id + " is already in flight on this stream"));
      return;
    }
    if (ended) {
      inFlight.remove(id);
      return;
    }
    String requestId = header == null || header.getClientId().isEmpty() ? null
        : RequestContext.idOf(header);
    try (RequestContext.Scope s = RequestContext.enter(requestId)) {
      method.accept(request, call);
    } catch (RuntimeException e) {
      call.onError(e);
    }
  }

  private void refuse(long id, HaspError e) {
    write(ReplyFrame.newBuilder().setCallId(id).setError(error(Errors.toStatus(e))).build());
  }

  private void write(ReplyFrame reply) {
    synchronized (out) {
      if (ended || out.isCancelled()) {
        return;
      }
      try {
        out.onNext(reply);
      } catch (RuntimeException e) {
        // the stream ended under us: its cancel handler ends the calls
      }
    }
  }

  /** The client half-closed: nothing more comes; the calls still in flight are ended as cancelled. */
  @Override
  public void onCompleted() {
    endAll();
    synchronized (out) {
      try {
        out.onCompleted();
      } catch (RuntimeException e) {
        // already ended
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    endAll();
  }

  private void endAll() {
    ended = true;
    for (Long id : inFlight.keySet()) {
      FrameCall<?> c = inFlight.remove(id);
      if (c != null) {
        c.cancel();
      }
    }
  }

  static CallError error(StatusRuntimeException s) {
    Metadata t = s.getTrailers();
    String code = t == null ? null : t.get(Errors.ERROR_CODE);
    String leader = t == null ? null : t.get(Errors.LEADER);
    Status st = s.getStatus();
    return CallError.newBuilder().setStatus(st.getCode().value())
        .setMessage(st.getDescription() == null ? "" : st.getDescription())
        .setErrorCode(code == null ? "" : code).setLeader(leader == null ? "" : leader).build();
  }

  /** One call on the stream, seen by the handlers as its own call observer. */
  private final class FrameCall<R> extends ServerCallStreamObserver<R> {
    private final long id;
    private final BiConsumer<ReplyFrame.Builder, R> setter;
    private volatile boolean cancelled;
    private volatile Runnable onCancel;

    FrameCall(long id, BiConsumer<ReplyFrame.Builder, R> setter) {
      this.id = id;
      this.setter = setter;
    }

    void cancel() {
      cancelled = true;
      Runnable r = onCancel;
      if (r != null) {
        try {
          r.run();
        } catch (RuntimeException e) {
          // a cancel handler's failure ends nothing else
        }
      }
    }

    @Override
    public void onNext(R value) {
      if (inFlight.remove(id, this) && !cancelled) {
        ReplyFrame.Builder b = ReplyFrame.newBuilder().setCallId(id);
        setter.accept(b, value);
        String leader = service.leaderIfFollowing();
        if (leader != null) {
          b.setLeader(leader);
        }
        write(b.build());
      }
    }

    @Override
    public void onError(Throwable t) {
      if (inFlight.remove(id, this) && !cancelled) {
        write(ReplyFrame.newBuilder().setCallId(id).setError(error(Errors.toStatus(t))).build());
      }
    }

    @Override
    public void onCompleted() {}

    @Override
    public boolean isCancelled() {
      return cancelled || ended;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {
      this.onCancel = onCancelHandler;
    }

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}

    @Override
    public void disableAutoInboundFlowControl() {}
  }
}
