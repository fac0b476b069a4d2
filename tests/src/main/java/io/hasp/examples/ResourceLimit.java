package io.hasp.examples;

import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Resource limit: a lock of size 10 admits at most 10 holders at once, e.g. connections to a fragile backend.
 * 25 jobs compete; the example prints the largest number inside at once. Args: [jobs, default 25].
 */
public final class ResourceLimit {
  public static void main(String[] args) throws Exception {
    int jobs = Examples.intArg(args, 0, 25);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger max = new AtomicInteger();
    LockOptions slots = LockOptions.builder().size(10).build();
    try (HaspClient client = Examples.client()) {
      ExecutorService pool = Executors.newFixedThreadPool(jobs);
      List<Future<?>> all = new ArrayList<>();
      for (int j = 0; j < jobs; j++) {
        all.add(pool.submit(() -> {
          try (LockHandle slot = client.lock("backend-slots", slots)) {
            max.accumulateAndGet(inside.incrementAndGet(), Math::max);
            Thread.sleep(300);
            inside.decrementAndGet();
          }
          return null;
        }));
      }
      for (Future<?> f : all) {
        f.get(120, TimeUnit.SECONDS);
      }
      pool.shutdown();
    }
    System.out.println("jobs " + jobs + ", most inside at once: " + max.get() + " (limit 10)");
  }
}
