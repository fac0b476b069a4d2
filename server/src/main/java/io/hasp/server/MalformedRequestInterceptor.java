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
 * A request whose bytes do not parse as its message would reach the client as UNKNOWN. Here it becomes INVALID_ARGUMENT with {@code hasp-error-code} and a message naming it.
 */
final class MalformedRequestInterceptor implements ServerInterceptor {
  /**
   * The service with request parsing moved inside the listener chain (gRPC otherwise parses before any
   * interceptor sees the message) and guarded by this interceptor.
   */
  static io.grpc.ServerServiceDefinition guard(io.grpc.ServerServiceDefinition service) {
    return io.grpc.ServerInterceptors.intercept(io.grpc.ServerInterceptors.useInputStreamMessages(service),
        new MalformedRequestInterceptor());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    ServerCall.Listener<Q> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private boolean closed;

      @Override
      public void onMessage(Q message) {
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
