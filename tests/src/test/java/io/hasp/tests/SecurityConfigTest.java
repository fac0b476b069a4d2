package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.server.HaspNode;
import io.hasp.server.NodeConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** TLS and auth keys that cannot work are refused with a message naming the key or the file, before anything runs. */
class SecurityConfigTest {
  @TempDir static Path dir;
  static Path ca;
  static Path cert;
  static Path key;
  static Path otherKey;

  @BeforeAll
  static void certificates() throws Exception {
    TestCa testCa = TestCa.create("cfg-ca");
    ca = testCa.writeCa(dir.resolve("ca.pem"));
    cert = testCa.node("n1").write(dir, "n1");
    key = dir.resolve("n1-key.pem");
    testCa.node("n2").write(dir, "n2");
    otherKey = dir.resolve("n2-key.pem");
  }

  private static Map<String, String> base(String peers) {
    return SecureCluster.baseConfig(0, peers, dir.resolve("data-" + System.nanoTime()));
  }

  private static NodeConfig load(Map<String, String> extra) throws IOException {
    Map<String, String> m = base("n1=127.0.0.1:17101/127.0.0.1:17001");
    m.putAll(extra);
    return NodeConfig.load(null, Map.of(), m);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "tls.cert=CERT | tls.cert and tls.key go together: tls.cert is set but tls.key is not",
      "tls.key=KEY | tls.cert and tls.key go together: tls.key is set but tls.cert is not",
      "tls.client.ca=CA | tls.client.ca needs tls.cert and tls.key",
      "tls.cert=CERT,tls.key=KEY | tls.peer.ca is needed with tls.cert",
      "tls.cert=CERT,tls.key=KEY,tls.peer.ca=CA,auth.cert.roles=CN=x=admin | auth.cert.roles needs tls.client.ca",
      "tls.cert=CERT,tls.key=KEY,tls.client.ca=CA,auth.cert.roles=ops=admin | auth.cert.roles: expected CN=<common name>=<role>",
      "tls.cert=CERT,tls.key=KEY,tls.client.ca=CA,auth.cert.roles=CN=ops=root | auth.cert.roles: role must be client or admin",
      "tls.reload.interval=10ms | tls.reload.interval must be at least 100ms",
  })
  void inconsistentKeysAreAConfigException(String pairs, String expected) {
    Map<String, String> extra = new LinkedHashMap<>();
    for (String pair : pairs.split(",")) {
      int eq = pair.indexOf('=');
      extra.put(pair.substring(0, eq), pair.substring(eq + 1).replace("CERT", cert.toString())
          .replace("KEY", key.toString()).replace("CA", ca.toString()));
    }
    NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> load(extra));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void tlsAndAuthAreOffByDefaultAndThePeerCaDefaultsToTheClientCa() throws IOException {
    NodeConfig plain = load(Map.of());
    assertFalse(plain.security().tls());
    assertFalse(plain.security().auth());
    NodeConfig secure = load(Map.of("tls.cert", cert.toString(), "tls.key", key.toString(), "tls.client.ca", ca.toString(),
        "auth.tokens.file", "tokens"));
    assertTrue(secure.security().tls() && secure.security().mutualTls() && secure.security().auth());
    assertEquals(ca, secure.security().peerCa());
  }

  /** Starting a node with this file under {@code key}: the error, which must name the file. */
  private static String startFails(String configKey, Path file, Map<String, String> more) throws IOException {
    Map<String, String> extra = new LinkedHashMap<>(Map.of("tls.cert", cert.toString(), "tls.key", key.toString(),
        "tls.client.ca", ca.toString()));
    extra.putAll(more);
    extra.put(configKey, file.toString());
    Map<String, String> m = base(SecureCluster.peers(1));
    m.putAll(extra);
    NodeConfig cfg = NodeConfig.load(null, Map.of(), m);
    IOException e = assertThrows(IOException.class, () -> HaspNode.start(cfg, System::currentTimeMillis, () -> {}).close());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains(configKey), e.getMessage());
    return e.getMessage();
  }

  @Test
  void unreadableOrInvalidFilesFailTheStartNamingTheFile() throws Exception {
    Path missing = dir.resolve("missing.pem");
    assertTrue(startFails("tls.cert", missing, Map.of()).contains("cannot read it"));
    Path garbage = dir.resolve("garbage.pem");
    Files.writeString(garbage, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
    assertTrue(startFails("tls.client.ca", garbage, Map.of()).contains("not a valid PEM certificate file"));
    Path text = dir.resolve("text.pem");
    Files.writeString(text, "hello\n");
    assertTrue(startFails("tls.key", text, Map.of()).contains("no unencrypted PKCS#8 key"));
    assertTrue(startFails("tls.key", otherKey, Map.of()).contains("does not belong to the certificate"));
    Path tokens = dir.resolve("bad-tokens");
    Files.writeString(tokens, "# ok\n" + "ab".repeat(32) + " someone superuser\n");
    String m = startFails("auth.tokens.file", tokens, Map.of());
    assertTrue(m.contains("line 2") && m.contains("role must be client or admin"), m);
  }

  @Test
  void theNodeCommandPrintsTheFileAndExits() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), "io.hasp.server.cli.NodeCommand",
        "--id", "n1", "--peers", SecureCluster.peers(1), "--data-dir", dir.resolve("cmd").toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Path nowhere = dir.resolve("nowhere/n1.pem");
    pb.environment().put("HASP_TLS_CERT", nowhere.toString());
    pb.environment().put("HASP_TLS_KEY", key.toString());
    pb.environment().put("HASP_TLS_PEER_CA", ca.toString());
    Process p = pb.start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "node did not exit");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(1, p.exitValue(), out);
    assertTrue(out.contains("cannot start node n1: tls.cert " + nowhere + ": cannot read it"), out);
    assertFalse(out.contains("\tat "), "no stack trace: " + out);
  }
}
