package io.hasp.bench;

import io.hasp.bench.BenchMain.Failover;
import io.hasp.client.HaspClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * W7: W1 load on {@code --failover-clients} clients, then the leader is killed (by the operator's command).
 * Measures, from the kill: the first grant of a request sent after it, each client's longest gap between two
 * grants across it, when another node reports itself leader, how many clients got a grant again within 30 s,
 * the errors callers saw; then the node is started again and the time until it answers a linearizable read.
 */
final class FailoverRun {
  static final long RECOVERY_BOUND_MS = 30_000;
  static final long REJOIN_BOUND_MS = 120_000;

  private final BenchOptions o;
  private final String prefix;
  private final int repeat;

  FailoverRun(BenchOptions o, String prefix, int repeat) {
    this.o = o;
    this.prefix = prefix;
    this.repeat = repeat;
  }

  Failover run() throws InterruptedException, IOException {
    int n = o.failoverClients();
    List<HaspClient> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clients.add(BenchMain.connect(o.endpoints()));
    }
    long[][] lastGrant = new long[n][1];
    long[] worstGap = new long[n];
    long[] firstAfterKill = new long[n];
    AtomicLong killAt = new AtomicLong(Long.MAX_VALUE);
    AtomicLong errors = new AtomicLong();
    java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
    AtomicReference<String> firstError = new AtomicReference<>();
    long stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(3) + TimeUnit.MILLISECONDS.toNanos(RECOVERY_BOUND_MS);
    ExecutorService pool = Executors.newFixedThreadPool(n);
    for (int i = 0; i < n; i++) {
      int idx = i;
      pool.submit(() -> {
        HaspClient c = clients.get(idx);
        while (System.nanoTime() < stopAt && !Thread.currentThread().isInterrupted()) {
          long sent = System.nanoTime();
          try {
            c.lock(prefix + idx).close();
          } catch (RuntimeException e) {
            if (stopping.get()) {
              break; // the bench ends the load (an interrupt of the waiting lock): not a caller's error
            }
            errors.incrementAndGet();
            firstError.compareAndSet(null, e.toString());
            continue;
          }
          long now = System.nanoTime();
          long k = killAt.get();
          if (lastGrant[idx][0] != 0 && lastGrant[idx][0] < k + 1 && now > k) {
            worstGap[idx] = Math.max(worstGap[idx], now - lastGrant[idx][0]); // the gap across the kill
          }
          if (sent > k && firstAfterKill[idx] == 0) {
            firstAfterKill[idx] = now;
          }
          lastGrant[idx][0] = now;
        }
        return null;
      });
    }
    TimeUnit.SECONDS.sleep(3);
    Bench.Topology before = Bench.Topology.of(o.endpoints());
    if (before.leader == null) {
      pool.shutdownNow();
      Bench.closeAll(clients);
      throw new IOException("no leader to kill: the cluster reports none");
    }
    String victim = before.leader;
    // the kill has happened once its command returns (./hasp kill sends SIGKILL, which ends the node at once): time
    // starts there, so a request the dying leader granted while the command was starting is not counted as after it
    command(o.killCommand(), victim);
    long k = System.nanoTime();
    killAt.set(k);
    String newLeader = null;
    long leaderSeen = -1;
    long deadline = k + TimeUnit.MILLISECONDS.toNanos(RECOVERY_BOUND_MS);
    while (System.nanoTime() < deadline) {
      if (newLeader == null) {
        for (String id : before.api.keySet()) {
          if (!id.equals(victim) && "LEADER".equals(roleOf(before.api.get(id)))) {
            newLeader = id;
            leaderSeen = System.nanoTime() - k;
          }
        }
      }
      if (newLeader != null && allRecovered(firstAfterKill)) {
        break;
      }
      TimeUnit.MILLISECONDS.sleep(10);
    }
    stopping.set(true);
    pool.shutdownNow();
    pool.awaitTermination(30, TimeUnit.SECONDS);
    int recovered = 0;
    long first = Long.MAX_VALUE;
    long worst = 0;
    for (int i = 0; i < n; i++) {
      if (firstAfterKill[i] != 0) {
        recovered++;
        first = Math.min(first, firstAfterKill[i] - k);
      }
      worst = Math.max(worst, worstGap[i]);
    }
    Bench.closeAll(clients);
    long started = System.nanoTime(); // from the start command: the process start (JVM, store, log) counts
    command(o.startCommand(), victim);
    long rejoin = -1;
    String address = before.api.get(victim);
    while (System.nanoTime() - started < TimeUnit.MILLISECONDS.toNanos(REJOIN_BOUND_MS)) {
      if ("SERVING".equals(Bench.Topology.serving(address))) {
        rejoin = BenchMain.nanosToMs(System.nanoTime() - started);
        break;
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return new Failover(repeat, victim, newLeader, first == Long.MAX_VALUE ? -1 : BenchMain.nanosToMs(first),
        BenchMain.nanosToMs(worst), leaderSeen < 0 ? -1 : BenchMain.nanosToMs(leaderSeen), recovered, n,
        errors.get(), rejoin, firstError.get());
  }

  private static boolean allRecovered(long[] firstAfterKill) {
    for (long f : firstAfterKill) {
      if (f == 0) {
        return false;
      }
    }
    return true;
  }

  private static String roleOf(String address) {
    io.hasp.proto.ClusterStatusResponse s = BenchMain.status(address, 1_000);
    return s == null ? null : s.getRole();
  }

  /** Runs the operator's command with the node id in place of {node}; bounded to 60 s. */
  static void command(String template, String node) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("sh", "-c", template.replace("{node}", node)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("'" + template + "' did not finish within 60 s");
    }
    if (p.exitValue() != 0) {
      throw new IOException("'" + template.replace("{node}", node) + "' exited with " + p.exitValue());
    }
  }

  /** Starts the operator's command with the node id in place of {node} without waiting for it. */
  static Process spawn(String template, String node) throws IOException {
    return new ProcessBuilder("sh", "-c", template.replace("{node}", node)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
  }
}
