package io.hasp.chaos;

import io.hasp.chaos.nemesis.Nemesis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The settings of one run, parsed from the command line; see {@link ChaosMain} for the flags. */
public record ChaosOptions(String backend, int nodes, Duration duration, List<String> nemeses, List<String> workloads,
    long seed, Path reportRoot, boolean unsafeLocalGrants, Duration sessionTtl, double minAvailability,
    boolean cleanupOnly, java.util.Map<String, String> nodeEnv, Path recheck, String commandLine) {

  public static final List<String> WORKLOADS = List.of("mutex", "semaphore", "lease", "reads", "forever", "cancel");

  /** Thrown for a bad flag; the message names it. */
  public static final class UsageException extends RuntimeException {
    public UsageException(String message) {
      super(message);
    }
  }

  public static ChaosOptions parse(String[] args) {
    String backend = "docker";
    int nodes = 3;
    Duration duration = Duration.ofSeconds(120);
    List<String> nemeses = Nemesis.ALL;
    List<String> workloads = WORKLOADS;
    long seed = System.nanoTime() % 1_000_000;
    Path reports = Path.of("chaos-reports");
    boolean unsafe = false;
    Duration ttl = Duration.ofSeconds(3);
    double minAvailability = 0.5;
    boolean cleanup = false;
    java.util.Map<String, String> nodeEnv = new java.util.LinkedHashMap<>();
    Path recheck = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--backend" -> {
          backend = value(args, ++i, a);
          if (!backend.equals("docker") && !backend.equals("local")) {
            throw new UsageException("--backend must be docker or local, got '" + backend + "'");
          }
        }
        case "--nodes" -> {
          nodes = (int) number(value(args, ++i, a), a);
          if (nodes != 3 && nodes != 5) {
            throw new UsageException("--nodes must be 3 or 5, got " + nodes);
          }
        }
        case "--duration" -> {
          duration = duration(value(args, ++i, a), a);
          if (duration.toSeconds() < 20 || duration.toHours() > 24) {
            throw new UsageException("--duration must be between 20s and 24h, got " + duration.toSeconds() + " s");
          }
        }
        case "--nemeses" -> nemeses = list(value(args, ++i, a), Nemesis.ALL, a);
        case "--workloads" -> workloads = list(value(args, ++i, a), WORKLOADS, a);
        case "--seed" -> seed = number(value(args, ++i, a), a);
        case "--report-dir" -> reports = Path.of(value(args, ++i, a));
        case "--unsafe-local-grants" -> unsafe = true;
        case "--session-ttl" -> ttl = duration(value(args, ++i, a), a);
        case "--min-availability" -> {
          try {
            minAvailability = Double.parseDouble(value(args, ++i, a));
          } catch (NumberFormatException e) {
            throw new UsageException(a + " expects a fraction such as 0.5");
          }
        }
        case "--cleanup" -> cleanup = true;
        case "--recheck" -> recheck = Path.of(value(args, ++i, a));
        case "--node-env" -> {
          String kv = value(args, ++i, a);
          int eq = kv.indexOf('=');
          if (eq <= 0 || !kv.startsWith("HASP_")) {
            throw new UsageException(a + " expects HASP_KEY=VALUE (a node setting, e.g. HASP_ELECTION_TIMEOUT_MIN=1s), got '"
                + kv + "'");
          }
          nodeEnv.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        default -> throw new UsageException("unknown flag '" + a + "'");
      }
    }
    return new ChaosOptions(backend, nodes, duration, nemeses, workloads, seed, reports, unsafe, ttl, minAvailability,
        cleanup, nodeEnv, recheck, "./hasp chaos " + String.join(" ", args));
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new UsageException(flag + " needs a value");
    }
    return args[i];
  }

  private static long number(String s, String flag) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new UsageException(flag + " expects a whole number, got '" + s + "'");
    }
  }

  private static Duration duration(String s, String flag) {
    try {
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
      }
      if (s.endsWith("s")) {
        return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
      }
      if (s.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
      }
      if (s.endsWith("h")) {
        return Duration.ofHours(Long.parseLong(s.substring(0, s.length() - 1)));
      }
      return Duration.ofSeconds(Long.parseLong(s));
    } catch (NumberFormatException e) {
      throw new UsageException(flag + " expects a duration such as 90s, 10m or 500ms, got '" + s + "'");
    }
  }

  private static List<String> list(String s, List<String> known, String flag) {
    if (s.equals("all")) {
      return known;
    }
    List<String> out = new ArrayList<>();
    for (String part : s.split(",")) {
      String p = part.trim();
      if (!known.contains(p)) {
        throw new UsageException(flag + ": unknown '" + p + "' (known: " + String.join(", ", known) + ", or all)");
      }
      if (!out.contains(p)) {
        out.add(p);
      }
    }
    if (out.isEmpty()) {
      throw new UsageException(flag + " needs at least one of " + Arrays.toString(known.toArray()));
    }
    return out;
  }
}
