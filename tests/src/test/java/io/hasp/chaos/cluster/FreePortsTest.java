package io.hasp.chaos.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Ports for test clusters: free, below the ephemeral range, and never the same port for two callers in one JVM. */
class FreePortsTest {
  @Test
  void twoCallsNeverShareAPort() throws Exception {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    // 2 x 400 random ports from ~22,000: without the memory of handed-out ports ~7 would repeat on average
    int[] first = LocalBackend.freePorts(loopback, 400);
    int[] second = LocalBackend.freePorts(loopback, 400);
    Set<Integer> seen = new HashSet<>();
    for (int p : first) {
      assertTrue(seen.add(p), "port " + p + " twice in one call");
    }
    for (int p : second) {
      assertTrue(seen.add(p), "port " + p + " handed out again by the second call (nothing listened on it yet)");
    }
    assertEquals(800, seen.size());
  }
}
