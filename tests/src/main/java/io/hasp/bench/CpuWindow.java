package io.hasp.bench;

import io.grpc.ManagedChannel;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspGrpc;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The CPU each node and this client process spend in a measured window: each node's process CPU time
 * ({@code NodeStats.process_cpu_nanos}) and this JVM's own are read when the window opens and when it closes.
 * Divided by the window's operations it is the CPU cost of one operation, a figure that moves far less than
 * throughput when something else shares the machine.
 */
final class CpuWindow {
  private final Map<String, long[]> nanos = new LinkedHashMap<>(); // node id (or "client") -> {start, end}
  private final ScheduledExecutorService timer;

  private CpuWindow(ScheduledExecutorService timer) {
    this.timer = timer;
  }

  /** Reads every endpoint at {@code startNanos} and {@code endNanos} (System.nanoTime). */
  static CpuWindow start(List<String> endpoints, long startNanos, long endNanos) {
    ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread th = new Thread(r, "bench-cpu");
      th.setDaemon(true);
      return th;
    });
    CpuWindow w = new CpuWindow(t);
    long now = System.nanoTime();
    t.schedule(() -> w.read(endpoints, 0), Math.max(0, startNanos - now), TimeUnit.NANOSECONDS);
    t.schedule(() -> w.read(endpoints, 1), Math.max(0, endNanos - now), TimeUnit.NANOSECONDS);
    t.shutdown();
    return w;
  }

  private void read(List<String> endpoints, int slot) {
    for (String e : endpoints) {
      ManagedChannel ch = EnvSecurity.channel(e);
      try {
        ClusterStatusResponse s = HaspGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
            .clusterStatus(ClusterStatusRequest.getDefaultInstance());
        if (s.getStats().getProcessCpuNanos() > 0) {
          put(s.getNodeId(), slot, s.getStats().getProcessCpuNanos());
        }
      } catch (RuntimeException ignored) {
        // a node that does not answer has no figure for this window
      } finally {
        ch.shutdownNow();
      }
    }
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      put("client", slot, os.getProcessCpuTime());
    }
  }

  private synchronized void put(String who, int slot, long value) {
    nanos.computeIfAbsent(who, k -> new long[] {-1, -1})[slot] = value;
  }

  /** Milliseconds of CPU per operation for each node read at both ends of the window, and for this client. */
  Map<String, Double> msPerOp(long ops) {
    try {
      timer.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Map<String, Double> out = new LinkedHashMap<>();
    if (ops <= 0) {
      return out;
    }
    synchronized (this) {
      nanos.forEach((who, v) -> {
        if (v[0] >= 0 && v[1] >= v[0]) {
          out.put(who, Math.round((v[1] - v[0]) / 1e6 / ops * 1000) / 1000.0);
        }
      });
    }
    return out;
  }
}
