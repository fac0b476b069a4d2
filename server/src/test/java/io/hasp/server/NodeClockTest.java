package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

class NodeClockTest {

  @Test
  void aStepOfTheWallClockMovesNoDeadline() {
    AtomicLong wall = new AtomicLong(1_000_000);
    AtomicLong nanos = new AtomicLong(TimeUnit.SECONDS.toNanos(50));
    LongSupplier clock = NodeClock.steady(wall::get, nanos::get);
    assertEquals(1_000_000, clock.getAsLong());

    nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1_500));
    wall.addAndGet(1_500);
    assertEquals(1_001_500, clock.getAsLong());

    wall.addAndGet(4_000); // stepped forward: an NTP step, date -s
    assertEquals(1_001_500, clock.getAsLong());
    wall.addAndGet(-9_000); // and back
    nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(250));
    assertEquals(1_001_750, clock.getAsLong());
  }
}
