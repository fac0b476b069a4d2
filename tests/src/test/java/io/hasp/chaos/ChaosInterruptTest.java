package io.hasp.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.hasp.chaos.cluster.Cmd;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A chaos run killed midway leaves nothing behind: after SIGTERM (Ctrl-C) at once, after SIGKILL once the
 * next run (here {@code --cleanup}) has swept. Each run is a separate JVM stopped while faults are active.
 */
class ChaosInterruptTest {
  static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }

  /** Starts a run and returns once its workload is running under faults. */
  private static Process startRun(String backend) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), ChaosMain.class.getName(), "--backend", backend, "--duration", "90s",
        "--seed", "5", "--nemeses", "kill,partition-halves,pause-leader", "--report-dir",
        Path.of("target", "chaos-reports").toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    String line;
    while ((line = out.readLine()) != null) {
      if (line.contains("workload running")) {
        break;
      }
      assertTrue(System.nanoTime() < deadline, "the run did not start in time");
    }
    assertTrue(p.isAlive(), "the run ended before it could be interrupted");
    Thread drain = new Thread(() -> {
      try {
        out.transferTo(java.io.Writer.nullWriter());
      } catch (java.io.IOException e) {
        // gone
      }
    });
    drain.setDaemon(true);
    drain.start();
    Thread.sleep(12_000); // into the fault schedule (the first fault starts 5 s in)
    return p;
  }

  @Test
  void sigtermOfALocalRunCleansUp() throws Exception {
    assumeTrue(root(), "the chaos harness needs root");
    Set<String> before = Leftovers.tmpDirs();
    Process p = startRun("local");
    p.destroy();
    assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the run did not stop after SIGTERM");
    Leftovers.assertNone(before);
  }

  @Test
  void sigkillOfALocalRunIsSweptByTheNextOne() throws Exception {
    assumeTrue(root(), "the chaos harness needs root");
    Set<String> before = Leftovers.tmpDirs();
    Process p = startRun("local");
    p.destroyForcibly();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    // The nodes die with the harness (parent-death signal); chain, cgroups and scratch dir wait for a sweep.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (Cmd.run("pgrep", "-f", Leftovers.NODE_PROCESS).code() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertEquals(0, ChaosMain.run(new String[] {"--cleanup"}));
    Leftovers.assertNone(before);
  }

  @Test
  void sigtermOfAContainerRunCleansUp() throws Exception {
    assumeTrue(root(), "the chaos harness needs root");
    Set<String> before = Leftovers.tmpDirs();
    Process p = startRun("docker");
    p.destroy();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the run did not stop after SIGTERM");
    Leftovers.assertNone(before); // includes the engine's directory, removed after dockerd exited
    assertTrue(Cmd.run("pgrep", "-f", "hasp-chaos-engine").code() != 0, "the harness's dockerd is still running");
  }
}
