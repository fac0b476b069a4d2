package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import io.hasp.server.NodeConfig;
import org.junit.jupiter.api.Test;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node given a wrong peer list or HTTP address refuses to start with a clear message and exit code 2; the
 * operations keys have their defaults and are checked.
 */
class NodeConfigTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "n9 | n1=127.0.0.1:17101/127.0.0.1:17001,n2=127.0.0.1:17102/127.0.0.1:17002 | not in peers",
      "n1 | n1=127.0.0.1:17101/127.0.0.1:17001,n1=127.0.0.1:17102/127.0.0.1:17002 | appears twice",
      "n1 | n1=127.0.0.1:17101/127.0.0.1:17001,n2=127.0.0.1:17101/127.0.0.1:17002 | used twice",
      "n1 | n1=127.0.0.1:17101,n2=127.0.0.1:17102 | expected id=raftHost:raftPort/apiHost:apiPort",
      "n1 | n1=127.0.0.1:99999/127.0.0.1:17001 | port out of range",
      "n1 | '' | missing required key 'peers'",
  })
  void badPeerListIsRefused(String id, String peers, String expected) throws Exception {
    assertRefused(id, peers, expected, List.of());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "--http-address | 127.0.0.1 | http.address: expected host:port",
      "--http-address | 127.0.0.1:17001 | http.address 127.0.0.1:17001 is also this node's api address",
      "--api-address | 127.0.0.1:65400 | http.address: the derived port 65600",
  })
  void badHttpAddressIsRefused(String flag, String value, String expected) throws Exception {
    String peers = flag.equals("--api-address") ? "n1=127.0.0.1:17101/127.0.0.1:65400" : "n1=127.0.0.1:17101/127.0.0.1:17001";
    assertRefused("n1", peers, expected, List.of(flag, value));
  }

  @Test
  void opsKeysHaveTheirDefaultsAndAreChecked() throws Exception {
    Map<String, String> base = Map.of("node.id", "n1", "peers", "n1=127.0.0.1:17101/127.0.0.5:17001",
        "data.dir", dir.resolve("d").toString());
    NodeConfig d = NodeConfig.load(null, Map.of(), base);
    assertEquals("127.0.0.5:17201", d.httpAddress().toString(), "API host, API port + 200");
    assertEquals(1000, d.readyAppliedLagMax());
    assertEquals("text", d.logFormat());
    assertEquals("info", d.logLevel());
    Map<String, String> env = Map.of("HASP_HTTP_ADDRESS", "off", "HASP_LOG_FORMAT", "JSON", "HASP_LOG_LEVEL", "debug",
        "HASP_READY_APPLIED_LAG_MAX", "5");
    NodeConfig o = NodeConfig.load(null, env, base);
    assertNull(o.httpAddress());
    assertEquals("json", o.logFormat());
    assertEquals("debug", o.logLevel());
    assertEquals(5, o.readyAppliedLagMax());
    for (Map.Entry<String, String> bad : Map.of("log.format", "xml", "log.level", "loud", "ready.applied.lag.max", "0",
        "http.address", "nowhere").entrySet()) {
      Map<String, String> cfg = new java.util.HashMap<>(base);
      cfg.put(bad.getKey(), bad.getValue());
      NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, Map.of(), cfg));
      assertTrue(e.getMessage().startsWith(bad.getKey()), e.getMessage());
    }
  }

  private void assertRefused(String id, String peers, String expected, List<String> extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), "io.hasp.server.cli.NodeCommand",
        "--id", id, "--data-dir", dir.resolve("d").toString()));
    if (!peers.isEmpty()) {
      cmd.add("--peers");
      cmd.add(peers);
    }
    cmd.addAll(extra);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "node did not exit");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains(expected), out);
    assertTrue(out.contains("INVALID_ARGUMENT"), out);
    assertTrue(!out.contains("\tat "), "no stack trace: " + out);
  }
}
