package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.server.NodeConfig;
import io.hasp.server.NodeConfig.Peer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Kubernetes StatefulSet keys (statefulset.*): a pod named NAME-ORDINAL becomes node NAME-ORDINAL with every
 * replica as a peer at its headless-Service DNS name; a pod past the replica count joins; wrong input is a
 * ConfigException naming the key. The same settings the manifests in deploy/k8s give, through env and a file.
 */
class StatefulSetConfigTest {
  @TempDir Path dir;

  private Map<String, String> env(String pod) {
    Map<String, String> env = new HashMap<>();
    env.put("HASP_STATEFULSET_NAME", "hasp");
    env.put("HASP_STATEFULSET_SERVICE", "hasp-peers");
    env.put("HASP_STATEFULSET_REPLICAS", "3");
    env.put("HASP_DATA_DIR", dir.resolve("d").toString());
    if (pod != null) {
      env.put("HOSTNAME", pod);
    }
    return env;
  }

  @Test
  void ordinalIsTheNodeAndTheHeadlessServiceNamesArePeers() throws Exception {
    NodeConfig c = NodeConfig.load(null, env("hasp-1"), Map.of());
    assertEquals("hasp-1", c.nodeId());
    List<Peer> peers = c.peers();
    assertEquals(3, peers.size());
    for (int i = 0; i < 3; i++) {
      String host = "hasp-" + i + ".hasp-peers.default.svc.cluster.local";
      assertEquals(new Peer("hasp-" + i, new NodeConfig.HostPort(host, 7100), new NodeConfig.HostPort(host, 7000)),
          peers.get(i));
    }
    assertEquals("hasp-1.hasp-peers.default.svc.cluster.local:7000", c.apiAddress().toString());
    assertEquals("hasp-1.hasp-peers.default.svc.cluster.local:7100", c.raftAddress().toString());
    assertEquals("hasp-1.hasp-peers.default.svc.cluster.local:7200", c.httpAddress().toString(), "api port + 200");
    assertFalse(c.join(), "an initial member starts the group, it does not join");
  }

  @Test
  void namespaceDomainPortsAndPodNameComeFromTheirKeysAndAFile() throws Exception {
    Path file = dir.resolve("hasp.properties");
    Files.writeString(file, String.join("\n", "statefulset.name=locks", "statefulset.service=locks-hl",
        "statefulset.replicas=5", "statefulset.namespace=prod", "statefulset.cluster.domain=k8s.example",
        "statefulset.api.port=9000", "statefulset.raft.port=9100", "http.address=0.0.0.0:9200",
        "data.dir=" + dir.resolve("d"), ""));
    // the downward API's pod name (statefulset.pod) wins over HOSTNAME
    NodeConfig c = NodeConfig.load(file, Map.of("HOSTNAME", "other-7", "HASP_STATEFULSET_POD", "locks-4"), Map.of());
    assertEquals("locks-4", c.nodeId());
    assertEquals(5, c.peers().size());
    assertEquals("locks-0.locks-hl.prod.svc.k8s.example:9100", c.peers().get(0).raftAddress().toString());
    assertEquals("locks-4.locks-hl.prod.svc.k8s.example:9000", c.apiAddress().toString());
    assertEquals("0.0.0.0:9200", c.httpAddress().toString());
    assertFalse(c.join());
  }

  @Test
  void aPodBeyondTheReplicasJoinsAsItsOwnExtraPeer() throws Exception {
    NodeConfig c = NodeConfig.load(null, env("hasp-4"), Map.of());
    assertEquals("hasp-4", c.nodeId());
    assertEquals(List.of("hasp-0", "hasp-1", "hasp-2", "hasp-4"), c.peers().stream().map(Peer::id).toList());
    assertTrue(c.join(), "a scale-up pod waits (joining, outside its own configuration) until member add");
  }

  @Test
  void aFullyQualifiedHostNameCountsByItsFirstLabel() throws Exception {
    NodeConfig c = NodeConfig.load(null, env("hasp-2.hasp-peers.default.svc.cluster.local"), Map.of());
    assertEquals("hasp-2", c.nodeId());
  }

  @Test
  void withoutTheNameNothingIsDerived() throws Exception {
    Map<String, String> cfg = Map.of("node.id", "n1", "peers", "n1=127.0.0.1:17101/127.0.0.1:17001",
        "data.dir", dir.resolve("d").toString());
    NodeConfig c = NodeConfig.load(null, Map.of("HOSTNAME", "hasp-0", "HASP_STATEFULSET_SERVICE", "x"), cfg);
    assertEquals("n1", c.nodeId());
    assertEquals(1, c.peers().size());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "HOSTNAME | web-0 | statefulset.pod: the pod name 'web-0' is not hasp-ORDINAL",
      "HOSTNAME | hasp-x | statefulset.pod: the pod name 'hasp-x' is not hasp-ORDINAL",
      "HOSTNAME | hasp-01 | statefulset.pod: the pod name 'hasp-01' is not hasp-ORDINAL",
      "HASP_STATEFULSET_REPLICAS | 0 | statefulset.replicas must be between 1 and 15, got 0",
      "HASP_STATEFULSET_REPLICAS | three | statefulset.replicas must be a number",
      "HASP_STATEFULSET_SERVICE | Hasp_Peers | statefulset.service: expected a DNS label",
      "HASP_STATEFULSET_NAMESPACE | -prod | statefulset.namespace: expected a DNS label",
      "HASP_STATEFULSET_CLUSTER_DOMAIN | cluster..local | statefulset.cluster.domain: expected a DNS domain",
      "HASP_STATEFULSET_API_PORT | 70000 | statefulset.api.port must be between 1 and 65535",
      "HASP_STATEFULSET_RAFT_PORT | 7000 | statefulset.api.port and statefulset.raft.port are both 7000",
      "HASP_NODE_ID | n1 | node.id is derived from the pod name when statefulset.name is set",
      "HASP_PEERS | n1=a:1/a:2 | peers is derived from the pod name when statefulset.name is set",
  })
  void badStatefulSetSettingsNameTheKey(String variable, String value, String expected) {
    Map<String, String> env = env("hasp-0");
    env.put(variable, value);
    NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, env, Map.of()));
    assertTrue(e.getMessage().startsWith(expected), e.getMessage());
  }

  @Test
  void serviceAndReplicasAreRequiredOnceTheNameIsSet() {
    for (String missing : List.of("HASP_STATEFULSET_SERVICE", "HASP_STATEFULSET_REPLICAS")) {
      Map<String, String> env = env("hasp-0");
      env.remove(missing);
      NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> NodeConfig.load(null, env, Map.of()));
      String key = missing.substring("HASP_".length()).toLowerCase(java.util.Locale.ROOT).replace('_', '.');
      assertEquals("missing required key '" + key + "' (statefulset.name is set)", e.getMessage());
    }
  }
}
