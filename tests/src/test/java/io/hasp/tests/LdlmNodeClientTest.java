package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Optional smoke test on another gRPC stack: an LDLM client in Node with {@code @grpc/grpc-js}
 * ({@code src/test/node/ldlm-smoke/smoke.js}, loading the tests' own {@code ldlm_wire.proto}) against each node of a
 * 3-node cluster. Skipped, saying why, when node or npm is missing or its packages cannot be installed
 * ({@code npm ci} from the lock file, which names no registry: npm uses the one it is configured with).
 */
class LdlmNodeClientTest {
  @TempDir Path dir;

  private static boolean onPath(String tool) {
    try {
      Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static String run(Path cwd, long timeoutSeconds, List<String> cmd, int[] exit) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
    boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    exit[0] = done ? p.exitValue() : -1;
    return out;
  }

  @Test
  void grpcJsClientThroughEachNode() throws Exception {
    assumeTrue(onPath("node") && onPath("npm"), "node and npm are not installed: the Node smoke test is skipped");
    Path app = dir.resolve("ldlm-smoke");
    Files.createDirectories(app);
    Path source = Path.of("src", "test", "node", "ldlm-smoke");
    for (String f : List.of("package.json", "package-lock.json", "smoke.js")) {
      Files.copy(source.resolve(f), app.resolve(f));
    }
    int[] exit = new int[1];
    String install = run(app, 600, List.of("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"), exit);
    assumeTrue(exit[0] == 0, () -> "npm ci could not install @grpc/grpc-js (no registry reachable?): the Node smoke "
        + "test is skipped. npm said:\n" + install);
    String proto = Path.of("src", "test", "proto", "ldlm_wire.proto").toAbsolutePath().toString();
    int[] ports = FreePorts.loopback(3);
    try (SecureCluster c = SecureCluster.start(3, dir.resolve("cluster"),
        i -> Map.of("ldlm.address", "127.0.0.1:" + ports[i]))) {
      for (int i = 0; i < 3; i++) {
        String out = run(app, 120, List.of("node", "smoke.js", "127.0.0.1:" + ports[i], proto), exit);
        System.out.println("ldlm: node client through n" + (i + 1) + ":\n" + out);
        assertEquals(0, exit[0], out);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\d+ passed, 0 failed")), out);
      }
    }
  }
}
