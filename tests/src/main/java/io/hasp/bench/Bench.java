package io.hasp.bench;

import io.grpc.ManagedChannel;
import io.hasp.bench.BenchMain.Failover;
import io.hasp.bench.BenchMain.Latency;
import io.hasp.bench.BenchMain.Point;
import io.hasp.bench.BenchMain.Results;
import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.NodeStats;
import io.hasp.proto.PeerInfo;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/** Runs the selected workloads against one cluster and prints each point as it is measured. */
final class Bench {
  /** One operation of one client; its latency is what the point reports. */
  @FunctionalInterface
  interface Op {
    void run(int client, HaspClient c) throws Exception;
  }

  private final BenchOptions o;
  private final PrintStream out;
  private final String prefix = "bench-" + UUID.randomUUID().toString().substring(0, 8) + "/";
  private final Results results = new Results();

  Bench(BenchOptions o, PrintStream out) {
    this.o = o;
    this.out = out;
  }

  Results run() throws InterruptedException, IOException {
    results.settings.put("endpoints", o.endpoints());
    results.settings.put("workloads", List.copyOf(o.workloads()));
    results.settings.put("clients", o.clients());
    results.settings.put("duration_ms", o.duration().toMillis());
    results.settings.put("warmup_ms", o.warmup().toMillis());
    out.printf(Locale.ROOT, "hasp bench: %s, %d s warm-up + %d s per point, one HaspClient per client%n",
        String.join(",", o.endpoints()), o.warmup().toSeconds(), o.duration().toSeconds());
    if (!o.jvmWarmup().isZero() && o.workloads().stream().anyMatch(w -> List.of("w1", "w2", "w3", "w4", "reads")
        .contains(w))) {
      // This JVM compiles the client's and the bench's hot code in its first seconds, on the same 2 cores as the
      // nodes; the peers harness's driver has done so on other targets before it measures Hasp.
      out.printf(Locale.ROOT, "(warming up this JVM: W1 on 8 clients for %d s, not measured)%n",
          o.jvmWarmup().toSeconds());
      BenchOptions warm = new BenchOptions(o.endpoints(), o.workloads(), o.clients(), o.jvmWarmup(), Duration.ZERO,
          null, Duration.ZERO, null, null, 1, 1, List.of(), 0, 0, null, o.scaleLease(), Duration.ZERO);
      new Bench(warm, new PrintStream(java.io.OutputStream.nullOutputStream())).measure("warmup", 8,
          (i, c) -> c.lock(prefix + "warm/" + i).close(), Map.of());
    }
    if (o.workloads().contains("w1")) {
      out.println("W1 uncontended lock+unlock (own name per client): ops/s   cycle p50/p90/p99/p99.9/max ms");
      for (int n : o.clients()) {
        report(measure("w1", n, (i, c) -> c.lock(prefix + "w1/" + i).close(), Map.of()));
      }
    }
    if (o.workloads().contains("w2")) {
      out.println("W2 contended mutex (one name): hand-offs/s   wait p50/p90/p99/p99.9/max ms");
      for (int n : o.clients()) {
        if (n < 2) {
          continue;
        }
        AtomicInteger inside = new AtomicInteger();
        AtomicLong violations = new AtomicLong();
        Map<String, Object> extra = new LinkedHashMap<>();
        Point p = measure("w2", n, (i, c) -> {
          LockHandle h = c.lock(prefix + "w2");
          if (inside.incrementAndGet() > 1) {
            violations.incrementAndGet();
          }
          inside.decrementAndGet();
          h.close();
        }, extra, true);
        p.extra().put("mutual_exclusion_violations", violations.get());
        report(p);
      }
    }
    if (o.workloads().contains("w3")) {
      out.println("W3 semaphore of 10, 64 clients: acquisitions/s   wait p50/p90/p99/p99.9/max ms");
      AtomicInteger inside = new AtomicInteger();
      AtomicInteger most = new AtomicInteger();
      Point p = measure("w3", 64, (i, c) -> {
        LockHandle h = c.lock(prefix + "w3", BenchMain.size(10));
        most.accumulateAndGet(inside.incrementAndGet(), Math::max);
        inside.decrementAndGet();
        h.close();
      }, new LinkedHashMap<>(), true);
      p.extra().put("max_concurrent_holders_seen", most.get());
      p.extra().put("permit_violations", most.get() > 10 ? 1 : 0);
      report(p);
    }
    if (o.workloads().contains("w4")) {
      out.println("W4 tryLock on a lock another client holds (fail path): fails/s   p50/p90/p99/p99.9/max ms");
      try (HaspClient holder = BenchMain.connect(o.endpoints())) {
        LockHandle held = holder.lock(prefix + "w4");
        AtomicLong unexpected = new AtomicLong();
        for (int n : o.clients()) {
          Point p = measure("w4", n, (i, c) -> {
            Optional<LockHandle> h = c.tryLock(prefix + "w4");
            if (h.isPresent()) {
              unexpected.incrementAndGet();
              h.get().close();
            }
          }, new LinkedHashMap<>());
          p.extra().put("unexpected_successes", unexpected.getAndSet(0));
          report(p);
        }
        held.close();
      }
    }
    if (o.workloads().contains("reads")) {
      out.println("Reads: isLocked (linearizable, ReadIndex) of a held lock: reads/s   p50/p90/p99/p99.9/max ms");
      try (HaspClient holder = BenchMain.connect(o.endpoints())) {
        LockHandle held = holder.lock(prefix + "reads");
        AtomicLong wrong = new AtomicLong();
        for (int n : o.clients()) {
          Point p = measure("reads", n, (i, c) -> {
            if (!c.isLocked(prefix + "reads")) {
              wrong.incrementAndGet();
            }
          }, new LinkedHashMap<>());
          p.extra().put("wrong_answers", wrong.getAndSet(0));
          report(p);
        }
        held.close();
      }
    }
    if (o.workloads().contains("w7")) {
      out.println("W7 leader kill under W1 load: first grant after the kill (request sent after it), worst client"
          + " stall, new leader seen, recovered, errors, restarted node serving again (ms)");
      for (int r = 1; r <= o.failoverRepeats(); r++) {
        Failover f = new FailoverRun(o, prefix + "w7-" + r + "/", r).run();
        results.failover.add(f);
        out.printf(Locale.ROOT, "  repeat %d: killed %s, new leader %s | first grant %d | worst stall %d | leader"
            + " seen %d | %d/%d | errors %d | rejoin %d%s%n", f.repeat(), f.killed(), f.newLeader(),
            f.firstGrantMs(), f.worstStallMs(), f.leaderSeenMs(), f.recovered(), f.clients(), f.errors(),
            f.rejoinMs(), f.firstError() == null ? "" : "  first error: " + f.firstError());
      }
    }
    if (o.workloads().contains("scale")) {
      out.println("Scale: many held locks, a long queue, restart and catch-up");
      results.scale.putAll(new ScaleRun(o, prefix, out).run());
    }
    return results;
  }

