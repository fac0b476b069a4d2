package io.hasp.server.ops;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.hasp.proto.RequestHeader;
import org.slf4j.MDC;

/**
 * Puts the id of the request being handled ({@code client_id/request_id} of its {@link RequestHeader}) into the
 * logging MDC under {@link #MDC_KEY} while gRPC runs the handler's callbacks for it, and takes it out again
 * afterwards, so every log line the handler writes on that thread names the request. Work that finishes on
 * other threads (a reply from the Raft log) carries the id itself: see {@link #enter}. Requests without a header
 * (reads, status) have no id.
 */
public final class RequestContext implements ServerInterceptor {
  public static final String MDC_KEY = "request";
  /** Client ids are the client's own text: at most this much of one goes into a log line. */
  static final int ID_CHARS_MAX = 160;

  private RequestContext() {}

  /** The service with its calls' request ids in the MDC (wrap the typed service, before any InputStream guard). */
  public static ServerServiceDefinition around(ServerServiceDefinition service) {
    return ServerInterceptors.intercept(service, new RequestContext());
  }

  /** Sets {@code request} (null: nothing) as the MDC request id until the returned scope closes. */
  public static Scope enter(String request) {
    String previous = MDC.get(MDC_KEY);
    if (request == null) {
      MDC.remove(MDC_KEY);
    } else {
      MDC.put(MDC_KEY, request);
    }
    return () -> {
      if (previous == null) {
        MDC.remove(MDC_KEY);
      } else {
        MDC.put(MDC_KEY, previous);
      }
    };
  }

  /** An MDC setting to undo. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /** {@code client_id/request_id} of a request message with a set header, else null. */
  static String idOf(Object message) {
    if (!(message instanceof Message m) || message instanceof io.hasp.proto.CallFrame) {
      return null; // a frame of the Calls stream: CallStream sets each call's id itself
    }
    FieldDescriptor f = m.getDescriptorForType().findFieldByName("header");
    if (f == null || f.getJavaType() != FieldDescriptor.JavaType.MESSAGE || f.isRepeated() || !m.hasField(f)) {
      return null;
    }
    if (!(m.getField(f) instanceof RequestHeader h) || h.getClientId().isEmpty()) {
      return null;
    }
    return idOf(h);
  }

  /** {@code client_id/request_id} of a request header (its client id made printable and bounded). */
  public static String idOf(RequestHeader h) {
    return printable(h.getClientId()) + "/" + Long.toUnsignedString(h.getRequestId());
  }

  /** No line breaks or other control characters from a client into a log line, and a bounded length. */
  private static String printable(String s) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), ID_CHARS_MAX));
    for (int i = 0; i < s.length() && b.length() < ID_CHARS_MAX; i++) {
      char c = s.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    return b.toString();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    ServerCall.Listener<Q> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private volatile String request;

      @Override
      public void onMessage(Q message) {
        request = idOf(message);
        try (Scope s = enter(request)) {
          super.onMessage(message);
        }
      }

      @Override
      public void onHalfClose() {
        try (Scope s = enter(request)) {
          super.onHalfClose(); // a unary handler runs here
        }
      }

      @Override
      public void onCancel() {
        try (Scope s = enter(request)) {
          super.onCancel();
        }
      }

      @Override
      public void onComplete() {
        try (Scope s = enter(request)) {
          super.onComplete();
        }
      }

      @Override
      public void onReady() {
        try (Scope s = enter(request)) {
          super.onReady();
        }
      }
    };
  }
}
