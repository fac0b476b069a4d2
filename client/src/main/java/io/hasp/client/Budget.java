package io.hasp.client;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * How long a call may keep trying: a monotonic deadline, or none at all. Time left is computed from elapsed
 * time, never from a sum that could overflow, so "forever" really is forever.
 */
final class Budget {
  private static final long NONE = Long.MIN_VALUE;

  private final long startNanos;
  private final long lengthNanos;

  private Budget(long startNanos, long lengthNanos) {
    this.startNanos = startNanos;
    this.lengthNanos = lengthNanos;
  }

  /** Never runs out. */
  static Budget forever() {
    return new Budget(System.nanoTime(), NONE);
  }

  static Budget of(Duration d) {
    return ofMillis(d.toMillis());
  }

  /** Saturates: any length beyond what nanoseconds can count is forever. */
  static Budget ofMillis(long ms) {
    if (ms < 0) {
      throw new IllegalArgumentException("a budget must not be negative, got " + ms + " ms");
    }
    if (ms >= TimeUnit.NANOSECONDS.toMillis(Long.MAX_VALUE) / 2) {
      return forever();
    }
    return new Budget(System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(ms));
  }

  boolean isForever() {
    return lengthNanos == NONE;
  }

  boolean spent() {
    return !isForever() && System.nanoTime() - startNanos >= lengthNanos;
  }

  /** Milliseconds left (at least 0); Long.MAX_VALUE when forever. */
  long remainingMs() {
    if (isForever()) {
      return Long.MAX_VALUE;
    }
    return Math.max(0, TimeUnit.NANOSECONDS.toMillis(lengthNanos - (System.nanoTime() - startNanos)));
  }

  @Override
  public String toString() {
    return isForever() ? "forever" : remainingMs() + " ms left";
  }
}
