package io.hasp.tests;

import io.hasp.proto.ClusterStatusResponse;
import io.hasp.server.HaspNode;
import io.hasp.server.NodeConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Real nodes in this JVM (Ratis, RocksDB, gRPC on 127.0.0.1 free ports) on the wall clock, each with extra config
 * keys (TLS, tokens) from {@code extra}.
 */
final class SecureCluster implements AutoCloseable {
  private final List<NodeConfig> configs = new ArrayList<>();
  private final HaspNode[] nodes;

  private SecureCluster(int n) {
    nodes = new HaspNode[n];
  }

  /** The config of node i (0-based) for these peers; the caller adds keys of its own. */
  static Map<String, String> baseConfig(int i, String peers, Path dir) {
    Map<String, String> cfg = new LinkedHashMap<>();
    cfg.put("node.id", "n" + (i + 1));
    cfg.put("peers", peers);
    cfg.put("data.dir", dir.resolve("n" + (i + 1)).toString());
    cfg.put("http.address", "off"); // not under test here; the derived port (API + 200) may be taken
    return cfg;
  }

  static String peers(int n) throws IOException {
    int[] ports = FreePorts.loopback(2 * n);
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < n; i++) {
      peers.append(i == 0 ? "" : ",").append("n").append(i + 1).append("=127.0.0.1:").append(ports[2 * i + 1])
          .append("/127.0.0.1:").append(ports[2 * i]);
    }
    return peers.toString();
  }

  static SecureCluster start(int n, Path dir, IntFunction<Map<String, String>> extra) throws IOException {
    SecureCluster c = new SecureCluster(n);
    String peers = peers(n);
    try {
      for (int i = 0; i < n; i++) {
        Map<String, String> cfg = baseConfig(i, peers, dir);
        cfg.putAll(extra.apply(i));
        c.configs.add(NodeConfig.load(null, Map.of(), cfg));
      }
      for (int i = 0; i < n; i++) {
        int id = i + 1;
        c.nodes[i] = HaspNode.start(c.configs.get(i), System::currentTimeMillis, () -> {
          throw new IllegalStateException("node n" + id + " hit a fatal error");
        });
      }
      c.leaderIndex(Duration.ofSeconds(60));
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
    return c;
  }


  int size() {
    return nodes.length;
  }

  HaspNode node(int i) {
    return nodes[i];
  }

  List<String> endpoints() {
    return configs.stream().map(c -> c.apiAddress().toString()).toList();
  }

  String raftAddress(int i) {
    return configs.get(i).raftAddress().toString();
  }

  ClusterStatusResponse status(int i) {
    return nodes[i] == null ? null : nodes[i].status();
  }

  /** The node every node names as leader, once they agree. */
  int leaderIndex(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() - deadline < 0) {
      int leader = -1;
      for (int i = 0; i < size(); i++) {
        ClusterStatusResponse s = status(i);
        if (s != null && s.getRole().equals("LEADER")) {
          leader = i;
        }
      }
      boolean agreed = leader >= 0;
      for (int i = 0; i < size() && agreed; i++) {
        ClusterStatusResponse s = status(i);
        agreed = s == null || s.getLeaderId().equals("n" + (leader + 1));
      }
      if (agreed) {
        return leader;
      }
      ProcessCluster.sleep(50);
    }
    throw new IllegalStateException("no leader within " + timeout);
  }

  @Override
  public void close() {
    for (int i = 0; i < nodes.length; i++) {
      if (nodes[i] != null) {
        try {
          nodes[i].close();
        } catch (IOException | RuntimeException e) {
          // closing the rest matters more
        }
        nodes[i] = null;
      }
    }
  }
}
