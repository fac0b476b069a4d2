package io.hasp.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.chaos.cluster.NodeImage;
import io.hasp.server.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The configurations deploy/ ships are ones a node accepts: the three VMs' files make one cluster (same peers,
 * distinct ids, each node's own addresses), and the Kubernetes ConfigMap gives each pod of the StatefulSet its
 * own id and the same peers. (Whether they then run is DeployTest's part, as root.)
 */
class DeployExamplesTest {
  @TempDir Path dir;

  @Test
  void theThreeVmConfigsMakeOneCluster() throws Exception {
    Path vms = NodeImage.repoRoot().resolve("deploy/vms");
    List<NodeConfig> nodes = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      nodes.add(NodeConfig.load(vms.resolve("n" + i + ".properties"), Map.of(), Map.of()));
    }
    Set<String> ids = new HashSet<>();
    for (NodeConfig c : nodes) {
      ids.add(c.nodeId());
      assertEquals(nodes.get(0).peers(), c.peers(), "every node has the same peers");
      assertEquals(c.self().apiAddress().host(), c.httpAddress().host(), c.nodeId() + " serves HTTP on its own host");
      assertEquals(Path.of("/var/lib/hasp"), c.dataDir(), "the systemd unit's StateDirectory");
    }
    assertEquals(Set.of("n1", "n2", "n3"), ids);
    assertEquals(3, nodes.get(0).peers().size());
  }

  @Test
  void theConfigMapGivesEveryPodItsIdAndTheSamePeers() throws Exception {
    Path file = dir.resolve("hasp.properties");
    Files.writeString(file, DeployTest.configMapProperties(NodeImage.repoRoot().resolve("deploy/k8s/configmap.yaml")));
    List<NodeConfig.Peer> first = null;
    for (int i = 0; i < 3; i++) {
      // what statefulset.yaml sets through the downward API
      NodeConfig c = NodeConfig.load(file, Map.of("HASP_STATEFULSET_POD", "hasp-" + i,
          "HASP_STATEFULSET_NAMESPACE", "locks"), Map.of());
      assertEquals("hasp-" + i, c.nodeId());
      assertEquals("hasp-" + i + ".hasp-peers.locks.svc.cluster.local:7000", c.apiAddress().toString());
      assertEquals("0.0.0.0:7200", c.httpAddress().toString(), "probes, Prometheus and port-forward reach it");
      assertTrue(!c.join());
      if (first == null) {
        first = c.peers();
      }
      assertEquals(first, c.peers());
    }
    assertEquals(3, first.size());
  }
}