  private void report(Point p) {
    results.points.add(p);
    Latency l = p.latency();
    out.printf(Locale.ROOT, "  %4d clients | %9.1f/s | %7.2f %7.2f %7.2f %7.2f %8.2f | errors %d%s%n", p.clients(),
        p.opsPerSec(), l.p50(), l.p90(), l.p99(), l.p999(), l.max(), p.errors(), extras(p));
    out.flush();
  }

  private static String extras(Point p) {
    StringBuilder b = new StringBuilder();
    p.extra().forEach((k, v) -> b.append(" | ").append(k).append(' ').append(v));
    return b.toString();
  }

  private Point measure(String workload, int n, Op op, Map<String, Object> extra) throws InterruptedException {
    return measure(workload, n, op, extra, false);
  }

  /**
   * Runs {@code op} in a closed loop on {@code n} clients (each its own HaspClient): warm-up, then the measured
   * window. With {@code fairness}, the per-client minimum and maximum op counts go into the point.
   */
  private Point measure(String workload, int n, Op op, Map<String, Object> extra, boolean fairness)
      throws InterruptedException {
    List<HaspClient> clients = connectAll(n);
    ExecutorService pool = Executors.newFixedThreadPool(n, r -> {
      Thread t = new Thread(r, "bench-client");
      t.setDaemon(true);
      return t;
    });
    long warmupNs = o.warmup().toNanos();
    long windowNs = o.duration().toNanos();
    CountDownLatch ready = new CountDownLatch(n);
    long[] bounds = new long[2];
    AtomicLong errors = new AtomicLong();
    AtomicLong completed = new AtomicLong();
    List<Future<Histogram>> done = new ArrayList<>();
    long[] perClient = new long[n];
    String[] firstError = new String[1];
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    bounds[0] = start + warmupNs;
    bounds[1] = bounds[0] + windowNs;
    for (int i = 0; i < n; i++) {
      int idx = i;
      done.add(pool.submit(() -> {
        Histogram h = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
        HaspClient c = clients.get(idx);
        ready.countDown();
        while (System.nanoTime() < start) {
          Thread.onSpinWait();
        }
        long count = 0;
        while (true) {
          long t0 = System.nanoTime();
          if (t0 >= bounds[1]) {
            break;
          }
          try {
            op.run(idx, c);
          } catch (Exception e) {
            long t = System.nanoTime();
            if (t >= bounds[0] && t < bounds[1]) {
              errors.incrementAndGet();
              synchronized (firstError) {
                if (firstError[0] == null) {
                  firstError[0] = e.toString();
                }
              }
            }
            continue;
          }
          long t1 = System.nanoTime();
          if (t1 >= bounds[0] && t1 < bounds[1]) {
            h.recordValue(Math.max(1, Math.min(h.getHighestTrackableValue(), (t1 - t0) / 1_000)));
            count++;
            completed.incrementAndGet();
          }
        }
        perClient[idx] = count;
        return h;
      }));
    }
    ready.await();
    Histogram all = new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
    CpuWindow cpu = CpuWindow.start(o.endpoints(), bounds[0], bounds[1]);
    try (Stats stats = Stats.start(o, out, completed)) {
      for (Future<Histogram> f : done) {
        try {
          all.add(f.get(o.warmup().toMillis() + o.duration().toMillis() + 120_000, TimeUnit.MILLISECONDS));
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
          errors.incrementAndGet();
        }
      }
    } finally {
      pool.shutdownNow();
      closeAll(clients);
    }
    long ops = all.getTotalCount();
    Map<String, Object> x = new LinkedHashMap<>(extra);
    Map<String, Double> perOp = cpu.msPerOp(ops);
    if (!perOp.isEmpty()) {
      x.put("cpu_ms_per_op", perOp);
    }
    if (fairness) {
      long min = Long.MAX_VALUE;
      long max = 0;
      for (long c : perClient) {
        min = Math.min(min, c);
        max = Math.max(max, c);
      }
      x.put("per_client_ops_min", min);
      x.put("per_client_ops_max", max);
    }
    if (firstError[0] != null) {
      x.put("first_error", firstError[0]);
    }
    x.put("loadavg_after", BenchMain.Load.average());
    return new Point(workload, n, ops, ops * 1e9 / windowNs, errors.get(), latency(all), x);
  }

