package io.hasp.examples;

import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;

/**
 * Failover: every replica runs this; the one that gets "app-primary" is primary until its process dies
 * (its session then expires and the next replica in line takes over). Run two, kill -9 the primary.
 * Args: [seconds to stay primary, default 60].
 */
public final class PrimaryFailover {
  public static void main(String[] args) throws Exception {
    int seconds = Examples.intArg(args, 0, 60);
    try (HaspClient client = Examples.client()) {
      long pid = ProcessHandle.current().pid();
      System.out.println("replica " + pid + ": waiting to become primary");
      try (LockHandle primary = client.lock("app-primary")) {
        System.out.println("replica " + pid + ": PRIMARY (fencing token " + primary.token() + ")");
        for (int i = 0; i < seconds * 10 && primary.isValid(); i++) {
          Thread.sleep(100);
        }
        System.out.println("replica " + pid + ": stepping down" + (primary.isValid() ? "" : " (lock lost)"));
      }
    }
  }
}
