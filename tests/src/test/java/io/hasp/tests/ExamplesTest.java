package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The client examples as a user runs them (separate JVMs), against a real cluster. */
class ExamplesTest extends SharedClusterTest {

  private static ProcessBuilder example(String name, String... args) {
    List<String> cmd = new java.util.ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "io.hasp.examples." + name));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("HASP_ENDPOINTS", cluster.endpointsCsv());
    pb.environment().put("HASP_SESSION_TTL_S", "2");
    return pb;
  }

  private static String run(String name, String... args) throws Exception {
    Process p = example(name, args).start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), name + " did not finish");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void clientRateLimitAllowsThirtyPerWindow() throws Exception {
    assertTrue(run("ClientRateLimit", "40", "ex-rate").contains("allowed 30, rate-limited 10"));
  }

  @Test
  void resourceLimitNeverExceedsTen() throws Exception {
    String out = run("ResourceLimit", "25");
    assertTrue(out.contains("most inside at once: 10 (limit 10)") || out.matches("(?s).*at once: [1-9] \\(limit 10\\).*"), out);
  }

  @Test
  void serverRateLimitAnswers429() throws Exception {
    assertTrue(run("ServerRateLimit", "8").contains("5 x 200, 3 x 429"));
  }

  @Test
  void aWorkerSkipsTheTaskWhileAnotherRunsIt() throws Exception {
    Process a = example("TaskWorker", "1", "8000").start();
    AtomicReference<String> outA = new AtomicReference<>("");
    awaitLine(a, "running nightly-report", outA, 30);
    String outB = run("TaskWorker", "3", "100");
    assertTrue(outB.contains("ran 0, skipped 3"), outB);
    assertTrue(a.waitFor(60, TimeUnit.SECONDS));
    String restA = new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(restA.contains("ran 1, skipped 0"), outA.get() + restA);
    assertTrue(run("TaskWorker", "2", "50").contains("ran 2, skipped 0"), "free again after the first worker");
  }

  @Test
  void secondReplicaTakesOverWhenThePrimaryIsKilled() throws Exception {
    Process first = example("PrimaryFailover", "60").start();
    AtomicReference<String> firstOut = new AtomicReference<>("");
    awaitLine(first, "PRIMARY", firstOut, 30);
    Process second = example("PrimaryFailover", "60").start();
    AtomicReference<String> secondOut = new AtomicReference<>("");
    awaitLine(second, "waiting to become primary", secondOut, 30);
    ProcessCluster.sleep(500);
    long killedAt = System.nanoTime();
    first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    awaitLine(second, "PRIMARY", secondOut, 20);
    long takeoverMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    second.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    assertTrue(takeoverMs < 2_000 + 5_000, "took over after " + takeoverMs + " ms (session TTL 2 s)");
  }

  /** Reads the process output until a line contains {@code text} (bounded); fails otherwise. */
  private static void awaitLine(Process p, String text, AtomicReference<String> seen, int seconds) throws Exception {
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (r.ready()) {
        String line = r.readLine();
        if (line == null) {
          break;
        }
        seen.set(seen.get() + line + "\n");
        if (line.contains(text)) {
          return;
        }
      } else {
        ProcessCluster.sleep(20);
      }
    }
    p.destroyForcibly();
    throw new AssertionError("no line with '" + text + "' within " + seconds + " s:\n" + seen.get());
  }
}
