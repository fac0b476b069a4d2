package io.hasp.server.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A node's HTTP endpoint ({@code http.address}), plain HTTP for scrapers and probes:
 * <ul>
 *   <li>{@code GET /metrics}: the node's registry in the Prometheus text format (or OpenMetrics / protobuf when the
 *       scraper asks for it), written by the Prometheus exporter's own handler;
 *   <li>{@code GET /health}: 200 {@code ok} while the process serves (503 once its Raft division stopped);
 *   <li>{@code GET /ready}: 200 while {@link Readiness} says ready, else 503; the body is the one-line reason.
 * </ul>
 * Anything else is 404; other methods than GET and HEAD are 405. Two daemon threads serve it.
 */
public final class OpsHttpServer implements Closeable {
  private final HttpServer server;
  private final ExecutorService executor;

  private OpsHttpServer(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Listens on {@code host:port} (port 0: any free port, see {@link #port}).
   *
   * @param alive the liveness verdict: null when alive, else why not
   */
  public static OpsHttpServer start(String host, int port, PrometheusRegistry registry, Readiness readiness,
      Supplier<String> alive) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 64);
    MetricsHandler metrics = new MetricsHandler(registry);
    server.createContext("/metrics", exchange -> {
      if (allowed(exchange, "/metrics")) {
        metrics.handle(exchange);
      }
    });
    server.createContext("/health", exchange -> {
      if (allowed(exchange, "/health")) {
        String why = alive.get();
        respond(exchange, why == null ? 200 : 503, why == null ? "ok" : why);
      }
    });
    server.createContext("/ready", exchange -> {
      if (allowed(exchange, "/ready")) {
        Readiness.Verdict v = readiness.check();
        respond(exchange, v.ready() ? 200 : 503, v.reason());
      }
    });
    server.createContext("/", exchange -> respond(exchange, 404, "not found; try /metrics, /health or /ready"));
    ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "hasp-http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.start();
    return new OpsHttpServer(server, executor);
  }

  /** The port it listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Exactly {@code path}, by GET or HEAD; otherwise answered here with 404 or 405. */
  private static boolean allowed(HttpExchange exchange, String path) throws IOException {
    if (!exchange.getRequestURI().getPath().equals(path)) {
      respond(exchange, 404, "not found; try /metrics, /health or /ready");
      return false;
    }
    String method = exchange.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      respond(exchange, 405, "method " + method + " not allowed; use GET");
      return false;
    }
    return true;
  }

  private static void respond(HttpExchange exchange, int code, String text) throws IOException {
    byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(code, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
    exchange.close();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
    try {
      executor.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
