package io.hasp.server;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;
import io.hasp.server.Errors.HaspError;

/**
 * Requests gRPC itself would answer badly: one whose bytes do not parse as its message would reach the client as
 * UNKNOWN, and one over the size limit as a bare RESOURCE_EXHAUSTED. Here they become INVALID_ARGUMENT and
 * LIMIT_EXCEEDED with {@code hasp-error-code} and a message naming the problem. (The transport's own limit is set
 * well above {@code maxBytes}, so that requests between the two get this answer.)
 */
final class MalformedRequestInterceptor implements ServerInterceptor {
  private final int maxBytes;

  private MalformedRequestInterceptor(int maxBytes) {
    this.maxBytes = maxBytes;
  }
  /**
   * The service with request parsing moved inside the listener chain (gRPC otherwise parses before any
   * interceptor sees the message) and guarded by this interceptor.
   */
  static io.grpc.ServerServiceDefinition guard(io.grpc.ServerServiceDefinition service, int maxBytes) {
    return io.grpc.ServerInterceptors.intercept(io.grpc.ServerInterceptors.useInputStreamMessages(service),
        new MalformedRequestInterceptor(maxBytes));
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    ServerCall.Listener<Q> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private boolean closed;

      @Override
      public void onMessage(Q message) {
        if (message instanceof java.io.InputStream in) {
          int size;
          try {
            size = in.available();
          } catch (java.io.IOException e) {
            size = 0;
          }
          if (size > maxBytes) {
            closed = true;
            StatusRuntimeException s = Errors.toStatus(new HaspError(ErrorCode.LIMIT_EXCEEDED, "request for "
                + call.getMethodDescriptor().getFullMethodName() + " is " + size + " bytes; at most " + maxBytes
                + " allowed (limits.request.bytes.max)"));
            call.close(s.getStatus(), s.getTrailers());
            return;
          }
        }
        guard(() -> super.onMessage(message));
      }

      @Override
      public void onHalfClose() {
        guard(super::onHalfClose);
      }

      private void guard(Runnable r) {
        if (closed) {
          return;
        }
        try {
          r.run();
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() == Status.Code.INTERNAL || e.getStatus().getCode() == Status.Code.UNKNOWN) {
            close("malformed request for " + call.getMethodDescriptor().getFullMethodName() + ": "
                + e.getStatus().getDescription());
          } else {
            throw e;
          }
        } catch (RuntimeException e) {
          close("malformed request for " + call.getMethodDescriptor().getFullMethodName() + ": " + e.getMessage());
        }
      }

      private void close(String message) {
        closed = true;
        StatusRuntimeException s = Errors.toStatus(new HaspError(ErrorCode.INVALID_ARGUMENT, message));
        call.close(s.getStatus(), s.getTrailers());
      }
    };
  }
}
