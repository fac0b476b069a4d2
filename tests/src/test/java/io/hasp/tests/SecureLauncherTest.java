package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./hasp up --secure}: a local cluster with TLS, client certificates and tokens. The printed CLI settings
 * work in a shell that knows nothing else; {@code ./hasp} commands pick them up by themselves; a plaintext call,
 * no token and a client token calling flush each get their error.
 */
class SecureLauncherTest {
  @TempDir Path home;
  @TempDir Path elsewhere;
  int basePort;
  int ldlmBasePort;

  private static Path script() {
    Path p = Path.of("..", "hasp").toAbsolutePath().normalize();
    assertTrue(Files.isExecutable(p), "launcher at " + p);
    return p;
  }

  /** Runs {@code bash -c script} with HASP_HOME/HASP_BASE_PORT of this test's cluster and {@code env} on top. */
  private String bash(int expectedExit, Map<String, String> env, String command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true);
    pb.environment().put("HASP_HOME", home.toString());
    pb.environment().put("HASP_BASE_PORT", Integer.toString(basePort));
    pb.environment().put("HASP_LDLM_BASE_PORT", Integer.toString(ldlmBasePort));
    for (String v : List.of("HASP_ENDPOINTS", "HASP_TLS_CA", "HASP_TLS_CERT", "HASP_TLS_KEY", "HASP_TOKEN")) {
      pb.environment().remove(v);
    }
    pb.environment().putAll(env);
    Process p = pb.start();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "timed out: " + command);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(expectedExit, p.exitValue(), command + "\n" + out);
    return out;
  }

  private String hasp(int expectedExit, String args) throws Exception {
    return bash(expectedExit, Map.of(), "'" + script() + "' " + args);
  }

  @AfterEach
  void down() throws Exception {
    if (basePort != 0) {
      hasp(0, "down --purge");
    }
  }

  @Test
  void upSecurePrintsSettingsThatWorkAndPlaintextFails() throws Exception {
    basePort = LauncherTest.freeBase();
    ldlmBasePort = LauncherTest.freeLdlmBase(basePort);
    String up = hasp(0, "up --secure");
    assertTrue(up.contains("cluster up: 3 nodes, leader n"), up);
    String exports = up.lines().filter(l -> l.startsWith("  export ")).collect(Collectors.joining("\n"));
    assertTrue(exports.contains("HASP_TLS_CA=") && exports.contains("HASP_TOKEN="), up);
    assertTrue(up.contains(".tls(Path.of(") && up.contains(".tlsClientCert(") && up.contains(".token("), up);
    for (String f : List.of("ca.pem", "client.pem", "client-key.pem", "admin.token", "client.token", "tokens")) {
      assertTrue(Files.exists(home.resolve("secure").resolve(f)), f);
    }
    // the printed settings alone, in a shell whose HASP_HOME holds no cluster (nothing to pick up)
    String printed = bash(0, Map.of(), exports + "\nHASP_HOME='" + elsewhere + "' '" + script() + "' status");
    // the TLS column, then the LDLM columns
    assertEquals(3, printed.lines().filter(l -> l.matches("n[123] .*(LEADER|FOLLOWER).* on( .*)?")).count(), printed);
    assertTrue(bash(0, Map.of(), exports + "\nHASP_HOME='" + elsewhere + "' '" + script()
        + "' lock secure-demo -- echo held-it").contains("held-it"));
    // ./hasp picks the settings up from HASP_HOME by itself (as admin)
    assertTrue(hasp(0, "status --json").contains("\"tls\":true"));
    assertTrue(hasp(0, "try-lock secure-held --lease 5m").contains("token"));
    // plaintext (HASP_TLS_CA set empty turns the pick-up off): refused, with a hint
    String plain = bash(2, Map.of("HASP_TLS_CA", ""), "'" + script() + "' is-locked secure-held");
    assertTrue(plain.contains("error: UNAVAILABLE: no endpoint reachable"), plain);
    assertTrue(plain.contains("if the cluster speaks TLS, give --tls-ca"), plain);
    // no token
    String noToken = bash(2, Map.of("HASP_TOKEN", ""), "'" + script() + "' is-locked secure-held");
    assertTrue(noToken.contains("error: UNAUTHENTICATED: "), noToken);
    // the client token: reads yes, flush no
    String clientToken = Files.readString(home.resolve("secure/client.token")).trim();
    assertTrue(bash(0, Map.of("HASP_TOKEN", clientToken), "'" + script() + "' is-locked secure-held").contains("true"));
    String denied = bash(2, Map.of("HASP_TOKEN", clientToken), "'" + script() + "' flush secure-held");
    assertTrue(denied.contains("error: PERMISSION_DENIED: hasp.v1.Hasp/FlushLocks needs role admin"), denied);
    assertFalse(denied.contains(clientToken), "the token is never echoed");
    assertTrue(hasp(0, "flush secure-held").contains("released: secure-held"));
    // a restart keeps the cluster secure
    assertTrue(hasp(0, "restart").contains("secure: TLS on every API and Raft port"));
  }
}
