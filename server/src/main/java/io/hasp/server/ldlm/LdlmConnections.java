package io.hasp.server.ldlm;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerTransportFilter;
import io.grpc.Status;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An LDLM connection is an LDLM client's session. This filter sees every connection of the LDLM port begin and
 * end: a new connection gets an {@link LdlmSession} in its transport attributes (bounded by
 * {@code ldlm.connections.max}); the interceptor checks each call's credentials ({@link LdlmAuth}) and hands the
 * call its connection's session through the gRPC {@link Context}; a connection's end is reported to
 * {@code onEnd}, which closes its Hasp session through the log.
 */
final class LdlmConnections extends ServerTransportFilter implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(LdlmConnections.class);
  static final Attributes.Key<LdlmSession> SESSION_ATTR = Attributes.Key.create("hasp.ldlm.session");
  static final Context.Key<LdlmSession> SESSION = Context.key("hasp.ldlm.session");
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String nodeId;
  private final int max;
  private final LdlmAuth auth;
  private final Consumer<LdlmSession> onEnd;
  private final Set<LdlmSession> live = ConcurrentHashMap.newKeySet();
  private final AtomicInteger count = new AtomicInteger();
  private volatile boolean closed;

  LdlmConnections(String nodeId, int max, LdlmAuth auth, Consumer<LdlmSession> onEnd) {
    this.nodeId = nodeId;
    this.max = max;
    this.auth = auth;
    this.onEnd = onEnd;
  }

  @Override
  public Attributes transportReady(Attributes attributes) {
    if (closed) {
      return attributes;
    }
    if (count.incrementAndGet() > max) {
      count.decrementAndGet();
      LOG.warn("LDLM connection from {} refused: this node already serves {} (ldlm.connections.max)",
          attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), max);
      return attributes;
    }
    LdlmSession s = new LdlmSession(nodeId, "ldlm " + address(attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)), false);
    live.add(s);
    return attributes.toBuilder().set(SESSION_ATTR, s).build();
  }

  @Override
  public void transportTerminated(Attributes attributes) {
    LdlmSession s = attributes.get(SESSION_ATTR);
    if (s != null && live.remove(s)) {
      count.decrementAndGet();
      onEnd.accept(s);
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String refused = auth.check(headers.get(AUTHORIZATION), call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    if (refused != null) {
      call.close(Status.UNAUTHENTICATED.withDescription(refused), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    LdlmSession s = call.getAttributes().get(SESSION_ATTR);
    if (s == null) {
      call.close(Status.RESOURCE_EXHAUSTED.withDescription(closed ? "node shutting down"
          : "this node already serves " + max + " LDLM connections (ldlm.connections.max): connect to another node"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(SESSION, s), call, headers, next);
  }

  /** host:port of a client (no leading slash, unlike InetSocketAddress.toString). */
  static String address(java.net.SocketAddress a) {
    return a instanceof java.net.InetSocketAddress i ? i.getHostString() + ":" + i.getPort() : String.valueOf(a);
  }

  /** The live connections' sessions. */
  List<LdlmSession> live() {
    return List.copyOf(live);
  }

  int size() {
    return count.get();
  }

  /** No new connection gets a session from now; returns the live ones (the caller closes them). */
  List<LdlmSession> close() {
    closed = true;
    List<LdlmSession> all = List.copyOf(live);
    live.clear();
    return all;
  }
}
