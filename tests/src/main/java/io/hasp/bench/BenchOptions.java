package io.hasp.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The bench's command line, checked: every bad flag is an error naming it. */
record BenchOptions(List<String> endpoints, Set<String> workloads, List<Integer> clients, Duration duration,
    Duration warmup, Path json, Duration statsEvery, String killCommand, String startCommand, int failoverRepeats,
    int failoverClients, List<Path> compare, long locks, int waiters, String wipeCommand, Duration scaleLease,
    Duration jvmWarmup) {

  static final Set<String> WORKLOADS = new LinkedHashSet<>(List.of("w1", "w2", "w3", "w4", "reads", "w7",
      "scale"));
  static final String USAGE = String.join("\n",
      "usage: hasp bench [flags]            measure Hasp through its Java client (one HaspClient per client)",
      "  --endpoints H:P,...      default: $HASP_ENDPOINTS, else 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
      "  --workloads LIST         w1 (lock+unlock, own name), w2 (contended mutex), w3 (semaphore of 10,",
      "                           64 clients), w4 (tryLock fail path), reads (isLocked), w7 (leader kill);",
      "                           default w1,w2,w3,w4,reads (w7 needs --kill-cmd, which ./hasp bench sets)",
      "  --clients 1,16,64        client counts for w1, w2 (counts > 1), w4 and reads",
      "  --duration 10s           measured time per point (100ms..2h)",
      "  --warmup 3s              before each point (not measured)",
      "  --jvm-warmup 10s         once, before the first point: W1 on 8 clients, not measured, so that this JVM",
      "                           compiles its hot code before measuring (0s: none)",
      "  --json FILE              also write the results as JSON (- for stdout)",
      "  --stats-every 60s        during each point, print ops/s and each node's state sizes and heap",
      "  --kill-cmd 'CMD {node}'  w7: how to kill a node (its id replaces {node}); --start-cmd likewise",
      "  --failover-repeats 2     w7 repeats (8 clients each, --failover-clients N)",
      "  scale workload:          fill --locks N held locks (default 1000000; size 1, lease 10 min, no",
      "                           session), then sizes, --waiters N on one lock (default 10000), a cold",
      "                           restart of all nodes (kill/start commands) and a wiped follower's catch-up",
      "  --wipe-cmd 'CMD {node}'  scale: stop a node and delete its data (./hasp bench sets it)",
      "  --scale-lease 10m        scale: the lease of the filled locks (a fill slower than it never holds all);",
      "                           the fill runs on the largest --clients count",
      "  --compare OLD NEW        compare two JSON results (no cluster needed) and exit");

  static BenchOptions parse(String[] args, String envEndpoints) {
    List<String> endpoints = envEndpoints == null || envEndpoints.isBlank()
        ? List.of("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003") : split(envEndpoints);
    Set<String> workloads = new LinkedHashSet<>(List.of("w1", "w2", "w3", "w4", "reads"));
    List<Integer> clients = List.of(1, 16, 64);
    Duration duration = Duration.ofSeconds(10);
    Duration warmup = Duration.ofSeconds(3);
    Path json = null;
    Duration stats = Duration.ZERO;
    String kill = null;
    String start = null;
    int repeats = 2;
    int failoverClients = 8;
    List<Path> compare = List.of();
    long locks = 1_000_000;
    int waiters = 10_000;
    String wipe = null;
    Duration scaleLease = Duration.ofMinutes(10);
    Duration jvmWarmup = Duration.ofSeconds(10);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--endpoints" -> endpoints = split(value(args, ++i, a));
        case "--workloads" -> {
          workloads = new LinkedHashSet<>();
          for (String w : split(value(args, ++i, a))) {
            if (!WORKLOADS.contains(w)) {
              throw new IllegalArgumentException("--workloads: unknown workload '" + w + "' (known: "
                  + String.join(",", WORKLOADS) + ")");
            }
            workloads.add(w);
          }
        }
        case "--clients" -> {
          clients = new ArrayList<>();
          for (String c : split(value(args, ++i, a))) {
            int n = integer(c, a);
            if (n < 1 || n > 1024) {
              throw new IllegalArgumentException("--clients: each count must be 1..1024, got " + n);
            }
            clients.add(n);
          }
        }
        case "--duration" -> duration = duration(value(args, ++i, a), a, Duration.ofMillis(100), Duration.ofHours(2));
        case "--warmup" -> warmup = duration(value(args, ++i, a), a, Duration.ZERO, Duration.ofMinutes(10));
        case "--jvm-warmup" -> jvmWarmup = duration(value(args, ++i, a), a, Duration.ZERO, Duration.ofMinutes(10));
        case "--json" -> json = Path.of(value(args, ++i, a));
        case "--stats-every" -> stats = duration(value(args, ++i, a), a, Duration.ZERO, Duration.ofHours(1));
        case "--kill-cmd" -> kill = value(args, ++i, a);
        case "--start-cmd" -> start = value(args, ++i, a);
        case "--failover-repeats" -> repeats = bounded(integer(value(args, ++i, a), a), 1, 20, a);
        case "--failover-clients" -> failoverClients = bounded(integer(value(args, ++i, a), a), 1, 256, a);
        case "--compare" -> compare = List.of(Path.of(value(args, ++i, a)), Path.of(value(args, ++i, a)));
        case "--locks" -> locks = bounded(integer(value(args, ++i, a), a), 1, 10_000_000, a);
        case "--waiters" -> waiters = bounded(integer(value(args, ++i, a), a), 0, 100_000, a);
        case "--wipe-cmd" -> wipe = value(args, ++i, a);
        case "--scale-lease" -> scaleLease = duration(value(args, ++i, a), a, Duration.ofSeconds(10), Duration.ofHours(24));
        case "-h", "--help" -> throw new Help();
        default -> throw new IllegalArgumentException("unknown flag " + a + "\n" + USAGE);
      }
    }
    if (workloads.contains("w7") && (kill == null || start == null)) {
      throw new IllegalArgumentException("w7 needs --kill-cmd and --start-cmd (./hasp bench sets both)");
    }
    if (stats.compareTo(Duration.ZERO) > 0 && stats.toMillis() < 100) {
      throw new IllegalArgumentException("--stats-every: at least 100ms, got " + stats);
    }
    return new BenchOptions(endpoints, workloads, List.copyOf(clients), duration, warmup, json, stats, kill, start,
        repeats, failoverClients, compare, locks, waiters, wipe, scaleLease, jvmWarmup);
  }

  /** Asked for --help. */
  static final class Help extends RuntimeException {
    Help() {
      super(USAGE);
    }
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }

  private static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String p : s.split(",")) {
      if (!p.isBlank()) {
        out.add(p.trim());
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("empty list: '" + s + "'");
    }
    return out;
  }

  private static int integer(String s, String flag) {
    try {
      return Integer.parseInt(s.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + ": not a number: '" + s + "'");
    }
  }

  private static int bounded(int v, int min, int max, String flag) {
    if (v < min || v > max) {
      throw new IllegalArgumentException(flag + ": must be " + min + ".." + max + ", got " + v);
    }
    return v;
  }

  /** 500ms, 10s, 5m, 1h. */
  static Duration duration(String s, String flag, Duration min, Duration max) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    Duration d;
    try {
      if (t.endsWith("ms")) {
        d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      } else if (t.endsWith("s")) {
        d = Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      } else if (t.endsWith("m")) {
        d = Duration.ofSeconds(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60));
      } else if (t.endsWith("h")) {
        d = Duration.ofSeconds(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 3600));
      } else {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + ": not a duration (e.g. 500ms, 10s, 5m): '" + s + "'");
    }
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      throw new IllegalArgumentException(flag + ": must be between " + min + " and " + max + ", got " + s);
    }
    return d;
  }

  @Override
  public String toString() {
    return "endpoints=" + endpoints + " workloads=" + workloads + " clients=" + clients + " duration=" + duration
        + " warmup=" + warmup + (compare.isEmpty() ? "" : " compare=" + Arrays.toString(compare.toArray()));
  }
}
