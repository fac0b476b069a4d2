package io.hasp.bench;

import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.NodeStats;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scale workload: fills the cluster with {@code --locks} held locks (size 1, a lease of {@code --scale-lease},
 * default 10 min, no session),
 * reporting at every power of ten the fill rate and each node's cost per applied command and heap; then each
 * node's heap, RSS and newest snapshot; then the cost per applied command and the hand-off rate with
 * {@code --waiters} waiters queued on one lock; then (with the kill and start commands) a cold restart of every
 * node to serving, and (with the wipe command) a wiped follower's catch-up. Every phase is bounded in time.
 */
final class ScaleRun {
  static final long FILL_BOUND_MS = TimeUnit.MINUTES.toMillis(60);
  static final long PHASE_BOUND_MS = TimeUnit.MINUTES.toMillis(5);
  static final int WAITERS_PER_CLIENT = 2_000;

  private final BenchOptions o;
  private final String prefix;
  private final PrintStream out;
  private final Map<String, Object> result = new LinkedHashMap<>();

  ScaleRun(BenchOptions o, String prefix, PrintStream out) {
    this.o = o;
    this.prefix = prefix + "scale/";
    this.out = out;
  }

  Map<String, Object> run() throws InterruptedException, IOException {
    fill();
    sizes();
    waiters();
    if (o.killCommand() != null && o.startCommand() != null) {
      coldRestart();
      if (o.wipeCommand() != null) {
        catchUp();
      }
    }
    return result;
  }

  // ----------------------------------------------------------------------------------------------
  // Fill
  // ----------------------------------------------------------------------------------------------

