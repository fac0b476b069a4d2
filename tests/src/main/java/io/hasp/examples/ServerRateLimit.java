package io.hasp.examples;

import com.sun.net.httpserver.HttpServer;
import io.hasp.client.HaspClient;
import io.hasp.client.LockOptions;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

/**
 * Server-side rate limit: an HTTP endpoint on 127.0.0.1 admits 5 requests per caller per 10 s sliding window
 * (a size-5 lock per caller, 10 s leases, never released) and answers 429 when tryLock fails. The example sends
 * its own bounded burst and prints the status counts. Args: [requests, default 8].
 */
public final class ServerRateLimit {
  public static void main(String[] args) throws Exception {
    int requests = Examples.intArg(args, 0, 8);
    LockOptions window = LockOptions.builder().size(5).lease(Duration.ofSeconds(10)).autoRenew(false).build();
    try (HaspClient client = Examples.client()) {
      HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
      server.createContext("/hello", exchange -> {
        String caller = exchange.getRequestHeaders().getFirst("X-Caller");
        boolean ok = client.tryLock("rate/" + (caller == null ? "anonymous" : caller), window).isPresent();
        byte[] body = (ok ? "hello\n" : "slow down\n").getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(ok ? 200 : 429, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
      });
      server.start();
      String caller = "caller-" + ProcessHandle.current().pid();
      Map<Integer, Integer> counts = new TreeMap<>();
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hello");
      for (int i = 0; i < requests; i++) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).header("X-Caller", caller)
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        counts.merge(r.statusCode(), 1, Integer::sum);
      }
      server.stop(0);
      System.out.println("requests " + requests + ": " + counts.getOrDefault(200, 0) + " x 200, "
          + counts.getOrDefault(429, 0) + " x 429");
    }
  }
}
