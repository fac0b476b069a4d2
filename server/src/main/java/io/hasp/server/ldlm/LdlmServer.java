package io.hasp.server.ldlm;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.server.LockOps;
import io.hasp.server.NodeConfig;
import io.hasp.server.security.NodeSecurity;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's LDLM front end: the LDLM gRPC service on {@code ldlm.address}, LDLM's REST API on
 * {@code ldlm.rest.address} (when set), and the upkeep of the connections' Hasp sessions: a keep-alive of every
 * open one each third of {@code ldlm.session.ttl}, and a close through the log when its connection ends. Started
 * and closed by the node ({@code HaspNode}); what it maps and why: {@code package-info.java}.
 */
public final class LdlmServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(LdlmServer.class);
  /** How long closing the node waits for its connections' sessions to be closed through the log. */
  static final long CLOSE_WAIT_MS = 2_000;

  private final LdlmConfig config;
  private final ScheduledExecutorService timer;
  private final LdlmLocks locks;
  private final LdlmConnections connections;
  private final Server grpc;
  private final LdlmRest rest;
  private volatile boolean closed;

  private LdlmServer(NodeConfig node, LockOps ops, NodeSecurity security, MetricRegistry metrics) throws IOException {
    this.config = node.ldlm();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "hasp-ldlm");
      t.setDaemon(true);
      return t;
    });
    this.locks = new LdlmLocks(ops, config, timer, () -> closed);
    LdlmAuth auth = new LdlmAuth(config.password(), security);
    this.connections = new LdlmConnections(ops.nodeId(), config.connectionsMax(), auth, this::ended);
    NodeConfig.HostPort at = config.address();
    // Handlers never block (answers come from futures), so they run on the I/O threads. Keep-alive as LDLM's:
    // the server pings an idle connection every keepalive_interval and drops it when a ping goes unanswered for
    // keepalive_timeout (a dead client's locks are then released); clients may ping every 10 s, also idle.
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(at.host(), at.port()))
        .directExecutor()
        .addService(ServerInterceptors.intercept(new LdlmService(locks, metrics), connections))
        .addTransportFilter(connections)
        .keepAliveTime(config.keepaliveInterval().toMillis(), TimeUnit.MILLISECONDS)
        .keepAliveTimeout(config.keepaliveTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .maxInboundMessageSize(Math.max(64 << 10, node.requestBytesMax()))
        .maxConcurrentCallsPerConnection(node.callsPerConnectionMax());
    security.configureTlsOnly(b);
    this.grpc = b.build();
    try {
      grpc.start();
    } catch (IOException e) {
      timer.shutdownNow();
      throw new IOException("cannot listen on ldlm.address " + at + ": " + e.getMessage(), e);
    }
    try {
      this.rest = config.restAddress() == null ? null
          : LdlmRest.start(config.restAddress(), config, locks, auth, security, ops.nodeId());
    } catch (IOException e) {
      grpc.shutdownNow();
      timer.shutdownNow();
      throw new IOException("cannot listen on ldlm.rest.address " + config.restAddress() + ": " + e.getMessage(), e);
    }
    long every = Math.max(100, config.sessionTtl().toMillis() / 3);
    timer.scheduleWithFixedDelay(this::keepAlive, every, every, TimeUnit.MILLISECONDS);
    metrics.register("hasp.ldlm.connections", (Gauge<Integer>) connections::size);
    LOG.info("LDLM service on {}{}{} (session TTL {} ms{}{})", at,
        rest == null ? "" : ", REST on " + config.restAddress(), security.tls() ? ", TLS" : "",
        config.sessionTtl().toMillis(), config.noClearOnDisconnect() ? ", no_clear_on_disconnect" : "",
        auth.required() ? ", password required" : "");
  }

  /** Starts the LDLM service (the config must have {@code ldlm.address}). */
  public static LdlmServer start(NodeConfig node, LockOps ops, NodeSecurity security, MetricRegistry metrics)
      throws IOException {
    if (!node.ldlm().enabled()) {
      throw new IllegalArgumentException("ldlm.address is off");
    }
    return new LdlmServer(node, ops, security, metrics);
  }

  /** host:port of the LDLM gRPC service (the bound port). */
  public String address() {
    return config.address().host() + ":" + ((InetSocketAddress) grpc.getListenSockets().get(0)).getPort();
  }

  /** host:port of the REST API, or "" when it is off. */
  public String restAddress() {
    return rest == null ? "" : config.restAddress().host() + ":" + rest.address().getPort();
  }

  /** Keeps every live connection's open session alive; a session the cluster ended is dropped (see LdlmSession). */
  private void keepAlive() {
    try {
      for (LdlmSession s : connections.live()) {
        LdlmSession.Ref ref = s.openRef();
        if (ref == null) {
          continue;
        }
        CompletableFuture<CommandReply> f = locks.keepAlive(s, ref);
        if (f != null) {
          f.whenComplete((reply, error) -> {
            if (error == null && (reply.getErrorCode() == ErrorCode.SESSION_EXPIRED_VALUE
                || reply.getErrorCode() == ErrorCode.PERMISSION_DENIED_VALUE) && s.lost(ref)) {
              LOG.warn("LDLM client {}: its session {} ended in the cluster (this node was cut off for longer than "
                  + "ldlm.session.ttl?); its locks were released, its next lock opens a new session", s.owner(), ref.id());
            }
          });
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("LDLM keep-alive round failed", e);
    }
  }

  /** A connection ended: its session is closed through the log (locks released, waiters removed, one entry). */
  private void ended(LdlmSession s) {
    CompletableFuture<LdlmSession.Ref> opened = s.end();
    if (opened != null) {
      opened.thenCompose(ref -> locks.close(s, ref)).whenComplete((reply, error) -> {
        if (error != null) {
          LOG.info("LDLM client {}: closing its session failed ({}); it ends after ldlm.session.ttl", s.owner(),
              error.getMessage());
        } else if (reply.getErrorCode() != 0) {
          LOG.debug("LDLM client {}: session close answered {}", s.owner(), reply.getErrorMessage());
        }
      });
    }
  }

  /**
   * Closes every connection's session through the log (as if each client had disconnected: a stopped node's LDLM
   * clients lose their locks, as with LDLM), waiting up to {@link #CLOSE_WAIT_MS}, then stops serving.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    grpc.shutdown();
    if (rest != null) {
      rest.close();
    }
    List<CompletableFuture<?>> closing = new ArrayList<>();
    for (LdlmSession s : connections.close()) {
      CompletableFuture<LdlmSession.Ref> opened = s.end();
      if (opened != null) {
        closing.add(opened.thenCompose(ref -> locks.close(s, ref)));
      }
    }
    try {
      CompletableFuture.allOf(closing.toArray(new CompletableFuture<?>[0])).get(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      LOG.info("LDLM: {} connection session(s) not closed in time; they end after ldlm.session.ttl", closing.size());
    }
    grpc.shutdownNow();
    timer.shutdownNow();
    try {
      grpc.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
