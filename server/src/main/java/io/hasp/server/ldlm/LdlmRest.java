package io.hasp.server.ldlm;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.ldlm.RenewRequest;
import io.hasp.proto.ldlm.TryLockRequest;
import io.hasp.proto.ldlm.UnlockRequest;
import io.hasp.server.Errors;
import io.hasp.server.NodeConfig.HostPort;
import io.hasp.server.security.NodeSecurity;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LDLM's REST API ({@code ldlm.rest.address}; HTTPS with the node's certificate when TLS is on):
 *
 * <ul>
 *   <li>{@code POST /session}: opens a Hasp session whose TTL is {@code ldlm.rest.session.timeout}; 201
 *       {@code {"session_id": ...}} and the cookie {@code ldlm-session} (the same value);
 *   <li>{@code DELETE /session}: closes it through the log (its locks released); 200, or 409
 *       {@code {"error":"session not found"}};
 *   <li>{@code POST /v1/lock} (TryLock: {@code name}, {@code lock_timeout_seconds}, {@code size}), {@code POST
 *       /v1/unlock} ({@code name}, {@code key}), {@code POST /v1/renew} ({@code name}, {@code key},
 *       {@code lock_timeout_seconds}): 200 with LDLM's answer as JSON, an error as {@code "error": {"code":
 *       "LockSizeMismatch", "message": ...}}. Each request first keeps its session alive (the expiry slides); a
 *       missing, unknown or expired cookie is 401 with a JSON error naming {@code /session}.
 * </ul>
 *
 * The session is Hasp's, so it is replicated: its cookie works on every node of the cluster (each node serving it
 * as a Hasp client of its own), it outlives the node that opened it, and when it is idle for its timeout the
 * leader ends it and releases its locks (unless {@code no_clear_on_disconnect}). With a password (or Hasp's auth)
 * every request needs HTTP Basic auth whose password is it (the user is ignored); a failure is 401 with
 * {@code WWW-Authenticate: Basic realm="Restricted"}. Bodies are JSON, at most {@link #BODY_BYTES_MAX} bytes.
 * Answers are written from futures: no thread waits for the cluster.
 */
final class LdlmRest implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(LdlmRest.class);
  static final String COOKIE = "ldlm-session";
  static final int BODY_BYTES_MAX = 64 * 1024;
  /** REST sessions this node remembers as Hasp clients (least recently used forgotten first; they still work). */
  static final int CLIENTS_MAX = 10_000;
  private static final String CREATE_SESSION = "create a new session at /session";

  private final HttpServer server;
  private final ExecutorService executor;
  private final LdlmLocks locks;
  private final LdlmAuth auth;
  private final String nodeId;
  private final long timeoutMs;
  private final Map<String, LdlmSession> clients = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, LdlmSession> eldest) {
      return size() > CLIENTS_MAX;
    }
  };

  private LdlmRest(HttpServer server, ExecutorService executor, LdlmLocks locks, LdlmAuth auth, String nodeId,
      long timeoutMs) {
    this.server = server;
    this.executor = executor;
    this.locks = locks;
    this.auth = auth;
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }

  static LdlmRest start(HostPort address, LdlmConfig config, LdlmLocks locks, LdlmAuth auth, NodeSecurity security,
      String nodeId) throws IOException {
    InetSocketAddress at = new InetSocketAddress(address.host(), address.port());
    SSLContext tls = security.jdkServerContext();
    HttpServer server;
    if (tls == null) {
      server = HttpServer.create(at, 64);
    } else {
      HttpsServer https = HttpsServer.create(at, 64);
      boolean mutual = security.mutualTls();
      https.setHttpsConfigurator(new HttpsConfigurator(tls) {
        @Override
        public void configure(HttpsParameters params) {
          SSLParameters p = getSSLContext().getDefaultSSLParameters();
          p.setNeedClientAuth(mutual);
          params.setSSLParameters(p);
        }
      });
      server = https;
    }
    ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "hasp-ldlm-rest");
      t.setDaemon(true);
      return t;
    });
    LdlmRest rest = new LdlmRest(server, executor, locks, auth, nodeId, config.restSessionTimeout().toMillis());
    server.createContext("/", exchange -> {
      try {
        rest.handle(exchange);
      } catch (IOException | RuntimeException e) {
        LOG.debug("LDLM REST request failed: {}", e.toString());
        exchange.close();
      }
    });
    server.setExecutor(executor);
    server.start();
    return rest;
  }

  /** The address it listens on (the port chosen when 0 was asked). */
  InetSocketAddress address() {
    return server.getAddress();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String method = exchange.getRequestMethod();
    SSLSession ssl = exchange instanceof HttpsExchange h ? h.getSSLSession() : null;
    String refused = auth.check(basicPassword(exchange.getRequestHeaders().getFirst("Authorization")), ssl);
    if (refused != null) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"Restricted\"");
      send(exchange, 401, errorJson(refused), null);
      return;
    }
    boolean known = path.equals("/session") || path.equals("/v1/lock") || path.equals("/v1/unlock")
        || path.equals("/v1/renew");
    if (!known) {
      send(exchange, 404, errorJson("not found: " + path + " (POST /session, DELETE /session, POST /v1/lock, "
          + "POST /v1/unlock, POST /v1/renew)"), null);
      return;
    }
    if (path.equals("/session") && method.equals("DELETE")) {
      deleteSession(exchange);
      return;
    }
    if (!method.equals("POST")) {
      exchange.getResponseHeaders().set("Allow", path.equals("/session") ? "POST, DELETE" : "POST");
      send(exchange, 405, errorJson("method " + method + " not allowed on " + path), null);
      return;
    }
    if (path.equals("/session")) {
      drain(exchange);
      createSession(exchange);
      return;
    }
    String cookie = cookie(exchange);
    LdlmSession.Ref ref = cookie == null ? null : parse(cookie);
    if (ref == null) {
      send(exchange, 401, errorJson(cookie == null ? "session cookie not found. " + CREATE_SESSION
          : "session cookie invalid or expired. " + CREATE_SESSION), null);
      return;
    }
    String body = body(exchange);
    if (body == null) {
      return; // answered: too large
    }
    Message.Builder request = switch (path) {
      case "/v1/lock" -> TryLockRequest.newBuilder();
      case "/v1/unlock" -> UnlockRequest.newBuilder();
      default -> RenewRequest.newBuilder();
    };
    try {
      if (!body.isBlank()) {
        JsonFormat.parser().ignoringUnknownFields().merge(body, request);
      }
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      send(exchange, 400, errorJson("invalid JSON body: " + e.getMessage()), cookie);
      return;
    }
    LdlmSession s = client(cookie, ref, exchange);
    CompletableFuture<CommandReply> alive = locks.keepAlive(s, ref);
    (alive == null ? CompletableFuture.<CommandReply>completedFuture(null) : alive).whenComplete((reply, error) -> {
      try {
        if (error != null) {
          failed(exchange, error, cookie);
        } else if (reply != null && reply.getErrorCode() != 0 && !sessionGone(reply)) {
          failed(exchange, io.hasp.server.LockOps.replyError(reply), cookie);
        } else if (reply != null && reply.getErrorCode() != 0) {
          forget(cookie);
          send(exchange, 401, errorJson("session cookie invalid or expired (" + reply.getErrorMessage() + "). "
              + CREATE_SESSION), null);
        } else {
          operate(exchange, path, request, s, cookie);
        }
      } catch (IOException | RuntimeException e) {
        LOG.debug("LDLM REST answer failed: {}", e.toString());
        exchange.close();
      }
    });
  }

  private void operate(HttpExchange exchange, String path, Message.Builder request, LdlmSession s, String cookie) {
    CompletableFuture<? extends Message> answer;
    switch (path) {
      case "/v1/lock" -> {
        TryLockRequest r = (TryLockRequest) request.build();
        answer = locks.lock(s, r.getName(), null, r.hasLockTimeoutSeconds() ? r.getLockTimeoutSeconds() : null,
            r.hasSize() ? r.getSize() : null, true, LdlmLocks.Call.uncancellable());
      }
      case "/v1/unlock" -> {
        UnlockRequest r = (UnlockRequest) request.build();
        answer = locks.unlock(s, r.getName(), r.getKey());
      }
      default -> {
        RenewRequest r = (RenewRequest) request.build();
        answer = locks.renew(s, r.getName(), r.getKey(), r.getLockTimeoutSeconds());
      }
    }
    answer.whenComplete((m, error) -> {
      try {
        if (error != null) {
          failed(exchange, error, cookie);
        } else {
          send(exchange, 200, json(m), cookie);
        }
      } catch (IOException | RuntimeException e) {
        LOG.debug("LDLM REST answer failed: {}", e.toString());
        exchange.close();
      }
    });
  }

  private void createSession(HttpExchange exchange) {
    LdlmSession s = new LdlmSession(nodeId, "ldlm-rest " + LdlmConnections.address(exchange.getRemoteAddress()), true);
    s.session(() -> locks.open(s, timeoutMs)).whenComplete((ref, error) -> {
      try {
        if (error != null) {
          failed(exchange, error, null);
          return;
        }
        String cookie = ref.id() + "." + ref.key();
        synchronized (clients) {
          clients.put(cookie, s);
        }
        send(exchange, 201, "{\"session_id\":" + quote(cookie) + "}", cookie);
      } catch (IOException | RuntimeException e) {
        LOG.debug("LDLM REST answer failed: {}", e.toString());
        exchange.close();
      }
    });
  }

  private void deleteSession(HttpExchange exchange) throws IOException {
    drain(exchange);
    String cookie = cookie(exchange);
    LdlmSession.Ref ref = cookie == null ? null : parse(cookie);
    if (ref == null) {
      send(exchange, 409, errorJson("session not found"), null);
      return;
    }
    LdlmSession s = client(cookie, ref, exchange);
    locks.close(s, ref).whenComplete((reply, error) -> {
      try {
        if (error != null) {
          failed(exchange, error, null);
          return;
        }
        if (reply.getErrorCode() != 0 && !sessionGone(reply)) {
          failed(exchange, io.hasp.server.LockOps.replyError(reply), null);
          return;
        }
        forget(cookie);
        if (reply.getErrorCode() != 0) {
          send(exchange, 409, errorJson("session not found"), null);
          return;
        }
        exchange.getResponseHeaders().add("Set-Cookie", COOKIE + "=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        send(exchange, 200, "{\"session_id\":\"\"}", null);
      } catch (IOException | RuntimeException e) {
        LOG.debug("LDLM REST answer failed: {}", e.toString());
        exchange.close();
      }
    });
  }

  /** The reply says the cookie names no live session of its key (expired, closed, or made up). */
  private static boolean sessionGone(CommandReply reply) {
    int c = reply.getErrorCode();
    return c == io.hasp.proto.ErrorCode.SESSION_EXPIRED_VALUE || c == io.hasp.proto.ErrorCode.PERMISSION_DENIED_VALUE
        || c == io.hasp.proto.ErrorCode.INVALID_ARGUMENT_VALUE;
  }

  /** This node's Hasp client for the REST session of {@code cookie}. */
  private LdlmSession client(String cookie, LdlmSession.Ref ref, HttpExchange exchange) {
    synchronized (clients) {
      return clients.computeIfAbsent(cookie, c -> LdlmSession.ofRest(nodeId, "ldlm-rest " + LdlmConnections.address(exchange.getRemoteAddress()),
          ref));
    }
  }

  private void forget(String cookie) {
    synchronized (clients) {
      clients.remove(cookie);
    }
  }

  /** A status failure (cluster unavailable) as 503, anything else as 500; always a JSON error. */
  private void failed(HttpExchange exchange, Throwable error, String cookie) throws IOException {
    Throwable t = Errors.unwrap(error);
    if (t instanceof StatusRuntimeException s) {
      int code = s.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE ? 503 : 500;
      send(exchange, code, errorJson(String.valueOf(s.getStatus().getDescription())), cookie);
    } else if (t instanceof Errors.HaspError h) {
      int code = h.code() == io.hasp.proto.ErrorCode.NO_QUORUM || h.code() == io.hasp.proto.ErrorCode.NOT_LEADER
          || h.code() == io.hasp.proto.ErrorCode.LIMIT_EXCEEDED ? 503 : 500;
      send(exchange, code, errorJson(h.code() + ": " + h.getMessage()), cookie);
    } else {
      LOG.warn("LDLM REST request failed", t);
      send(exchange, 500, errorJson("internal error: " + t.getClass().getSimpleName()), cookie);
    }
  }

  /** Writes the answer; with {@code cookie}, the session cookie again with its expiry moved (sliding). */
  private void send(HttpExchange exchange, int code, String json, String cookie) throws IOException {
    if (cookie != null) {
      String expires = DateTimeFormatter.RFC_1123_DATE_TIME.format(
          ZonedDateTime.now(ZoneOffset.UTC).plusNanos(TimeUnit.MILLISECONDS.toNanos(timeoutMs)));
      exchange.getResponseHeaders().add("Set-Cookie", COOKIE + "=" + cookie + "; Path=/; Expires=" + expires);
    }
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
    exchange.close();
  }

  /** The body as text, or null when it was too large (answered 413 then). */
  private String body(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] bytes = in.readNBytes(BODY_BYTES_MAX + 1);
      if (bytes.length > BODY_BYTES_MAX) {
        send(exchange, 413, errorJson("request body larger than " + BODY_BYTES_MAX + " bytes"), null);
        return null;
      }
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  private static void drain(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      in.skipNBytes(Math.min(in.available(), BODY_BYTES_MAX));
    } catch (java.io.EOFException e) {
      // nothing more
    }
  }

  /** The password of an HTTP Basic authorization header (user ignored), or null. */
  static String basicPassword(String header) {
    if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return null;
    }
    try {
      String decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
      int colon = decoded.indexOf(':');
      return colon < 0 ? null : decoded.substring(colon + 1);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The ldlm-session cookie's value, or null. */
  static String cookie(HttpExchange exchange) {
    List<String> headers = exchange.getRequestHeaders().get("Cookie");
    if (headers == null) {
      return null;
    }
    for (String header : headers) {
      for (String part : header.split(";")) {
        String p = part.trim();
        if (p.startsWith(COOKIE + "=")) {
          String v = p.substring(COOKIE.length() + 1).trim();
          return v.isEmpty() ? null : v;
        }
      }
    }
    return null;
  }

  /** "id.key" as a session, or null when malformed. */
  static LdlmSession.Ref parse(String cookie) {
    int dot = cookie.indexOf('.');
    if (dot <= 0 || dot == cookie.length() - 1 || cookie.length() > 128) {
      return null;
    }
    try {
      long id = Long.parseLong(cookie.substring(0, dot));
      String key = cookie.substring(dot + 1);
      return id > 0 && key.matches("[0-9a-f]{1,64}") ? new LdlmSession.Ref(id, key) : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static String json(Message m) throws InvalidProtocolBufferException {
    return JsonFormat.printer().includingDefaultValueFields().preservingProtoFieldNames()
        .omittingInsignificantWhitespace().print(m);
  }

  static String errorJson(String message) {
    return "{\"error\":" + quote(message) + "}";
  }

  static String quote(String s) {
    return io.hasp.server.cli.HaspCli.Json.quote(s);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
