package io.hasp.client;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.AbandonRequest;
import io.hasp.proto.CallError;
import io.hasp.proto.CallFrame;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.ReplyFrame;
import io.hasp.proto.UnlockRequest;

/**
 * The unary calls that may travel on the {@code Calls} stream, and how each maps to its frame and back. A reply
 * frame's error becomes the same {@link StatusRuntimeException} (status, {@code hasp-error-code}, {@code hasp-leader})
 * the unary call would have failed with, so retries and errors are decided the same way on both paths.
 */
final class Frames {
  private Frames() {}

  /** True for the calls the stream carries (role client's calls; admin calls stay unary). */
  static boolean streamable(MethodDescriptor<?, ?> m) {
    return kind(m) != Kind.NONE;
  }

  private enum Kind { NONE, LOCK, TRY_LOCK, UNLOCK, RENEW, ABANDON, OPEN_SESSION, KEEP_ALIVE, CLOSE_SESSION,
    IS_LOCKED, GET_LOCK }

  private static Kind kind(MethodDescriptor<?, ?> m) {
    // identity checks: the generated descriptors are singletons
    if (m == HaspGrpc.getLockMethod()) {
      return Kind.LOCK;
    } else if (m == HaspGrpc.getTryLockMethod()) {
      return Kind.TRY_LOCK;
    } else if (m == HaspGrpc.getUnlockMethod()) {
      return Kind.UNLOCK;
    } else if (m == HaspGrpc.getRenewMethod()) {
      return Kind.RENEW;
    } else if (m == HaspGrpc.getAbandonMethod()) {
      return Kind.ABANDON;
    } else if (m == HaspGrpc.getOpenSessionMethod()) {
      return Kind.OPEN_SESSION;
    } else if (m == HaspGrpc.getKeepAliveMethod()) {
      return Kind.KEEP_ALIVE;
    } else if (m == HaspGrpc.getCloseSessionMethod()) {
      return Kind.CLOSE_SESSION;
    } else if (m == HaspGrpc.getIsLockedMethod()) {
      return Kind.IS_LOCKED;
    } else if (m == HaspGrpc.getGetLockMethod()) {
      return Kind.GET_LOCK;
    }
    return Kind.NONE;
  }

  /** The frame carrying {@code request} (its call id is set when it is sent). */
  static CallFrame.Builder frame(MethodDescriptor<?, ?> m, Object request) {
    CallFrame.Builder f = CallFrame.newBuilder();
    switch (kind(m)) {
      case LOCK -> f.setLock((LockRequest) request);
      case TRY_LOCK -> f.setTryLock((LockRequest) request);
      case UNLOCK -> f.setUnlock((UnlockRequest) request);
      case RENEW -> f.setRenew((RenewRequest) request);
      case ABANDON -> f.setAbandon((AbandonRequest) request);
      case OPEN_SESSION -> f.setOpenSession((OpenSessionRequest) request);
      case KEEP_ALIVE -> f.setKeepAlive((KeepAliveRequest) request);
      case CLOSE_SESSION -> f.setCloseSession((CloseSessionRequest) request);
      case IS_LOCKED -> f.setIsLocked((IsLockedRequest) request);
      case GET_LOCK -> f.setGetLock((GetLockRequest) request);
      default -> throw new IllegalArgumentException("not a stream call: " + m.getFullMethodName());
    }
    return f;
  }

  /** The response in a reply frame, or null when the frame holds another call's kind of answer. */
  static Object response(MethodDescriptor<?, ?> m, ReplyFrame r) {
    return switch (kind(m)) {
      case LOCK -> r.hasLock() ? r.getLock() : null;
      case TRY_LOCK -> r.hasTryLock() ? r.getTryLock() : null;
      case UNLOCK -> r.hasUnlock() ? r.getUnlock() : null;
      case RENEW -> r.hasRenew() ? r.getRenew() : null;
      case ABANDON -> r.hasAbandon() ? r.getAbandon() : null;
      case OPEN_SESSION -> r.hasOpenSession() ? r.getOpenSession() : null;
      case KEEP_ALIVE -> r.hasKeepAlive() ? r.getKeepAlive() : null;
      case CLOSE_SESSION -> r.hasCloseSession() ? r.getCloseSession() : null;
      case IS_LOCKED -> r.hasIsLocked() ? r.getIsLocked() : null;
      case GET_LOCK -> r.hasGetLock() ? r.getGetLock() : null;
      default -> null;
    };
  }

  /** The status a unary call would have failed with. */
  static StatusRuntimeException status(CallError e) {
    Metadata trailers = new Metadata();
    if (!e.getErrorCode().isEmpty()) {
      trailers.put(RetryPolicy.ERROR_CODE, e.getErrorCode());
    }
    if (!e.getLeader().isEmpty()) {
      trailers.put(RetryPolicy.LEADER, e.getLeader());
    }
    return Status.fromCodeValue(e.getStatus()).withDescription(e.getMessage()).asRuntimeException(trailers);
  }
}
