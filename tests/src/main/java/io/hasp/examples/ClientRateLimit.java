package io.hasp.examples;

import io.hasp.client.HaspClient;
import io.hasp.client.LockOptions;
import java.time.Duration;

/**
 * Client-side rate limit: a lock of size 30 whose holds have a 60 s lease and are never released allows at most
 * 30 grants per sliding minute, across every process that uses the same name. Args: [attempts, default 40].
 */
public final class ClientRateLimit {
  public static void main(String[] args) {
    int attempts = Examples.intArg(args, 0, 40);
    String name = args.length > 1 ? args[1] : "api-calls";
    LockOptions perMinute = LockOptions.builder().size(30).lease(Duration.ofSeconds(60)).autoRenew(false).build();
    int allowed = 0;
    int limited = 0;
    try (HaspClient client = Examples.client()) {
      for (int i = 0; i < attempts; i++) {
        if (client.tryLock(name, perMinute).isPresent()) {
          allowed++;
        } else {
          limited++;
        }
      }
    }
    System.out.println("attempts " + attempts + ": allowed " + allowed + ", rate-limited " + limited);
  }
}
