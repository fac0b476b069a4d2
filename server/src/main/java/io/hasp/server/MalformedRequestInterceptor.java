package io.hasp.server;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;
import io.hasp.server.Errors.HaspError;
import java.io.InputStream;

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
  static ServerServiceDefinition guard(ServerServiceDefinition service, int maxBytes) {
    return ServerInterceptors.intercept(streamedRequests(service), new MalformedRequestInterceptor(maxBytes));
  }

  /**
   * Like {@link ServerInterceptors#useInputStreamMessages}, which turns requests and responses into streams, but
   * for requests only: there every response was serialized, read back through a new 8 KiB buffer and copied
   * again into the frame, about a tenth of a busy leader's CPU. Responses pass through as the handler made them.
   */
  static ServerServiceDefinition streamedRequests(ServerServiceDefinition service) {
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(service.getServiceDescriptor().getName());
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      b.addMethod(streamedRequests(m));
    }
    return b.build();
  }

  private static <Q, R> ServerMethodDefinition<InputStream, R> streamedRequests(ServerMethodDefinition<Q, R> def) {
    MethodDescriptor<Q, R> typed = def.getMethodDescriptor();
    MethodDescriptor<InputStream, R> streamed = typed.toBuilder(STREAM, typed.getResponseMarshaller()).build();
    ServerCallHandler<InputStream, R> handler = (call, headers) -> {
      ServerCall.Listener<Q> inner = def.getServerCallHandler().startCall(new TypedCall<>(call, typed), headers);
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(InputStream message) {
          inner.onMessage(typed.parseRequest(message));
        }

        @Override
        public void onHalfClose() {
          inner.onHalfClose();
        }

        @Override
        public void onCancel() {
          inner.onCancel();
        }

        @Override
        public void onComplete() {
          inner.onComplete();
        }

        @Override
        public void onReady() {
          inner.onReady();
        }
      };
    };
    return ServerMethodDefinition.create(streamed, handler);
  }

  /** Requests as the bytes that came (parsed by the typed method inside the listener chain). */
  private static final MethodDescriptor.Marshaller<InputStream> STREAM = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream.markSupported() ? stream : new java.io.BufferedInputStream(stream);
    }
  };

  /** The handler's view of a streamed-request call: its own typed method; everything else is the call's. */
  private static final class TypedCall<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<InputStream, R> call;
    private final MethodDescriptor<Q, R> method;

    TypedCall(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    public void request(int numMessages) {
      call.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
      call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public void close(Status status, Metadata trailers) {
      call.close(status, trailers);
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      call.setOnReadyThreshold(numBytes);
    }

    @Override
    public io.grpc.SecurityLevel getSecurityLevel() {
      return call.getSecurityLevel();
    }

    @Override
    public io.grpc.Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
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
