package io.hasp.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * {@code hasp bench}: the peers' workloads (W1-W4, W7) plus reads, through the real Java client, one
 * {@link HaspClient} (own channels, client id and session) per client thread, as an application would use it.
 * Closed loop; a point is a warm-up and then a measured window; an operation counts when it completes inside
 * the window; latencies are HdrHistogram percentiles. Prints a table, optionally JSON, and compares two JSON
 * results. Every loop is bounded by its duration.
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) {
    System.exit(run(args, System.getenv("HASP_ENDPOINTS"), System.out, System.err));
  }

  static int run(String[] args, String envEndpoints, PrintStream out, PrintStream err) {
    BenchOptions o;
    try {
      o = BenchOptions.parse(args, envEndpoints);
    } catch (BenchOptions.Help h) {
      out.println(h.getMessage());
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("error: INVALID_ARGUMENT: " + e.getMessage());
      return 2;
    }
    try {
      if (!o.compare().isEmpty()) {
        Compare.print(read(o.compare().get(0)), read(o.compare().get(1)), out);
        return 0;
      }
      Results results = new Bench(o, out).run();
      if (o.json() != null) {
        String json = results.toJson();
        if (o.json().toString().equals("-")) {
          out.println(json);
        } else {
          Files.writeString(o.json(), json + "\n");
          out.println("results JSON: " + o.json());
        }
      }
      return 0;
    } catch (IOException e) {
      err.println("error: " + e.getMessage());
      return 2;
    } catch (HaspException e) {
      err.println("error: " + e.code() + ": " + e.getMessage());
      return 2;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 2;
    }
  }

  private static JsonObject read(Path p) throws IOException {
    try {
      return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(p + " is not a bench result (" + e.getMessage() + ")");
    }
  }

  /** One measured point. */
  record Point(String workload, int clients, long ops, double opsPerSec, long errors, Latency latency,
      Map<String, Object> extra) {}

  /** Percentiles in milliseconds. */
  record Latency(double p50, double p90, double p99, double p999, double max, double mean) {}

  /** One W7 repeat. */
  record Failover(int repeat, String killed, String newLeader, long firstGrantMs, long worstStallMs,
      long leaderSeenMs, int recovered, int clients, long errors, long rejoinMs, String firstError) {}

  /** Everything a run measured. */
  static final class Results {
    final Map<String, Object> settings = new LinkedHashMap<>();
    final List<Point> points = new ArrayList<>();
    final List<Failover> failover = new ArrayList<>();
    final Map<String, Object> scale = new LinkedHashMap<>();
    final String started = Instant.now().toString();

    String toJson() {
      JsonObject root = new JsonObject();
      Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
      root.addProperty("bench", "hasp bench");
      root.addProperty("started", started);
      root.addProperty("finished", Instant.now().toString());
      root.add("settings", gson.toJsonTree(settings));
      JsonObject env = new JsonObject();
      env.addProperty("cores", Runtime.getRuntime().availableProcessors());
      env.addProperty("java", System.getProperty("java.version"));
      env.addProperty("hasp_commit", System.getProperty("hasp.commit", "unknown"));
      env.addProperty("loadavg_end", Load.average());
      root.add("environment", env);
      JsonArray ps = new JsonArray();
      for (Point p : points) {
        JsonObject j = new JsonObject();
        j.addProperty("workload", p.workload());
        j.addProperty("clients", p.clients());
        j.addProperty("ops", p.ops());
        j.addProperty("ops_per_s", round(p.opsPerSec()));
        j.addProperty("errors", p.errors());
        j.add("latency_ms", gson.toJsonTree(p.latency()));
        for (Map.Entry<String, Object> e : p.extra().entrySet()) {
          j.add(e.getKey(), gson.toJsonTree(e.getValue()));
        }
        ps.add(j);
      }
      root.add("points", ps);
      root.add("failover", gson.toJsonTree(failover));
      if (!scale.isEmpty()) {
        root.add("scale", gson.toJsonTree(scale));
      }
      return gson.toJson(root);
    }
  }

  static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  /** Compares two JSON results point by point. */
  static final class Compare {
    private Compare() {}

    static void print(JsonObject before, JsonObject after, PrintStream out) {
      Map<String, JsonObject> old = index(before);
      Map<String, JsonObject> now = index(after);
      out.printf(Locale.ROOT, "%-8s %7s | %10s %10s %7s | %9s %9s | %9s %9s%n", "workload", "clients", "ops/s old",
          "ops/s new", "ratio", "p50 old", "p50 new", "p99 old", "p99 new");
      for (Map.Entry<String, JsonObject> e : now.entrySet()) {
        JsonObject n = e.getValue();
        JsonObject b = old.get(e.getKey());
        double no = n.get("ops_per_s").getAsDouble();
        String wl = n.get("workload").getAsString();
        int c = n.get("clients").getAsInt();
        if (b == null) {
          out.printf(Locale.ROOT, "%-8s %7d | %10s %10.1f %7s | %9s %9.2f | %9s %9.2f%n", wl, c, "-", no, "-", "-",
              lat(n, "p50"), "-", lat(n, "p99"));
          continue;
        }
        double bo = b.get("ops_per_s").getAsDouble();
        out.printf(Locale.ROOT, "%-8s %7d | %10.1f %10.1f %6.2fx | %9.2f %9.2f | %9.2f %9.2f%n", wl, c, bo, no,
            bo == 0 ? Double.NaN : no / bo, lat(b, "p50"), lat(n, "p50"), lat(b, "p99"), lat(n, "p99"));
      }
      for (String k : old.keySet()) {
        if (!now.containsKey(k)) {
          out.println(k + ": only in the old result");
        }
      }
      printFailover("old", before, out);
      printFailover("new", after, out);
    }

    private static void printFailover(String which, JsonObject r, PrintStream out) {
      JsonArray f = r.has("failover") ? r.getAsJsonArray("failover") : new JsonArray();
      for (JsonElement e : f) {
        JsonObject o = e.getAsJsonObject();
        out.printf(Locale.ROOT, "w7 %s repeat %d: first grant %d ms, worst stall %d ms, %d/%d recovered, "
            + "errors %d, rejoin %d ms%n", which, o.get("repeat").getAsInt(), o.get("firstGrantMs").getAsLong(),
            o.get("worstStallMs").getAsLong(), o.get("recovered").getAsInt(), o.get("clients").getAsInt(),
            o.get("errors").getAsLong(), o.get("rejoinMs").getAsLong());
      }
    }

    private static double lat(JsonObject p, String which) {
      return p.getAsJsonObject("latency_ms").get(which).getAsDouble();
    }

    private static Map<String, JsonObject> index(JsonObject r) {
      Map<String, JsonObject> m = new LinkedHashMap<>();
      for (JsonElement e : r.getAsJsonArray("points")) {
        JsonObject p = e.getAsJsonObject();
        m.put(p.get("workload").getAsString() + "/" + p.get("clients").getAsInt(), p);
      }
      return m;
    }
  }

  /** The load average, for the record (Linux; empty elsewhere). */
  static final class Load {
    private Load() {}

    static String average() {
      try {
        String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
        return f[0] + " " + f[1] + " " + f[2];
      } catch (IOException | RuntimeException e) {
        return "";
      }
    }
  }

  /** A client's session is opened on first use; open it before measuring (a tryLock and unlock of its own). */
  static HaspClient connect(List<String> endpoints) {
    HaspClient c = HaspClient.builder().endpoints(endpoints).securityFromEnvironment().build();
    Optional<LockHandle> h = c.tryLock("bench-connect/" + UUID.randomUUID());
    h.ifPresent(LockHandle::close);
    return c;
  }

  /** One node's ClusterStatus over a channel of its own, or null when it does not answer within the bound. */
  static io.hasp.proto.ClusterStatusResponse status(String address, long timeoutMs) {
    io.grpc.ManagedChannel ch = EnvSecurity.channel(address);
    try {
      return io.hasp.proto.HaspGrpc.newBlockingStub(ch).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
          .clusterStatus(io.hasp.proto.ClusterStatusRequest.getDefaultInstance());
    } catch (RuntimeException e) {
      return null;
    } finally {
      ch.shutdownNow();
    }
  }

  static LockOptions size(long n) {
    return LockOptions.builder().size(n).build();
  }

  static long nanosToMs(long ns) {
    return TimeUnit.NANOSECONDS.toMillis(ns);
  }
}
