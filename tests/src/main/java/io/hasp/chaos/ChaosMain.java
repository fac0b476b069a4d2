package io.hasp.chaos;

import io.hasp.chaos.check.Verdict;
import io.hasp.chaos.cluster.Backend;
import io.hasp.chaos.cluster.DockerBackend;
import io.hasp.chaos.cluster.DockerEngine;
import io.hasp.chaos.cluster.LocalBackend;
import io.hasp.chaos.cluster.NodeImage;
import io.hasp.chaos.cluster.Scratch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The chaos harness's command line ({@code ./hasp chaos ...}):
 * <pre>
 *   --backend docker|local   containers through Testcontainers (default) or local processes (root, iptables)
 *   --nodes 3|5              cluster size (default 3)
 *   --duration 120s          how long the workload runs under faults (20s .. 24h; default 120s)
 *   --nemeses all|a,b,...    partition-halves, isolate-leader, bridge, kill, kill-leader, pause-leader,
 *                            restart-all, clock-offset, membership (default all)
 *   --workloads all|a,b,...  mutex, semaphore, lease, reads (default all)
 *   --seed N                 fault schedule and client randomness (default: random, printed)
 *   --report-dir DIR         reports go to DIR/&lt;time&gt;-seed&lt;N&gt; (default chaos-reports)
 *   --unsafe-local-grants    run the nodes in the deliberately broken test mode (grants without consensus)
 *   --session-ttl 3s         client session TTL
 *   --min-availability 0.5   availability below this fails the run
 *   --cleanup                remove what an interrupted run left (containers, networks, chains, cgroups), exit
 * </pre>
 * Prints one summary line and the report path. Exit: 0 valid, 1 a violation, 3 undecided, 2 bad flags or the
 * cluster could not be run.
 *
 * <p>The docker backend runs in two processes: this one starts (or finds) the engine and cleans it up, and a
 * child JVM with DOCKER_HOST set runs the test (Testcontainers reads the engine's address from the
 * environment).
 */
public final class ChaosMain {
  private ChaosMain() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static final String USAGE = String.join("\n",
      "usage: ./hasp chaos [flags]   (needs root)",
      "  --backend docker|local   containers through Testcontainers (default) or local processes",
      "  --nodes 3|5              cluster size (default 3)",
      "  --duration 120s          workload time under faults, 20s..24h (default 120s)",
      "  --nemeses all|a,b,...    " + String.join(", ", io.hasp.chaos.nemesis.Nemesis.ALL) + " (default all)",
      "  --workloads all|a,b,...  " + String.join(", ", ChaosOptions.WORKLOADS) + " (default all)",
      "  --seed N                 fault schedule and client randomness (default random, printed)",
      "  --report-dir DIR         reports go to DIR/<time>-seed<N> (default chaos-reports)",
      "  --unsafe-local-grants    deliberately broken server (grants without consensus): must be caught",
      "  --session-ttl 3s         client session TTL",
      "  --min-availability 0.5   availability below this fails the run",
      "  --node-env HASP_K=V      a node setting for every node, e.g. HASP_ELECTION_TIMEOUT_MIN=1s (repeatable)",
      "  --cleanup                remove what an interrupted run left, then exit",
      "  --recheck REPORT_DIR     check a saved run's history.jsonl again (writes REPORT_DIR/recheck); an",
      "                           UNDECIDED lock may be searched further: JAVA_TOOL_OPTIONS=",
      "                           -Dhasp.chaos.check.states=N (states per lock, default " + ChaosRun.CHECK_STATES_DEFAULT + ")",
      "exit: 0 valid, 1 violation found, 3 undecided, 2 bad flags or the cluster could not be run");