  static Latency latency(Histogram h) {
    if (h.getTotalCount() == 0) {
      return new Latency(0, 0, 0, 0, 0, 0);
    }
    return new Latency(h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3,
        h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3,
        BenchMain.round(h.getMean()) / 1e3);
  }

  private List<HaspClient> connectAll(int n) throws InterruptedException {
    List<HaspClient> clients = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, 8));
    List<Future<HaspClient>> fs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      fs.add(pool.submit(() -> BenchMain.connect(o.endpoints())));
    }
    try {
      for (Future<HaspClient> f : fs) {
        clients.add(f.get(60, TimeUnit.SECONDS));
      }
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      closeAll(clients);
      throw new IllegalStateException("could not connect " + n + " clients: " + e.getMessage(), e);
    } finally {
      pool.shutdownNow();
    }
    return clients;
  }

  static void closeAll(List<HaspClient> clients) {
    clients.parallelStream().forEach(HaspClient::close);
  }

  /**
   * With --stats-every: the ops/s since the last line and, per node, what the cluster keeps (locks, sessions,
   * remembered outcomes and their clients) and its heap (also right after the last collection), so that a long
   * run shows whether any of them grows.
   */
  static final class Stats implements AutoCloseable {
    private final ScheduledExecutorService timer;
    private final List<ManagedChannel> channels = new ArrayList<>();

    private Stats(ScheduledExecutorService timer) {
      this.timer = timer;
    }

    static Stats start(BenchOptions o, PrintStream out, AtomicLong completed) {
      if (o.statsEvery().isZero()) {
        return new Stats(null);
      }
      ScheduledExecutorService t = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread th = new Thread(r, "bench-stats");
        th.setDaemon(true);
        return th;
      });
      Stats s = new Stats(t);
      Map<String, HaspGrpc.HaspBlockingStub> stubs = new LinkedHashMap<>();
      for (String a : o.endpoints()) {
        ManagedChannel ch = EnvSecurity.channel(a);
        s.channels.add(ch);
        stubs.put(a, HaspGrpc.newBlockingStub(ch));
      }
      long startNanos = System.nanoTime();
      long[] last = {0, startNanos};
      t.scheduleAtFixedRate(() -> {
        long now = System.nanoTime();
        long c = completed.get();
        double rate = (c - last[0]) * 1e9 / Math.max(1, now - last[1]);
        last[0] = c;
        last[1] = now;
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "    t=%5ds ops/s %8.1f",
            TimeUnit.NANOSECONDS.toSeconds(now - startNanos), rate));
        stubs.forEach((a, stub) -> {
          try {
            ClusterStatusResponse r = stub.withDeadlineAfter(2, TimeUnit.SECONDS)
                .clusterStatus(ClusterStatusRequest.getDefaultInstance());
            NodeStats n = r.getStats();
            line.append(String.format(Locale.ROOT, " | %s locks %d sessions %d outcomes %d clients %d heap %d MB"
                + " (after gc %d MB)", r.getNodeId(), n.getLocks(), n.getSessions(), n.getOutcomes(),
                n.getClients(), n.getHeapUsedBytes() >> 20, n.getHeapAfterGcBytes() >> 20));
          } catch (RuntimeException e) {
            line.append(" | ").append(a).append(" unreachable");
          }
        });
        out.println(line);
        out.flush();
      }, o.statsEvery().toMillis(), o.statsEvery().toMillis(), TimeUnit.MILLISECONDS);
      return s;
    }

    @Override
    public void close() {
      if (timer != null) {
        timer.shutdownNow();
      }
      channels.forEach(ManagedChannel::shutdownNow);
    }
  }

  /** Node ids to API addresses, and who leads, as the cluster reports it. */
  static final class Topology {
    final Map<String, String> api = new LinkedHashMap<>();
    String leader;

    static Topology of(List<String> endpoints) {
      Topology t = new Topology();
      for (String e : endpoints) {
        ManagedChannel ch = EnvSecurity.channel(e);
        try {
          ClusterStatusResponse s = HaspGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
              .clusterStatus(ClusterStatusRequest.getDefaultInstance());
          for (PeerInfo p : s.getPeersList()) {
            if (!p.getApiAddress().isEmpty()) {
              t.api.put(p.getId(), p.getApiAddress());
            }
          }
          if (s.getRole().equals("LEADER")) {
            t.leader = s.getNodeId();
          }
        } catch (RuntimeException ignored) {
          // the next endpoint
        } finally {
          ch.shutdownNow();
        }
      }
      return t;
    }

    /** The role this node reports, or null when it does not answer; "SERVING" once it also answers a read. */
    static String serving(String address) {
      ManagedChannel ch = EnvSecurity.channel(address);
      try {
        HaspGrpc.HaspBlockingStub stub = HaspGrpc.newBlockingStub(ch);
        ClusterStatusResponse s = stub.withDeadlineAfter(1, TimeUnit.SECONDS)
            .clusterStatus(ClusterStatusRequest.getDefaultInstance());
        if (s.getLeaderId().isEmpty()) {
          return s.getRole();
        }
        stub.withDeadlineAfter(1, TimeUnit.SECONDS).isLocked(IsLockedRequest.newBuilder().setName("bench-probe").build());
        return "SERVING";
      } catch (RuntimeException e) {
        return null;
      } finally {
        ch.shutdownNow();
      }
    }
  }
}
