package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.server.NodeConfig;
import io.hasp.server.ldlm.LdlmConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The LDLM keys have their defaults (LDLM off on a bare node) and are checked; LDLM's own LDLM_* variables and
 * server flags set Hasp's keys (Hasp's own HASP_* variables win over LDLM's), so an LDLM deployment's settings move
 * over unchanged.
 */
class LdlmConfigTest {
  @TempDir Path dir;

  private Map<String, String> base() {
    Map<String, String> m = new HashMap<>();
    m.put("node.id", "n1");
    m.put("peers", "n1=127.0.0.1:17101/127.0.0.1:17001");
    m.put("data.dir", dir.resolve("d").toString());
    return m;
  }

  @Test
  void defaultsLeaveLdlmOffWithLdlmsOwnTimings() throws Exception {
    LdlmConfig c = NodeConfig.load(null, Map.of(), base()).ldlm();
    assertFalse(c.enabled(), "a bare node serves no LDLM");
    assertNull(c.restAddress());
    assertEquals(Duration.ofSeconds(10), c.sessionTtl());
    assertEquals(Duration.ofMinutes(1), c.keepaliveInterval());
    assertEquals(Duration.ofSeconds(10), c.keepaliveTimeout());
    assertEquals(Duration.ofMinutes(10), c.restSessionTimeout());
    assertFalse(c.noClearOnDisconnect());
    assertEquals("", c.password());
  }

  @Test
  void ldlmVariablesAreAliasesAndHaspsOwnWin() throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("LDLM_LISTEN_ADDRESS", ":3144");
    env.put("LDLM_PASSWORD", "from-ldlm");
    env.put("LDLM_KEEPALIVE_INTERVAL", "1m30s");
    env.put("LDLM_KEEPALIVE_TIMEOUT", "2.5s");
    env.put("LDLM_DEFAULT_LOCK_TIMEOUT", "5m");
    env.put("LDLM_NO_CLEAR_ON_DISCONNECT", "true");
    env.put("LDLM_REST_LISTEN_ADDRESS", "127.0.0.1:8080");
    env.put("LDLM_REST_SESSION_TIMEOUT", "1h");
    env.put("LDLM_LOG_LEVEL", "debug");
    env.put("LDLM_TLS_CERT", "/etc/ldlm/cert.pem");
    env.put("LDLM_TLS_KEY", "/etc/ldlm/key.pem");
    env.put("LDLM_CLIENT_CA", "/etc/ldlm/ca.pem");
    env.put("LDLM_CLIENT_CERT_VERIFY", "1");
    NodeConfig cfg = NodeConfig.load(null, env, base());
    LdlmConfig c = cfg.ldlm();
    assertEquals("0.0.0.0:3144", c.address().toString(), "LDLM's ':port' is every interface");
    assertEquals("from-ldlm", c.password());
    assertEquals(Duration.ofSeconds(90), c.keepaliveInterval());
    assertEquals(Duration.ofMillis(2500), c.keepaliveTimeout());
    assertEquals(Duration.ofMinutes(5), c.defaultLockTimeout());
    assertTrue(c.noClearOnDisconnect());
    assertEquals("127.0.0.1:8080", c.restAddress().toString());
    assertEquals(Duration.ofHours(1), c.restSessionTimeout());
    assertTrue(c.clientCertVerify());
    assertEquals("debug", cfg.logLevel());
    assertEquals(Path.of("/etc/ldlm/cert.pem"), cfg.security().cert(), "LDLM's tls_cert is Hasp's tls.cert");
    assertEquals(Path.of("/etc/ldlm/key.pem"), cfg.security().key());
    assertEquals(Path.of("/etc/ldlm/ca.pem"), cfg.security().clientCa(), "client_ca is tls.client.ca (mTLS)");

    env.put("HASP_LDLM_PASSWORD", "from-hasp");
    env.put("HASP_LDLM_ADDRESS", "127.0.0.1:4000");
    LdlmConfig both = NodeConfig.load(null, env, base()).ldlm();
    assertEquals("from-hasp", both.password(), "HASP_* wins over LDLM_*");
    assertEquals("127.0.0.1:4000", both.address().toString());
  }

  @Test
  void badLdlmValuesAreRefusedNamingTheKey() {
    Map<String, String> bad = Map.of(
        "ldlm.session.ttl", "500ms",
        "ldlm.rest.session.timeout", "2h",
        "ldlm.keepalive.interval", "soon",
        "ldlm.no.clear.on.disconnect", "maybe",
        "ldlm.connections.max", "0",
        "ldlm.address", "nowhere",
        "ldlm.client.cert.verify", "true");
    for (Map.Entry<String, String> e : bad.entrySet()) {
      Map<String, String> cfg = base();
      cfg.put(e.getKey(), e.getValue());
      NodeConfig.ConfigException x = assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, Map.of(), cfg),
          e.toString());
      assertTrue(x.getMessage().startsWith(e.getKey()), x.getMessage());
    }
    Map<String, String> clash = base();
    clash.put("ldlm.address", "127.0.0.1:17001");
    assertTrue(assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, Map.of(), clash)).getMessage()
        .contains("is also this node's api address"));
    Map<String, String> same = base();
    same.put("ldlm.address", "127.0.0.1:3144");
    same.put("ldlm.rest.address", "127.0.0.1:3144");
    assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, Map.of(), same));
  }

  @Test
  void goAndHaspDurationsBothParse() {
    assertEquals(Duration.ofMillis(1500), LdlmConfig.duration("k", "1.5s"));
    assertEquals(Duration.ofSeconds(5400), LdlmConfig.duration("k", "1h30m"));
    assertEquals(Duration.ofMillis(250), LdlmConfig.duration("k", "250ms"));
    assertEquals(Duration.ofMillis(250), LdlmConfig.duration("k", "250"));
    assertThrows(NodeConfig.ConfigException.class, () -> LdlmConfig.duration("k", "1x"));
    assertThrows(NodeConfig.ConfigException.class, () -> LdlmConfig.duration("k", ""));
  }

  /** LDLM's server flags on `hasp node` set the same keys (a bad value is refused naming the Hasp key). */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "--keepalive_interval=soon | ldlm.keepalive.interval: not a duration",
      "--keepalive_timeout=soon | ldlm.keepalive.timeout: not a duration",
      "--rest_session_timeout=2h | ldlm.rest.session.timeout must be between",
      "--listen_address=nowhere | ldlm.address: expected host:port",
      "--rest_listen_address=nowhere | ldlm.rest.address: expected host:port",
      "--client_cert_verify | ldlm.client.cert.verify (LDLM's client_cert_verify) needs tls.client.ca",
      "--no_clear_on_disconnect=maybe | ldlm.no.clear.on.disconnect: expected true or false",
      "--tls_cert=/nonexistent/cert.pem | tls.cert and tls.key go together",
      "--log_level=loud | log.level: expected one of",
  })
  void ldlmFlagsSetHaspKeys(String flag, String expected) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), "io.hasp.server.cli.NodeCommand",
        "--id", "n1", "--peers", "n1=127.0.0.1:17101/127.0.0.1:17001", "--data-dir", dir.resolve("d").toString(), flag));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "node did not exit");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains("INVALID_ARGUMENT") && out.contains(expected), out);
  }
}
