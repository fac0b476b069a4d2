package io.hasp.chaos;

import io.hasp.chaos.check.Checks;
import io.hasp.chaos.check.Verdict;
import io.hasp.chaos.cluster.Backend;
import io.hasp.chaos.history.History;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.nemesis.Nemesis;
import io.hasp.chaos.report.Report;
import io.hasp.chaos.workload.Workload;
import io.hasp.client.HaspClient;
import io.hasp.client.LockOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** One chaos run: start the cluster, run the workload under the nemesis, heal, check, report. */
public final class ChaosRun {
  /** Every forever client must be granted within this of a node's death, pause or isolation. */
  static final long FAILOVER_BOUND_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
  /**
   * States the linearizability search may visit per lock before it calls the lock undecided: ~5 µs and ~100 bytes
   * each, so at most ~40 s and ~1 GB for one lock. A run on a loaded machine has longer, more overlapping
   * operations; one such lock needed 2,260,000.
   */
  static final long CHECK_STATES_DEFAULT = 8_000_000;

  /** The outcome: overall status, the verdicts, and where the report is. */
  public record Outcome(String status, List<Verdict> verdicts, Path report, int operations, int faults,
      List<String> skipped) {}

  private ChaosRun() {}

  public static Outcome run(ChaosOptions o, Backend backend, Path reportDir) throws Exception {
    History history = new History();
    Map<String, String> info = new LinkedHashMap<>();
    info.put("command", o.commandLine());
    info.put("seed", Long.toString(o.seed()));
    info.put("backend", backend.name());
    info.put("nodes", Integer.toString(o.nodes()));
    info.put("duration", o.duration().toSeconds() + " s");
    info.put("nemeses", String.join(", ", o.nemeses()));
    info.put("workloads", String.join(", ", o.workloads()));
    info.put("session TTL", o.sessionTtl().toMillis() + " ms");
    info.put("unsafe local grants (broken server)", Boolean.toString(o.unsafeLocalGrants()));
    o.nodeEnv().forEach((k, v) -> info.put("node setting " + k, v));
    List<Nemesis.Step> plan = Nemesis.plan(o.seed(), o.nemeses(), o.duration().toMillis());
    info.put("fault plan", plan.size() + " faults: " + String.join(", ", plan.stream()
        .map(s -> s.kind() + "@" + s.atMs() / 1000 + "s").toList()));
    long maxSkewMs = 0;
    for (Nemesis.Step s : plan) {
      if (s.kind().equals("clock-offset")) {
        maxSkewMs = Math.max(maxSkewMs, s.offsetMs());
      }
    }
    System.out.println("chaos: starting " + o.nodes() + " nodes (" + backend.name() + "), seed " + o.seed());
    backend.startAll();
    info.put("endpoints", String.join(", ", backend.endpoints()));
    Nemesis nemesis = new Nemesis(backend, history);
    Workload workload = null;
    List<String> skipped = new ArrayList<>();
    try {
      if (!nemesis.awaitLeader(60_000)) {
        throw new IllegalStateException("no leader within 60 s");
      }
      warmUp(backend.endpoints());
      workload = new Workload(history, backend.endpoints(), new LinkedHashSet<>(o.workloads()), o.seed(),
          o.sessionTtl());
      long started = System.nanoTime();
      workload.start();
      System.out.println("chaos: workload running; " + plan.size() + " faults planned over " + o.duration().toSeconds() + " s");
      skipped.addAll(nemesis.run(plan, o.nodes()));
      nemesis.healAll(o.nodes());
      long left = o.duration().toNanos() - (System.nanoTime() - started);
      if (left > 0) {
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(left));
      }
    } finally {
      if (workload != null) {
        workload.stop(Duration.ofSeconds(40));
      }
      nemesis.healAll(o.nodes());
      nemesis.close();
      if (backend instanceof io.hasp.chaos.cluster.LocalBackend local) {
        local.copyLogs(reportDir.resolve("logs"));
      } else if (backend instanceof io.hasp.chaos.cluster.DockerBackend docker) {
        docker.copyLogs(reportDir.resolve("logs"));
      }
    }
    for (String s : skipped) {
      info.put("not injected: " + s.substring(0, s.indexOf(':')), s.substring(s.indexOf(':') + 2));
    }
    if (o.nemeses().contains("clock-offset") && backend.clockUnsupportedReason() != null) {
      info.put("clock offsets", "NOT possible here: " + backend.clockUnsupportedReason());
    }
    List<OpRecord> ops = history.ops();
    System.out.println("chaos: checking " + ops.size() + " operations");
    List<Verdict> verdicts = check(ops, history.faults(), maxSkewMs, o.minAvailability());
    String status = status(verdicts);
    Report.write(reportDir, "Hasp chaos run, seed " + o.seed(), info, ops, history.faults(), verdicts,
        history.now());
    return new Outcome(status, verdicts, reportDir, ops.size(), history.faults().size(), skipped);
  }

  /** Every checker over one history; maxSkewMs is the largest forward clock offset the nemesis applied. */
  public static List<Verdict> check(List<OpRecord> ops, List<io.hasp.chaos.history.Fault> faults, long maxSkewMs,
      double minAvailability) {
    List<Verdict> verdicts = new ArrayList<>();
    verdicts.add(Checks.linearizability(ops, Workload.LEASE.toNanos(),
        TimeUnit.MILLISECONDS.toNanos(maxSkewMs + 500), Long.getLong("hasp.chaos.check.states", CHECK_STATES_DEFAULT)));
    verdicts.add(Checks.holders(ops));
    verdicts.add(Checks.fencing(ops));
    verdicts.add(Checks.readVisibility(ops));
    verdicts.add(Checks.abandons(ops));
    verdicts.add(Checks.failover(ops, faults, FAILOVER_BOUND_NS));
    verdicts.add(Checks.availability(ops, faults, minAvailability));
    verdicts.add(Checks.nemesis(faults));
    return verdicts;
  }

  public static String status(List<Verdict> verdicts) {
    return verdicts.stream().anyMatch(Verdict::failed) ? "INVALID"
        : verdicts.stream().anyMatch(v -> v.status() == Verdict.Status.UNKNOWN) ? "UNDECIDED" : "VALID";
  }

  /**
   * Checks a saved run again (its history.jsonl) with the current checkers and rewrites verdicts.txt and the
   * pictures in place. The clock skew allowed is read back from the clock-offset faults.
   */
  public static String recheck(Path reportDir, double minAvailability) throws java.io.IOException {
    io.hasp.chaos.history.HistoryFile.Contents c =
        io.hasp.chaos.history.HistoryFile.read(reportDir.resolve("history.jsonl"));
    long maxSkewMs = 0;
    for (io.hasp.chaos.history.Fault f : c.faults()) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\+(\\d+) ms").matcher(f.detail());
      if (f.kind().equals("clock-offset") && m.find()) {
        maxSkewMs = Math.max(maxSkewMs, Long.parseLong(m.group(1)));
      }
    }
    List<Verdict> verdicts = check(c.ops(), c.faults(), maxSkewMs, minAvailability);
    Map<String, String> info = new LinkedHashMap<>();
    info.put("rechecked from", reportDir.resolve("history.jsonl").toString());
    Report.write(reportDir.resolve("recheck"), "Hasp chaos run, checked again", info, c.ops(), c.faults(), verdicts,
        c.endNs());
    for (Verdict v : verdicts) {
      System.out.println(v.checker() + "  " + v.status() + "  " + v.summary());
    }
    return status(verdicts);
  }

  /** The cluster serves a write before the clock starts (JIT, first elections). */
  private static void warmUp(List<String> endpoints) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try (HaspClient c = HaspClient.builder().endpoints(endpoints).callTimeout(Duration.ofSeconds(5)).build()) {
      while (true) {
        try {
          c.tryLock("chaos-warmup", LockOptions.builder().lease(Duration.ofMillis(100)).autoRenew(false).build());
          return;
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("the cluster did not serve a write within 60 s: " + e.getMessage());
          }
          Thread.sleep(200);
        }
      }
    }
  }
}
