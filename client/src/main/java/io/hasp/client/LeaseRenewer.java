package io.hasp.client;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;

/**
 * Auto-renew of leased holds: each is renewed at about a third of its lease. A renew the cluster refuses (the
 * hold is gone) reports the hold lost at once; one that cannot get through reports it lost once its client-side
 * deadline (counted from when the last successful renew was sent, so never later than the server's) has passed.
 */
final class LeaseRenewer {
  private final ScheduledExecutorService scheduler;
  private final BiFunction<LockHandle, Duration, CompletableFuture<Void>> renew;
  private final BiConsumer<LockHandle, HaspException> lose;

  LeaseRenewer(ScheduledExecutorService scheduler, BiFunction<LockHandle, Duration, CompletableFuture<Void>> renew,
      BiConsumer<LockHandle, HaspException> lose) {
    this.scheduler = scheduler;
    this.renew = renew;
    this.lose = lose;
  }

  void start(LockHandle h, Duration lease) {
    long period = Math.max(50, lease.toMillis() / 3);
    try {
      h.renewal = scheduler.scheduleWithFixedDelay(() -> {
        if (!h.isValid()) {
          return;
        }
        renew.apply(h, lease).exceptionally(e -> {
          HaspException x = RetryPolicy.toException(HaspClient.unwrap(e));
          if (h.leaseDeadline() != null && Instant.now().isAfter(h.leaseDeadline())) {
            lose.accept(h, x);
          }
          return null;
        });
      }, period, period, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // the client is closing
    }
  }
}
