package io.hasp.examples;

import io.hasp.client.HaspClient;
import java.time.Duration;
import java.util.Arrays;

/** Shared by the examples: a client for $HASP_ENDPOINTS (default: the local ./hasp cluster). */
final class Examples {
  private Examples() {}

  static HaspClient client() {
    String eps = System.getenv().getOrDefault("HASP_ENDPOINTS", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003");
    return HaspClient.builder().endpoints(Arrays.stream(eps.split(",")).map(String::trim).toArray(String[]::new))
        .sessionTtl(Duration.ofSeconds(Long.parseLong(System.getenv().getOrDefault("HASP_SESSION_TTL_S", "5"))))
        .securityFromEnvironment() // HASP_TLS_CA, HASP_TLS_CERT, HASP_TLS_KEY, HASP_TOKEN (./hasp --secure sets them)
        .build();
  }

  static int intArg(String[] args, int i, int def) {
    return args.length > i ? Integer.parseInt(args[i]) : def;
  }
}