  public static int run(String[] args) {
    if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
      System.out.println(USAGE);
      return 0;
    }
    ChaosOptions o;
    try {
      o = ChaosOptions.parse(args);
    } catch (ChaosOptions.UsageException e) {
      System.err.println("chaos: error: INVALID_ARGUMENT: " + e.getMessage() + " (./hasp chaos --help)");
      return 2;
    }
    try {
      if (o.recheck() != null) {
        if (!Files.exists(o.recheck().resolve("history.jsonl"))) {
          System.err.println("chaos: error: INVALID_ARGUMENT: --recheck: no history.jsonl in " + o.recheck());
          return 2;
        }
        String status = ChaosRun.recheck(o.recheck(), o.minAvailability());
        System.out.println("chaos: " + status + " (checked again) report=" + o.recheck().resolve("recheck/index.html"));
        return exitCode(status);
      }
      if (o.cleanupOnly()) {
        cleanup();
        return 0;
      }
      if (o.backend().equals("docker") && System.getenv("HASP_CHAOS_CHILD") == null) {
        return supervise(args);
      }
      return runHere(o);
    } catch (Exception | Error e) { // never exit 1 (violation) for a harness failure
      System.err.println("chaos: error: the run could not be carried out: " + e);
      e.printStackTrace();
      return 2;
    }
  }

  private static void cleanup() throws Exception {
    Scratch.sweepStale();
    LocalBackend.sweep(LocalBackend.cgroupRoot());
    if (System.getenv("DOCKER_HOST") != null) {
      DockerBackend.sweep(org.testcontainers.DockerClientFactory.instance().client());
    }
    System.out.println("chaos: leftovers of earlier runs removed");
  }

  /** Parent of a docker run: engine up, child JVM runs the test, engine down, also on Ctrl-C. */
  private static int supervise(String[] args) throws Exception {
    Scratch.sweepStale();
    Scratch scratch = Scratch.create("engine" + Long.toHexString(System.nanoTime() & 0xffffL));
    DockerEngine engine;
    try {
      engine = DockerEngine.start(scratch.dir());
    } catch (Exception | Error e) {
      scratch.close();
      throw e;
    }
    Process[] child = new Process[1];
    boolean[] cleaned = new boolean[1];
    // Runs once: on Ctrl-C both the hook and this thread (its child having ended) get here, and two cleanups
    // deleting the same directory at once once left it behind. The second waits for the first.
    Thread cleanup = new Thread(() -> {
      synchronized (cleaned) {
        if (cleaned[0]) {
          return;
        }
        cleaned[0] = true;
        stopEngine(child[0], engine, scratch);
      }
    }, "chaos-engine-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "TERM", "--",
        ProcessHandle.current().info().command().orElse("java"), "-Xmx1g", "-cp",
        System.getProperty("java.class.path"), ChaosMain.class.getName()));
    cmd.addAll(List.of(args));
    // Output goes through this JVM's System.out (not inherited file descriptors), so a test runner that
    // captures System.out sees it and its own channel stays clean.
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.INHERIT);
    pb.environment().putAll(engine.env());
    pb.environment().put("HASP_CHAOS_CHILD", "1");
    child[0] = pb.start();
    Thread pump = new Thread(() -> {
      try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(child[0].getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          System.out.println(line);
        }
      } catch (java.io.IOException e) {
        // the child is gone
      }
    }, "chaos-child-output");
    pump.setDaemon(true);
    pump.start();
    int code = child[0].waitFor();
    pump.join(5_000);
    unhook(cleanup);
    cleanup.run();
    return code >= 0 && code <= 3 ? code : 2; // a child that died (signal, crash) is a harness failure, not a verdict
  }

  private static void stopEngine(Process child, DockerEngine engine, Scratch scratch) {
    if (child != null && child.isAlive()) {
      child.destroy();
      try {
        if (!child.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
          child.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      engine.stop();
    } finally {
      scratch.close();
    }
  }

  /** Shutdown hooks cannot be removed once the JVM is shutting down (Ctrl-C); they run then anyway. */
  private static void unhook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // shutting down: the hook runs
    }
  }

  static int runHere(ChaosOptions o) throws Exception {
    String run = Long.toHexString(System.nanoTime() & 0xffffffL);
    Scratch.sweepStale();
    Scratch held = Scratch.create(run);
    Path scratch = held.dir();
    Map<String, String> nodeEnv = new HashMap<>(o.nodeEnv());
    if (o.unsafeLocalGrants()) {
      nodeEnv.put("HASP_UNSAFE_LOCAL_GRANTS", "true");
    }
    Backend backend;
    try {
      if (o.backend().equals("local")) {
        backend = new LocalBackend(run, scratch, o.nodes(), nodeEnv);
      } else {
        String image = NodeImage.build(Map.of());
        backend = new DockerBackend(run, scratch, o.nodes(), nodeEnv, image, NodeImage.hasFaketime());
      }
    } catch (Exception | Error e) {
      held.close();
      throw e;
    }
    Thread hook = new Thread(() -> {
      backend.close();
      held.close();
    }, "chaos-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    Path report = o.reportRoot().toAbsolutePath().resolve(
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-seed" + o.seed());
    ChaosRun.Outcome out;
    try {
      out = ChaosRun.run(o, backend, report);
    } finally {
      unhook(hook);
      backend.close();
      held.close();
    }
    String availability = out.verdicts().stream().filter(v -> v.checker().equals("availability")).findFirst()
        .map(v -> v.summary().substring(0, v.summary().indexOf('%') + 1)).orElse("?");
    StringBuilder failed = new StringBuilder();
    for (Verdict v : out.verdicts()) {
      if (v.status() != Verdict.Status.PASS) {
        failed.append(failed.length() == 0 ? " " : ",").append(v.checker()).append('=').append(v.status());
      }
    }
    System.out.println("chaos: " + out.status() + failed + " seed=" + o.seed() + " nodes=" + o.nodes() + " backend="
        + backend.name() + " ops=" + out.operations() + " faults=" + out.faults() + " availability=" + availability
        + " report=" + report.resolve("index.html"));
    return exitCode(out.status());
  }

  /** 0 valid, 1 a violation, 3 undecided (2 is for errors). */
  private static int exitCode(String status) {
    return switch (status) {
      case "VALID" -> 0;
      case "INVALID" -> 1;
      default -> 3;
    };
  }
}