  private void fill() throws InterruptedException {
    long n = o.locks();
    int fillClients = o.clients().stream().mapToInt(Integer::intValue).max().orElse(64);
    out.printf(Locale.ROOT, "  fill: %d locks (size 1, lease %s, no session) on %d clients%n", n, o.scaleLease(),
        fillClients);
    List<Long> marks = new ArrayList<>();
    for (long m = 1_000; m < n; m *= 10) {
      marks.add(m);
    }
    marks.add(n);
    LockOptions opts = LockOptions.builder().lease(o.scaleLease()).autoRenew(false).build();
    List<HaspClient> clients = connect(fillClients, Duration.ofSeconds(1));
    AtomicLong next = new AtomicLong();
    AtomicLong done = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FILL_BOUND_MS);
    ExecutorService pool = Executors.newFixedThreadPool(fillClients, daemon("bench-fill"));
    List<Map<String, Object>> segments = new ArrayList<>();
    try {
      for (HaspClient c : clients) {
        pool.submit(() -> {
          long i;
          while ((i = next.getAndIncrement()) < n && System.nanoTime() < deadline) {
            try {
              Optional<LockHandle> h = c.tryLock(name(i), opts);
              if (h.isPresent()) {
                done.incrementAndGet();
              } else {
                errors.incrementAndGet(); // a fresh name is always free
              }
            } catch (RuntimeException e) {
              errors.incrementAndGet();
              next.decrementAndGet(); // not exact, but the count of held locks is read back below
            }
          }
        });
      }
      Map<String, long[]> lastCost = applyCost();
      long lastCount = 0;
      long lastAt = System.nanoTime();
      for (long mark : marks) {
        while (done.get() < mark && System.nanoTime() < deadline && errors.get() < 1_000) {
          Thread.sleep(20);
        }
        long now = System.nanoTime();
        long count = done.get();
        Map<String, long[]> cost = applyCost();
        Map<String, Object> seg = new LinkedHashMap<>();
        seg.put("held", count);
        seg.put("locks_per_s", BenchMain.round((count - lastCount) * 1e9 / Math.max(1, now - lastAt)));
        seg.put("apply_us_per_command", perCommand(lastCost, cost));
        seg.put("heap_after_gc_mb", mapNodes(s -> s.getHeapAfterGcBytes() >> 20));
        segments.add(seg);
        out.printf(Locale.ROOT, "    %,9d held | %8.1f locks/s | apply us/command %s | heap after gc MB %s%n", count,
            seg.get("locks_per_s"), seg.get("apply_us_per_command"), seg.get("heap_after_gc_mb"));
        lastCost = cost;
        lastCount = count;
        lastAt = now;
        if (count < mark) {
          break; // out of time or too many errors: report what was reached
        }
      }
    } finally {
      pool.shutdownNow();
      pool.awaitTermination(30, TimeUnit.SECONDS);
      Bench.closeAll(clients);
    }
    result.put("fill", segments);
    result.put("fill_errors", errors.get());
  }

  private String name(long i) {
    return prefix + i;
  }

  // ----------------------------------------------------------------------------------------------
  // Sizes
  // ----------------------------------------------------------------------------------------------

  private void sizes() {
    Map<String, Object> nodes = new LinkedHashMap<>();
    for (ClusterStatusResponse r : statuses().values()) {
      NodeStats s = r.getStats();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("locks", s.getLocks());
      m.put("heap_used_mb", s.getHeapUsedBytes() >> 20);
      m.put("heap_after_gc_mb", s.getHeapAfterGcBytes() >> 20);
      m.put("heap_max_mb", s.getHeapMaxBytes() >> 20);
      m.put("rss_mb", s.getRssBytes() >> 20);
      m.put("snapshot_index", s.getSnapshotIndex());
      m.put("snapshot_mb", BenchMain.round(s.getSnapshotBytes() / 1048576.0));
      m.put("snapshot_ms", s.getSnapshotMillis());
      nodes.put(r.getNodeId(), m);
      out.printf(Locale.ROOT, "  %s: %,d locks | heap %d MB (after gc %d MB, max %d MB) | RSS %d MB | newest own "
          + "snapshot at %d: %.1f MB in %d ms%n", r.getNodeId(), s.getLocks(), s.getHeapUsedBytes() >> 20,
          s.getHeapAfterGcBytes() >> 20, s.getHeapMaxBytes() >> 20, s.getRssBytes() >> 20, s.getSnapshotIndex(),
          s.getSnapshotBytes() / 1048576.0, s.getSnapshotMillis());
    }
    result.put("nodes", nodes);
  }

  // ----------------------------------------------------------------------------------------------
  // Many waiters on one lock
  // ----------------------------------------------------------------------------------------------

  private void waiters() throws InterruptedException {
    int w = o.waiters();
    if (w == 0) {
      return;
    }
    String queue = prefix + "queue";
    Map<String, Object> q = new LinkedHashMap<>();
    q.put("w1_without_waiters", w1Cost("before"));
    int holders = (w + WAITERS_PER_CLIENT - 1) / WAITERS_PER_CLIENT;
    // a long pulse: each pulse is a ReadIndex read per waiter (10,000 waiters at the default 1 s would be
    // 10,000 reads/s by themselves)
    List<HaspClient> clients = connect(holders + 1, Duration.ofSeconds(60));
    List<CompletableFuture<LockHandle>> pending = new ArrayList<>();
    AtomicLong granted = new AtomicLong();
    try {
      LockHandle first = clients.get(0).lock(queue);
      long queuedAt = System.nanoTime();
      LockOptions opts = LockOptions.builder().waitTimeout(Duration.ofMinutes(10)).build();
      for (int i = 0; i < w; i++) {
        CompletableFuture<LockHandle> f = clients.get(1 + i / WAITERS_PER_CLIENT).lockAsync(queue, opts);
        pending.add(f);
      }
      boolean queued = waitFor(() -> leaderStats().getWaiters() >= w, PHASE_BOUND_MS);
      long queueMs = BenchMain.nanosToMs(System.nanoTime() - queuedAt);
      q.put("waiters", w);
      q.put("queued", queued);
      q.put("queue_ms", queueMs);
      out.printf(Locale.ROOT, "  %d waiters on one lock: %s in %d ms%n", w, queued ? "queued" : "NOT all queued",
          queueMs);
      q.put("w1_with_waiters", w1Cost("with " + w + " waiters"));
      // hand-offs through the head of the long queue: each grant is released as soon as it arrives. Every waiter
      // gets the callback: the queue's order is the order the cluster received the calls, not the order they were
      // made in (with a callback on the first 2,000 only, a grant to any later one stalled the queue for good)
      int handoffs = Math.min(w, 2_000);
      Map<String, long[]> before = applyCost();
      long t0 = System.nanoTime();
      for (CompletableFuture<LockHandle> f : pending) {
        f.thenAccept(h -> {
          granted.incrementAndGet();
          h.close();
        });
      }
      first.close();
      boolean handed = waitFor(() -> granted.get() >= handoffs, PHASE_BOUND_MS);
      long ms = BenchMain.nanosToMs(System.nanoTime() - t0);
      q.put("handoffs", granted.get());
      q.put("handoffs_per_s", BenchMain.round(granted.get() * 1000.0 / Math.max(1, ms)));
      q.put("handoff_apply_us_per_command", perCommand(before, applyCost()));
      out.printf(Locale.ROOT, "    %d hand-offs through a queue of %d: %.1f/s, apply us/command %s%s%n",
          granted.get(), w, q.get("handoffs_per_s"), q.get("handoff_apply_us_per_command"),
          handed ? "" : " (bound reached)");
      long cancelAt = System.nanoTime();
      for (CompletableFuture<LockHandle> f : pending) {
        f.cancel(true);
      }
      for (CompletableFuture<LockHandle> f : pending) {
        HaspClient.settled(f).get(PHASE_BOUND_MS, TimeUnit.MILLISECONDS);
      }
      boolean empty = waitFor(() -> leaderStats().getWaiters() == 0, PHASE_BOUND_MS);
      q.put("abandon_all_ms", BenchMain.nanosToMs(System.nanoTime() - cancelAt));
      out.printf(Locale.ROOT, "    cancelling the remaining %d waits: %s in %d ms%n", Math.max(0, w - granted.get()),
          empty ? "queue empty" : "waiters LEFT", q.get("abandon_all_ms"));
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      q.put("error", e.toString());
      out.println("    waiters phase failed: " + e);
    } finally {
      Bench.closeAll(clients);
    }
    result.put("queue", q);
  }

  /** 16 clients lock+unlock their own names for 10 s: ops/s and each node's apply cost per command. */
  private Map<String, Object> w1Cost(String label) throws InterruptedException {
    List<HaspClient> clients = connect(16, Duration.ofSeconds(1));
    ExecutorService pool = Executors.newFixedThreadPool(16, daemon("bench-scale-w1"));
    AtomicLong ops = new AtomicLong();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Map<String, long[]> before = applyCost();
    try {
      for (int i = 0; i < clients.size(); i++) {
        HaspClient c = clients.get(i);
        String name = prefix + "w1/" + i;
        pool.submit(() -> {
          while (System.nanoTime() < end) {
            try {
              c.lock(name).close();
              ops.incrementAndGet();
            } catch (RuntimeException ignored) {
              // counted by its absence
            }
          }
        });
      }
      pool.shutdown();
      pool.awaitTermination(60, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
      Bench.closeAll(clients);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ops_per_s", BenchMain.round(ops.get() / 10.0));
    m.put("apply_us_per_command", perCommand(before, applyCost()));
    out.printf(Locale.ROOT, "    W1 at 16 clients %s: %.1f ops/s, apply us/command %s%n", label, m.get("ops_per_s"),
        m.get("apply_us_per_command"));
    return m;
  }

  // ----------------------------------------------------------------------------------------------
  // Restart and catch-up
  // ----------------------------------------------------------------------------------------------

  private void coldRestart() throws InterruptedException, IOException {
    Bench.Topology t = Bench.Topology.of(o.endpoints());
    List<String> ids = new ArrayList<>(t.api.keySet());
    for (String id : ids) {
      FailoverRun.command(o.killCommand(), id);
    }
    long t0 = System.nanoTime();
    List<Process> starts = new ArrayList<>();
    for (String id : ids) {
      starts.add(FailoverRun.spawn(o.startCommand(), id));
    }
    long[] servingMs = {-1};
    try (HaspClient c = HaspClient.builder().endpoints(o.endpoints()).securityFromEnvironment().build()) {
      boolean ok = waitFor(() -> {
        try {
          if (c.isLocked(name(0)) && c.tryLock(prefix + "after-restart").map(h -> {
            h.close();
            return true;
          }).orElse(false)) {
            servingMs[0] = BenchMain.nanosToMs(System.nanoTime() - t0);
            return true;
          }
        } catch (RuntimeException notYet) {
          // not serving yet
        }
        return false;
      }, PHASE_BOUND_MS);
      if (!ok) {
        servingMs[0] = -1;
      }
    }
    for (Process p : starts) {
      p.waitFor(PHASE_BOUND_MS, TimeUnit.MILLISECONDS);
    }
    result.put("cold_restart_to_serving_ms", servingMs[0]);
    out.printf(Locale.ROOT, "  cold restart of all %d nodes to serving (a read of a filled lock and a write): %s%n",
        ids.size(), servingMs[0] < 0 ? "NOT within " + PHASE_BOUND_MS + " ms" : servingMs[0] + " ms");
  }

  private void catchUp() throws InterruptedException, IOException {
    Bench.Topology t = Bench.Topology.of(o.endpoints());
    String follower = null;
    for (String id : t.api.keySet()) {
      if (!id.equals(t.leader)) {
        follower = id;
        break;
      }
    }
    if (follower == null || t.leader == null) {
      out.println("  catch-up: no leader or follower known, skipped");
      return;
    }
    String address = t.api.get(follower);
    FailoverRun.command(o.wipeCommand(), follower);
    long target = status(t.api.get(t.leader)).getCommitIndex();
    long t0 = System.nanoTime();
    Process p = FailoverRun.spawn(o.startCommand(), follower);
    boolean ok = waitFor(() -> {
      ClusterStatusResponse s = status(address);
      return s != null && s.getAppliedIndex() >= target && s.getStats().getLocks() > 0;
    }, PHASE_BOUND_MS);
    long ms = BenchMain.nanosToMs(System.nanoTime() - t0);
    p.waitFor(PHASE_BOUND_MS, TimeUnit.MILLISECONDS);
    ClusterStatusResponse s = status(address);
    result.put("wiped_follower_catch_up_ms", ok ? ms : -1);
    out.printf(Locale.ROOT, "  wiped follower %s caught up to index %d (%s locks): %s%n", follower, target,
        s == null ? "?" : String.format(Locale.ROOT, "%,d", s.getStats().getLocks()),
        ok ? ms + " ms" : "NOT within " + PHASE_BOUND_MS + " ms");
  }

  // ----------------------------------------------------------------------------------------------
  // Helpers
  // ----------------------------------------------------------------------------------------------

  private List<HaspClient> connect(int n, Duration waitPulse) {
    List<HaspClient> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clients.add(HaspClient.builder().endpoints(o.endpoints()).securityFromEnvironment().waitPulse(waitPulse).build());
    }
    return clients;
  }

  private Map<String, ClusterStatusResponse> statuses() {
    Map<String, ClusterStatusResponse> all = new LinkedHashMap<>();
    for (String a : o.endpoints()) {
      ClusterStatusResponse r = status(a);
      if (r != null) {
        all.put(r.getNodeId(), r);
      }
    }
    return all;
  }

  private NodeStats leaderStats() {
    for (ClusterStatusResponse r : statuses().values()) {
      if (r.getRole().equals("LEADER")) {
        return r.getStats();
      }
    }
    return NodeStats.getDefaultInstance();
  }

  private static ClusterStatusResponse status(String address) {
    return BenchMain.status(address, 5_000);
  }

  /** Per node: {applied commands, apply nanoseconds}. */
  private Map<String, long[]> applyCost() {
    Map<String, long[]> m = new LinkedHashMap<>();
    statuses().forEach((id, r) -> m.put(id, new long[] {r.getStats().getAppliedCommands(),
        r.getStats().getApplyNanos()}));
    return m;
  }

  private static Map<String, Double> perCommand(Map<String, long[]> before, Map<String, long[]> after) {
    Map<String, Double> m = new LinkedHashMap<>();
    after.forEach((id, a) -> {
      long[] b = before.getOrDefault(id, new long[2]);
      long commands = a[0] - b[0];
      m.put(id, commands <= 0 ? 0.0 : BenchMain.round((a[1] - b[1]) / 1e3 / commands));
    });
    return m;
  }

  private Map<String, Long> mapNodes(java.util.function.ToLongFunction<NodeStats> f) {
    Map<String, Long> m = new LinkedHashMap<>();
    statuses().forEach((id, r) -> m.put(id, f.applyAsLong(r.getStats())));
    return m;
  }

  private static boolean waitFor(java.util.function.BooleanSupplier condition, long boundMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(boundMs);
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return true;
      }
      Thread.sleep(50);
    }
    return condition.getAsBoolean();
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
