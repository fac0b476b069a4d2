package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/** A node given a wrong peer list refuses to start with a clear message and exit code 2. */
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
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), "io.hasp.server.cli.NodeCommand",
        "--id", id, "--data-dir", dir.resolve("d").toString()));
    if (!peers.isEmpty()) {
      cmd.add("--peers");
      cmd.add(peers);
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "node did not exit");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains(expected), out);
    assertTrue(out.contains("INVALID_ARGUMENT"), out);
    assertTrue(!out.contains("\tat "), "no stack trace: " + out);
  }
}
