package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.server.cli.ProbeCommand;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code hasp probe}, the health check of the container image (which has no shell or curl): exit 0 while the
 * node's /ready answers 200, 1 once it answers 503 (a node cut off from its quorum), 1 for no answer or another
 * path, 2 for a bad URL; the CLI subcommand and the standalone entry point print the node's reason.
 */
class ProbeTest {
  @TempDir Path dir;
  private InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static int probe(String... args) {
    return new CommandLine(new ProbeCommand()).execute(args);
  }

  /** Runs a main class in a JVM of its own: the exit code and output a container health check sees. */
  private static String[] run(String mainClass, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe did not exit");
    return new String[] {Integer.toString(p.exitValue()),
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)};
  }

  @Test
  void readyIsZeroNotReadyIsOneAndItSaysWhy() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    String ready = "http://" + cluster.httpAddress(leader) + "/ready";
    assertEquals(0, probe(ready));
    assertEquals(0, probe("http://" + cluster.httpAddress(leader) + "/health"));
    assertEquals(1, probe("http://" + cluster.httpAddress(leader) + "/no-such-path"));

    String[] cli = run("io.hasp.server.cli.HaspCli", "probe", ready);
    assertEquals("0", cli[0], cli[1]);
    assertTrue(cli[1].startsWith("ok: " + ready + " answered 200: ready: LEADER"), cli[1]);

    // the other two stop: the last node loses its quorum and /ready turns 503
    int last = (leader + 1) % 3;
    for (int i = 0; i < 3; i++) {
      if (i != last) {
        cluster.stop(i);
      }
    }
    String lastReady = "http://" + cluster.httpAddress(last) + "/ready";
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (probe("--timeout", "5s", lastReady) != 1) {
      assertTrue(System.nanoTime() < deadline, "node " + last + " stayed ready for 90 s without a quorum");
      Thread.sleep(200);
    }
    String[] alone = run("io.hasp.server.cli.ProbeCommand", lastReady);
    assertEquals("1", alone[0], alone[1]);
    assertTrue(alone[1].startsWith("failed: " + lastReady + " answered 503: "), alone[1]);
    assertEquals(0, probe("http://" + cluster.httpAddress(last) + "/health"), "alive, though not ready");
  }

  @Test
  void noAnswerIsOneAndABadUrlIsTwo() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String[] refused = run("io.hasp.server.cli.ProbeCommand", "http://127.0.0.1:" + port + "/ready");
    assertEquals("1", refused[0], refused[1]);
    assertTrue(refused[1].contains("ConnectException"), refused[1]);
    // a port that accepts but never answers: the read timeout ends it
    try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      long t0 = System.nanoTime();
      assertEquals(1, probe("--timeout", "500ms", "http://127.0.0.1:" + silent.getLocalPort() + "/ready"));
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "the timeout was not kept");
    }
    for (String bad : List.of("ftp://127.0.0.1/ready", "127.0.0.1:7200/ready", "http://[bad/ready")) {
      String[] out = run("io.hasp.server.cli.ProbeCommand", bad);
      assertEquals("2", out[0], bad + ": " + out[1]);
      assertTrue(out[1].contains("INVALID_ARGUMENT: bad probe URL"), out[1]);
    }
  }

}
