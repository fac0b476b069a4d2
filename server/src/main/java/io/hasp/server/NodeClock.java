package io.hasp.server;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The time a node stamps on the commands it proposes as leader: the wall clock read once at start, advanced by
 * the monotonic clock from then on. A step of the wall clock while the node runs (an operator's {@code date -s},
 * an NTP step, a VM resumed from a snapshot) therefore moves no deadline: a forward step would otherwise end
 * every lease and session that many seconds early, and a backward step would stretch them. This is how etcd's
 * lessor and ZooKeeper's session tracker measure time too. A skew between nodes is harmless by design: a new
 * leader's Refresh gives every lease and session at least its full length from its own clock.
 */
public final class NodeClock {
  private NodeClock() {}

  /** The steady clock of this process. */
  public static LongSupplier steady() {
    return steady(System::currentTimeMillis, System::nanoTime);
  }

  /** A steady clock over the given sources (for tests): {@code wall()} at this call, then {@code nanos()} onward. */
  public static LongSupplier steady(LongSupplier wallMs, LongSupplier nanos) {
    long baseWall = wallMs.getAsLong();
    long baseNanos = nanos.getAsLong();
    return () -> baseWall + TimeUnit.NANOSECONDS.toMillis(nanos.getAsLong() - baseNanos);
  }
}
