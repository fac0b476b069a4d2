package io.hasp.server.cli;

import io.grpc.StatusRuntimeException;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.NodeStats;
import io.hasp.proto.UnlockRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code hasp bench}: lock+unlock throughput and latency. Each client is a thread with its own client id that
 * takes and releases its own lock ({@code --shared} makes them all contend for one lock) in a loop for the
 * given time, after a warm-up. Prints ops/s and latency percentiles of one lock+unlock pair. Bounded in time.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure lock+unlock throughput and latency against the cluster (bounded by --duration).")
final class BenchCommand extends HaspCli.Base {
  @Option(names = "--clients", split = ",", defaultValue = "1,16,64",
      description = "Concurrent clients; a list runs one round per value (default 1,16,64)")
  List<Integer> clients;
  @Option(names = "--duration", converter = Durations.class, defaultValue = "10s", description = "Per round (default 10s)")
  Duration duration;
  @Option(names = "--warmup", converter = Durations.class, defaultValue = "5s", description = "Before the first round")
  Duration warmup;
  @Option(names = "--shared", description = "All clients contend for one lock") boolean shared;
  @Option(names = "--prefix", defaultValue = "bench/", description = "Lock name prefix") String prefix;
  @Option(names = "--stats-every", converter = Durations.class, defaultValue = "0s",
      description = "Also print, this often, the round's ops/s and each node's state sizes and heap (0 = never)")
  Duration statsEvery;

  @Override
  public Integer call() throws Exception {
    if (duration.toMillis() < 100 || duration.toMinutes() > 60) {
      throw new IllegalArgumentException("--duration must be between 100ms and 60m");
    }
    for (int c : clients) {
      if (c < 1 || c > 1024) {
        throw new IllegalArgumentException("--clients values must be between 1 and 1024, got " + c);
      }
    }
    List<String> json = new ArrayList<>();
    try (Endpoints endpoints = common.open()) {
      if (!warmup.isZero()) {
        round(endpoints, Math.max(4, clients.get(0)), warmup.toMillis(), new AtomicLong());
      }
      for (int c : clients) {
        Result r;
        try (Stats stats = Stats.start(endpoints, statsEvery, out())) {
          r = round(endpoints, c, duration.toMillis(), stats.completed);
        }
        if (common.json) {
          json.add(String.format("{\"clients\":%d,\"opsPerSec\":%.1f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f,\"errors\":%d}",
              c, r.opsPerSec, r.p50Ms, r.p99Ms, r.maxMs, r.errors));
        } else {
          out().printf("clients %4d  lock+unlock/s %8.1f  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %d%n",
              c, r.opsPerSec, r.p50Ms, r.p99Ms, r.maxMs, r.errors);
        }
      }
    }
    if (common.json) {
      out().println("{\"rounds\":[" + String.join(",", json) + "]}");
    }
    return 0;
  }

  private record Result(double opsPerSec, double p50Ms, double p99Ms, double maxMs, long errors) {}

  private Result round(Endpoints endpoints, int n, long millis, AtomicLong completed) throws Exception {
    List<String> addresses = endpoints.addresses();
    ExecutorService pool = Executors.newFixedThreadPool(n);
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    AtomicLong errors = new AtomicLong();
    List<Future<long[]>> results = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int client = i;
      results.add(pool.submit(() -> {
        HaspCli.Common identity = new HaspCli.Common();
        HaspGrpc.HaspBlockingStub base = HaspGrpc.newBlockingStub(endpoints.channel(addresses.get(client % addresses.size())));
        String name = prefix + (shared ? "shared" : Integer.toString(client));
        long[] lat = new long[1 << 16];
        int count = 0;
        while (System.nanoTime() < end) {
          long t0 = System.nanoTime();
          try {
            HaspGrpc.HaspBlockingStub stub = base.withDeadlineAfter(10, TimeUnit.SECONDS);
            LockResponse g = stub.lock(LockRequest.newBuilder().setHeader(identity.headerSettlingEarlier())
                .setName(name).setLeaseMs(30_000).build());
            stub.unlock(UnlockRequest.newBuilder().setHeader(identity.headerSettlingEarlier()).setName(name)
                .setKey(g.getGrant().getKey()).build());
          } catch (StatusRuntimeException e) {
            errors.incrementAndGet();
            continue;
          }
          if (count == lat.length) {
            lat = Arrays.copyOf(lat, lat.length * 2);
          }
          lat[count++] = System.nanoTime() - t0;
          completed.incrementAndGet();
        }
        return Arrays.copyOf(lat, count);
      }));
    }
    long[] all = new long[0];
    for (Future<long[]> f : results) {
      long[] l = f.get(millis + 30_000, TimeUnit.MILLISECONDS);
      long[] merged = Arrays.copyOf(all, all.length + l.length);
      System.arraycopy(l, 0, merged, all.length, l.length);
      all = merged;
    }
    pool.shutdownNow();
    Arrays.sort(all);
    if (all.length == 0) {
      return new Result(0, 0, 0, 0, errors.get());
    }
    return new Result(all.length * 1000.0 / millis, all[all.length / 2] / 1e6, all[(int) (all.length * 0.99)] / 1e6,
        all[all.length - 1] / 1e6, errors.get());
  }

  /**
   * Every {@code every}: the ops/s since the last line and, per node, what the cluster keeps (locks, sessions,
   * remembered outcomes and their clients) and its heap after the last collection, so that a long run shows
   * whether any of them grows.
   */
  private static final class Stats implements AutoCloseable {
    final AtomicLong completed = new AtomicLong();
    private final ScheduledExecutorService timer;

    private Stats(ScheduledExecutorService timer) {
      this.timer = timer;
    }

    static Stats start(Endpoints endpoints, Duration every, java.io.PrintStream out) {
      if (every.isZero()) {
        return new Stats(null);
      }
      ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread th = new Thread(r, "bench-stats");
        th.setDaemon(true);
        return th;
      });
      Stats s = new Stats(t);
      long startNanos = System.nanoTime();
      long[] last = {0, startNanos};
      t.scheduleAtFixedRate(() -> {
        long now = System.nanoTime();
        long done = s.completed.get();
        double rate = (done - last[0]) * 1e9 / Math.max(1, now - last[1]);
        last[0] = done;
        last[1] = now;
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "t=%4ds ops/s %8.1f",
            TimeUnit.NANOSECONDS.toSeconds(now - startNanos), rate));
        for (String a : endpoints.addresses()) {
          try {
            NodeStats n = HaspGrpc.newBlockingStub(endpoints.channel(a)).withDeadlineAfter(2, TimeUnit.SECONDS)
                .clusterStatus(ClusterStatusRequest.getDefaultInstance()).getStats();
            line.append(String.format(Locale.ROOT, " | %s locks %d sessions %d outcomes %d clients %d heap %d MB"
                + " (after gc %d MB)", a, n.getLocks(), n.getSessions(), n.getOutcomes(), n.getClients(),
                n.getHeapUsedBytes() >> 20, n.getHeapAfterGcBytes() >> 20));
          } catch (StatusRuntimeException e) {
            line.append(" | ").append(a).append(" ").append(e.getStatus().getCode());
          }
        }
        out.println(line);
        out.flush();
      }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
      return s;
    }

    @Override
    public void close() {
      if (timer != null) {
        timer.shutdownNow();
      }
    }
  }
}
