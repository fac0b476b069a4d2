package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command: ./hasp up starts 3 nodes and a leader, ./hasp status shows them (with each
 * node's HTTP endpoint on base + 200 + i), kill and start restart one, down stops them.
 */
class LauncherTest {
  @TempDir Path home;
  int basePort;
  int ldlmBasePort;
  /** HASP_JAVA_OPTS for the next run only (null: unset). */
  String javaOpts;

  private Path script() {
    Path p = Path.of("..", "hasp").toAbsolutePath().normalize();
    assertTrue(Files.isExecutable(p), "launcher at " + p);
    return p;
  }

  private String run(int expectedExit, String... args) throws Exception {
    String[] cmd = new String[args.length + 1];
    cmd[0] = script().toString();
    System.arraycopy(args, 0, cmd, 1, args.length);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("HASP_HOME", home.toString());
    pb.environment().put("HASP_BASE_PORT", Integer.toString(basePort));
    pb.environment().put("HASP_LDLM_BASE_PORT", Integer.toString(ldlmBasePort));
    pb.environment().remove("HASP_ENDPOINTS");
    pb.environment().remove("HASP_JAVA_OPTS");
    if (javaOpts != null) {
      pb.environment().put("HASP_JAVA_OPTS", javaOpts);
      javaOpts = null;
    }
    Process p = pb.start();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "timed out: " + String.join(" ", args));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(expectedExit, p.exitValue(), out);
    return out;
  }

  /** A base port whose API, Raft, HTTP and REST ports for 3 nodes are all free now (below the ephemeral range). */
  static int freeBase() throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = io.hasp.chaos.cluster.LocalBackend.randomPortBelowEphemeral(253);
      if (free(base + 1) && free(base + 2) && free(base + 3) && free(base + 101) && free(base + 102) && free(base + 103)
          && free(base + 201) && free(base + 202) && free(base + 203) && free(base + 251) && free(base + 252)
          && free(base + 253)) {
        return base;
      }
    }
    throw new IllegalStateException("no free port range");
  }

  /** A base for the launcher's LDLM ports (n1..n3 on base..base+2), free now and apart from {@code haspBase}'s. */
  static int freeLdlmBase(int haspBase) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = io.hasp.chaos.cluster.LocalBackend.randomPortBelowEphemeral(2);
      if (Math.abs(base - haspBase) > 300 && free(base) && free(base + 1) && free(base + 2)) {
        return base;
      }
    }
    throw new IllegalStateException("no free port range");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @AfterEach
  void down() throws Exception {
    run(0, "down");
  }

  @Test
  void upStatusLockDown() throws Exception {
    basePort = freeBase();
    ldlmBasePort = freeLdlmBase(basePort);
    // the archive as the default options name it: relative, so taken from the launcher's checkout (this test runs
    // in tests/, where that path does not exist)
    javaOpts = "-Xmx320m -XX:TieredStopAtLevel=1 -XX:MaxGCPauseMillis=50 -XX:SharedArchiveFile=server/target/hasp.jsa";
    String up = run(0, "up");
    assertTrue(up.contains("cluster up: 3 nodes, leader n"), up);
    // the build's class-data-sharing archive fits the launcher's classpath: the JVM keeps it mapped (it unmaps an
    // archive it cannot use), and the default options name it
    Path archive = script().resolveSibling("server/target/hasp.jsa");
    String maps = Files.readString(Path.of("/proc", Files.readString(home.resolve("n1.pid")).trim(), "maps"));
    assertTrue(maps.contains(archive.toString()), "n1 has not mapped " + archive);
    // RocksDB's native library: the copy kept in the node's data directory, not a new temporary file per start
    assertTrue(maps.contains(home.resolve("n1/data/state/native/rocksdbjni-").toString()), maps);
    assertFalse(maps.lines().anyMatch(l -> l.matches(".*/librocksdbjni[0-9]+\\.so")), "a temporary copy: " + maps);
    assertTrue(Files.readString(script()).contains("-XX:SharedArchiveFile=server/target/hasp.jsa}\""),
        "the launcher's default node options name the archive");
    String status = run(0, "status");
    assertEquals(3, status.lines().filter(l -> l.matches("n[123] .*(LEADER|FOLLOWER).*")).count(), status);
    assertTrue(status.contains("LEADER"), status);
    // node i's HTTP endpoint (/metrics, /health, /ready) is on base + 200 + i
    for (int i = 1; i <= 3; i++) {
      String line = "n" + i + " ";
      String http = "127.0.0.1:" + (basePort + 200 + i);
      assertTrue(status.lines().anyMatch(l -> l.startsWith(line) && l.contains(" " + http + " ")), status);
      java.net.http.HttpResponse<String> health = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + http + "/health")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, health.statusCode(), health.body());
    }
    assertTrue(run(0, "lock", "launcher", "--", "echo", "held-it").contains("held-it"));
    // LDLM: node i serves LDLM's gRPC service on the LDLM base + i - 1 and its REST API on base + 250 + i
    for (int i = 1; i <= 3; i++) {
      String line = "n" + i + " ";
      String ldlmAt = " 127.0.0.1:" + (ldlmBasePort + i - 1) + " ";
      String restAt = " 127.0.0.1:" + (basePort + 250 + i);
      assertTrue(status.lines().anyMatch(l -> l.startsWith(line) && l.contains(ldlmAt) && l.endsWith(restAt)), status);
    }
    String json = run(0, "status", "--json");
    assertTrue(json.contains("\"ldlmAddress\":\"127.0.0.1:" + ldlmBasePort + "\""), json);
    assertTrue(json.contains("\"ldlmRestAddress\":\"127.0.0.1:" + (basePort + 251) + "\""), json);
    try (LdlmWireClient ldlm = LdlmWireClient.plaintext("127.0.0.1:" + (ldlmBasePort + 1))) {
      io.hasp.tests.ldlmwire.LockResponse held = ldlm.lock("launcher-ldlm");
      assertTrue(held.getLocked(), held.toString());
      String list = run(0, "ldlm", "list");
      assertTrue(list.contains("{Name: launcher-ldlm, Token: ") && list.contains("Owner: ldlm 127.0.0.1:"), list);
      assertTrue(run(0, "ldlm", "unlock", "launcher-ldlm", held.getKey()).contains("Unlocked: true"));
      assertTrue(ldlm.lock("launcher-ldlm").getLocked());
      assertTrue(run(0, "ldlm", "unlock", "launcher-ldlm").contains("Unlocked: true"), "without a key: every holder");
      assertTrue(run(0, "ldlm", "list").contains("No locks found"));
      assertTrue(run(2, "ldlm", "unlock", "launcher-ldlm").contains("LOCK_NOT_FOUND"));
    }
    // start after kill returns once the new process serves (the log still holds the killed run's READY line)
    assertTrue(run(0, "kill", "n2").contains("killed n2"));
    assertTrue(run(0, "start", "n2").contains("started n2"));
    // ... with the JVM options it was started with (HASP_JAVA_OPTS of the up), not the default heap
    String cmdline = Files.readString(Path.of("/proc", Files.readString(home.resolve("n2.pid")).trim(), "cmdline"));
    assertTrue(cmdline.contains("-Xmx320m"), cmdline.replace('\0', ' '));
    String restarted = run(0, "status");
    assertTrue(restarted.lines().anyMatch(l -> l.matches("n2 .*(LEADER|FOLLOWER|CANDIDATE).*")), restarted);
    String again = run(0, "up");
    assertTrue(again.contains("already running"), again);
    assertTrue(run(0, "down").contains("stopped 3 node(s)"));
  }
}
