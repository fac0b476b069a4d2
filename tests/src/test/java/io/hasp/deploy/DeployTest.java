package io.hasp.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.hasp.chaos.Leftovers;
import io.hasp.chaos.cluster.Cmd;
import io.hasp.chaos.cluster.DockerEngine;
import io.hasp.chaos.cluster.NodeImage;
import io.hasp.chaos.cluster.Scratch;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What deploy/ promises, on a real Docker engine (the chaos harness's private one, installed and started here as
 * root): {@code ./hasp image} loads hasp:VERSION; {@code docker-compose -f deploy/compose.yaml up -d} (Debian's
 * docker-compose) brings up 3 nodes that turn healthy through the probe, elect a leader and serve
 * {@code ./hasp lock demo -- CMD} on the published ports; and the StatefulSet start-up works in containers given
 * what a StatefulSet gives a pod (host name hasp-N, the headless Service's DNS names, the ConfigMap's properties
 * file, a read-only root): they elect a leader, serve a lock, and a fourth pod joins by {@code member add}.
 * Everything it made (containers, networks, volumes, the engine, temp dirs) is gone afterwards.
 */
class DeployTest {
  private static final Duration HEALTHY_WITHIN = Duration.ofMinutes(4);
  private static final Duration LEADER_WITHIN = Duration.ofMinutes(2);
  /** What a StatefulSet pod of deploy/k8s in namespace default is called by its peers. */
  private static final String DOMAIN = "hasp-peers.default.svc.cluster.local";

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private Path repo;
  private Path scratch;
  private Map<String, String> docker;

  static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }

  @Test
  @Timeout(value = 25, unit = TimeUnit.MINUTES)
  void imageComposeClusterAndStatefulSetStartUpWork() throws Exception {
    assumeTrue(root(), "the deploy suite starts its own Docker engine and installs docker-compose: it needs root");
    Set<String> tmpBefore = Leftovers.tmpDirs();
    installCompose();
    repo = NodeImage.repoRoot();
    String run = Long.toHexString(System.nanoTime() & 0xffffffL);
    Scratch.sweepStale();
    // the engine in a scratch directory of its own, as the chaos harness keeps it (a later sweep stops an
    // engine whose test was killed); the test's files in another
    Scratch engineDir = Scratch.create("engine" + run);
    Scratch held = Scratch.create("deploy" + run);
    scratch = held.dir();
    DockerEngine engine = null;
    try {
      engine = DockerEngine.start(engineDir.dir());
      docker = engine.env();
      String image = buildImage();
      composeCluster("haspdeploy" + run, image);
      statefulSetPods("deploy" + run, image);
    } finally {
      if (engine != null) {
        engine.stop();
      }
      engineDir.close();
      held.close();
    }
    Leftovers.assertNone(tmpBefore); // the engine's directory too: removed only after dockerd exited
  }

  private static void installCompose() {
    if (Cmd.onPath("docker-compose")) {
      return;
    }
    List<String> install = List.of("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=900", "docker-compose");
    Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
    Cmd.Out out = Cmd.run(install, env, 900);
    if (!out.ok()) { // a fresh machine's package lists may be too old to know it
      Cmd.run(List.of("apt-get", "update", "-q"), env, 900);
      out = Cmd.run(install, env, 900);
    }
    Cmd.Out last = out;
    assertTrue(last.ok(), () -> "apt-get install docker-compose failed: " + last.text());
  }

  /** {@code ./hasp image}, as an operator runs it; the image reference is its last line. */
  private String buildImage() {
    Cmd.Out out = hasp(List.of("image"), 900);
    assertEquals(0, out.code(), out.text());
    String[] lines = out.text().strip().split("\n");
    String image = lines[lines.length - 1];
    assertTrue(image.matches("hasp:[0-9][A-Za-z0-9_.-]*"), () -> "./hasp image did not end with hasp:VERSION: " + out.text());
    String id = dockerMust("image", "inspect", "--format", "{{.Id}}", image).strip();
    assertEquals(id, dockerMust("image", "inspect", "--format", "{{.Id}}", "hasp:latest").strip(), "hasp:latest");
    System.out.println("deploy: ./hasp image loaded " + image + " (" + id + ")");
    return image;
  }

  private void composeCluster(String project, String image) throws Exception {
    int[] ports = io.hasp.tests.FreePorts.loopback(9);
    Map<String, String> env = new HashMap<>(docker);
    env.put("HASP_IMAGE", image);
    List<String> endpoints = new ArrayList<>();
    List<String> httpPorts = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      env.put("HASP_API_PORT_" + i, Integer.toString(ports[i - 1]));
      env.put("HASP_HTTP_PORT_" + i, Integer.toString(ports[i + 2]));
      env.put("HASP_LDLM_PORT_" + i, Integer.toString(ports[i + 5]));
      endpoints.add("127.0.0.1:" + ports[i - 1]);
      httpPorts.add(Integer.toString(ports[i + 2]));
    }
    List<String> compose = List.of("docker-compose", "-p", project, "-f",
        repo.resolve("deploy/compose.yaml").toString());
    try {
      must(concat(compose, "up", "-d"), env, 600);
      List<String> ids = Arrays.stream(must(concat(compose, "ps", "-q"), env, 60).strip().split("\\s+"))
          .filter(s -> !s.isEmpty()).toList();
      assertEquals(3, ids.size(), "compose started " + ids);
      long t0 = System.nanoTime();
      awaitHealthy(ids);
      String csv = String.join(",", endpoints);
      String leader = awaitLeader(csv);
      assertTrue(leader.matches("n[123]"), leader);
      System.out.printf("deploy: compose: 3 nodes healthy, leader %s, after %.1f s%n", leader, (System.nanoTime() - t0) / 1e9);
      for (String port : httpPorts) { // the published HTTP ports, on 127.0.0.1 only
        HttpResponse<String> r = get("http://127.0.0.1:" + port + "/ready");
        assertEquals(200, r.statusCode(), r.body());
      }
      assertPublishedOnLoopbackOnly(ids);
      assertMapsTheClassArchive(ids);
      assertLockRunsTheCommand(csv);
    } finally {
      Cmd.Out down = Cmd.run(concat(compose, "down", "-v", "--timeout", "30"), env, 300);
      assertTrue(down.ok(), () -> "docker-compose down -v failed: " + down.text());
    }
    String filter = "label=com.docker.compose.project=" + project;
    assertEquals("", dockerMust("ps", "-aq", "--filter", filter).strip(), "containers left");
    assertEquals("", dockerMust("volume", "ls", "-q", "--filter", filter).strip(), "volumes left");
    assertEquals("", dockerMust("network", "ls", "-q", "--filter", filter).strip(), "networks left");
  }

  /** Every published port of the compose nodes is bound to 127.0.0.1. */
  private void assertPublishedOnLoopbackOnly(List<String> ids) {
    for (String id : ids) {
      String ports = dockerMust("port", id).strip();
      assertTrue(!ports.isEmpty(), "nothing published by " + id);
      for (String line : ports.split("\n")) {
        assertTrue(line.matches("\\d+/tcp -> 127\\.0\\.0\\.1:\\d+"), "published beyond 127.0.0.1: " + line);
      }
    }
  }

  /**
   * Every compose node's JVM (the container's first process) has the image's class-data-sharing archive mapped, as
   * build-image.sh makes it: a JVM unmaps an archive it cannot use (another class path, another JVM), so a mapping
   * means the node's classes come from it.
   */
  private void assertMapsTheClassArchive(List<String> ids) throws IOException {
    for (String id : ids) {
      String pid = dockerMust("inspect", "--format", "{{.State.Pid}}", id).strip();
      String maps = Files.readString(Path.of("/proc", pid, "maps"));
      assertTrue(maps.contains(" /opt/hasp/hasp.jsa"), "node " + id + " (pid " + pid + ") has not mapped /opt/hasp/hasp.jsa");
    }
  }

  /** {@code ./hasp lock demo -- CMD} exits with CMD's code: true gives 0, false 1 (so CMD really ran). */
  private void assertLockRunsTheCommand(String endpoints) {
    Cmd.Out ok = hasp(List.of("lock", "demo", "--endpoints", endpoints, "--", "true"), 180);
    assertEquals(0, ok.code(), "./hasp lock demo -- true: " + ok.text());
    Cmd.Out no = hasp(List.of("lock", "demo", "--endpoints", endpoints, "--", "false"), 180);
    assertEquals(1, no.code(), "./hasp lock demo -- false: " + no.text());
  }

  private void statefulSetPods(String run, String image) throws Exception {
    Path props = scratch.resolve("k8s").resolve("hasp.properties");
    Files.createDirectories(props.getParent());
    Files.writeString(props, configMapProperties(repo.resolve("deploy/k8s/configmap.yaml")));
    String net = "hasp-" + run;
    int[] ports = io.hasp.tests.FreePorts.loopback(4);
    List<String> names = new ArrayList<>();
    try {
      dockerMust("network", "create", "--label", "hasp.chaos=" + run,
          "-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1", net);
      for (int i = 0; i < 3; i++) {
        names.add(startPod(run, net, image, props, i, ports[i]));
      }
      for (String name : names) {
        awaitLog(name, "READY");
      }
      List<String> endpoints = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        endpoints.add("127.0.0.1:" + ports[i]);
      }
      String csv = String.join(",", endpoints);
      String leader = awaitLeader(csv);
      assertTrue(leader.matches("hasp-[012]"), "the pod name is the node id: " + leader);
      System.out.println("deploy: statefulset pods hasp-0..2 elected " + leader);
      String members = haspMust(List.of("member", "list", "--endpoints", csv));
      for (int i = 0; i < 3; i++) {
        String host = "hasp-" + i + "." + DOMAIN;
        assertTrue(members.matches("(?s).*hasp-" + i + "\\s+(LEADER|VOTER)\\s+" + Pattern.quote(host + ":7100") + "\\s+"
            + Pattern.quote(host + ":7000") + ".*"), "peers from the headless Service's names:\n" + members);
      }
      for (String name : names) { // what a kubelet's readiness and liveness probes ask, at the pod's address
        String ip = dockerMust("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).strip();
        HttpResponse<String> ready = get("http://" + ip + ":7200/ready");
        assertEquals(200, ready.statusCode(), name + ": " + ready.body());
        assertEquals(200, get("http://" + ip + ":7200/health").statusCode(), name);
      }
      assertLockRunsTheCommand(csv);

      // kubectl scale --replicas=4: hasp-3 starts as a listener of its own configuration and waits for member add
      names.add(startPod(run, net, image, props, 3, ports[3]));
      awaitLog(names.get(3), "READY");
      String host3 = "hasp-3." + DOMAIN;
      haspMust(List.of("member", "add", "hasp-3=" + host3 + ":7100/" + host3 + ":7000", "--endpoints", csv));
      String after = haspMust(List.of("member", "list", "--endpoints", csv + ",127.0.0.1:" + ports[3]));
      assertTrue(after.matches("(?s).*hasp-3\\s+(LEADER|VOTER)\\s+.*"), "hasp-3 did not become a voter:\n" + after);
      System.out.println("deploy: hasp-3 joined as a voter:\n" + after.strip());
      assertLockRunsTheCommand("127.0.0.1:" + ports[3]);
    } finally {
      for (String name : names) {
        Cmd.run(List.of("docker", "rm", "-f", "-v", name), docker, 120);
      }
      Cmd.run(List.of("docker", "network", "rm", net), docker, 120);
    }
    assertEquals("", dockerMust("ps", "-aq", "--filter", "label=hasp.chaos=" + run).strip(), "pods left");
    assertEquals("", dockerMust("network", "ls", "-q", "--filter", "label=hasp.chaos=" + run).strip(), "network left");
  }

  /**
   * One pod as the StatefulSet in deploy/k8s makes it: host name hasp-N in the headless Service's domain (Docker
   * writes /etc/hosts as the kubelet does), the other pods' DNS names resolvable (network aliases), the env the
   * manifest sets through the downward API, the ConfigMap's file at /etc/hasp/hasp.properties, a read-only root
   * with a writable /tmp (emptyDir), and /data a volume.
   */
  private String startPod(String run, String net, String image, Path props, int ordinal, int apiPort) {
    String name = "hasp-" + run + "-" + ordinal;
    String pod = "hasp-" + ordinal;
    dockerMust("run", "-d", "--name", name, "--label", "hasp.chaos=" + run, "--hostname", pod, "--domainname", DOMAIN,
        "--network", net, "--network-alias", pod + "." + DOMAIN,
        "-e", "HASP_STATEFULSET_POD=" + pod, "-e", "HASP_STATEFULSET_NAMESPACE=default",
        "-v", props + ":/etc/hasp/hasp.properties:ro", "--read-only", "--tmpfs", "/tmp:rw,exec,mode=1777",
        "-p", "127.0.0.1:" + apiPort + ":7000", image);
    return name;
  }

  /** The hasp.properties block of the ConfigMap (a YAML literal block: the lines indented under its key). */
  static String configMapProperties(Path configMap) throws IOException {
    List<String> lines = Files.readAllLines(configMap);
    StringBuilder out = new StringBuilder();
    int indent = -1;
    boolean in = false;
    for (String line : lines) {
      if (!in) {
        in = line.strip().equals("hasp.properties: |");
        continue;
      }
      if (line.isBlank()) {
        out.append('\n');
        continue;
      }
      int lead = line.length() - line.stripLeading().length();
      if (indent < 0) {
        indent = lead;
      }
      if (lead < indent) {
        break;
      }
      out.append(line.substring(indent)).append('\n');
    }
    assertTrue(out.indexOf("statefulset.name=") >= 0, "no hasp.properties with statefulset.name in " + configMap);
    return out.toString();
  }

  private void awaitHealthy(List<String> ids) {
    long deadline = System.nanoTime() + HEALTHY_WITHIN.toNanos();
    String states = "";
    while (System.nanoTime() < deadline) {
      states = dockerMust(concat(List.of("inspect", "--format", "{{.Name}} {{.State.Status}} {{.State.Health.Status}}"),
          ids.toArray(String[]::new))).strip();
      if (states.lines().allMatch(l -> l.endsWith(" running healthy"))) {
        return;
      }
      if (states.contains(" exited ")) {
        break;
      }
      sleep(500);
    }
    StringBuilder why = new StringBuilder("not all healthy within " + HEALTHY_WITHIN + ":\n" + states);
    for (String id : ids) {
      why.append("\n--- ").append(id).append(" health: ").append(Cmd.run(List.of("docker", "inspect", "--format",
          "{{json .State.Health}}", id), docker, 30).text());
      why.append("\n--- log:\n").append(tail(Cmd.run(List.of("docker", "logs", id), docker, 30).text(), 30));
    }
    fail(why.toString());
  }

  private void awaitLog(String container, String word) {
    long deadline = System.nanoTime() + HEALTHY_WITHIN.toNanos();
    String log = "";
    while (System.nanoTime() < deadline) {
      log = Cmd.run(List.of("docker", "logs", container), docker, 30).text();
      if (log.contains(word)) {
        return;
      }
      if (dockerMust("inspect", "--format", "{{.State.Status}}", container).strip().equals("exited")) {
        break;
      }
      sleep(300);
    }
    fail(container + " did not log " + word + ":\n" + tail(log, 40));
  }

  private static final Pattern LEADER = Pattern.compile("^\\{\"leader\":\"([^\"]+)\"");

  /** Asks {@code ./hasp status --json} until a leader is named; returns its id. */
  private String awaitLeader(String endpoints) {
    long deadline = System.nanoTime() + LEADER_WITHIN.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      Cmd.Out s = hasp(List.of("status", "--json", "--endpoints", endpoints), 60);
      last = s.text();
      Matcher m = LEADER.matcher(last.strip());
      if (s.ok() && m.find()) {
        return m.group(1);
      }
      sleep(500);
    }
    return fail("no leader within " + LEADER_WITHIN + ": " + last);
  }

  /** The launcher with its own HASP_HOME (so it finds no local cluster of this checkout). */
  private Cmd.Out hasp(List<String> args, long timeoutSeconds) {
    Map<String, String> env = new HashMap<>(docker);
    env.put("HASP_HOME", scratch.resolve("home").toString());
    List<String> cmd = new ArrayList<>(List.of("bash", repo.resolve("hasp").toString()));
    cmd.addAll(args);
    return Cmd.run(cmd, env, timeoutSeconds);
  }

  private String haspMust(List<String> args) {
    Cmd.Out out = hasp(args, 180);
    assertEquals(0, out.code(), () -> "./hasp " + String.join(" ", args) + ": " + out.text());
    return out.text();
  }

  private String dockerMust(String... args) {
    return dockerMust(List.of(args));
  }

  private String dockerMust(List<String> args) {
    return must(concat(List.of("docker"), args.toArray(String[]::new)), docker, 300);
  }

  private static String must(List<String> cmd, Map<String, String> env, long timeoutSeconds) {
    Cmd.Out out = Cmd.run(cmd, env, timeoutSeconds);
    assertEquals(0, out.code(), () -> String.join(" ", cmd) + ": " + out.text());
    return out.text();
  }

  private HttpResponse<String> get(String url) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static List<String> concat(List<String> head, String... tail) {
    List<String> all = new ArrayList<>(head);
    all.addAll(List.of(tail));
    return all;
  }

  private static String tail(String text, int lines) {
    String[] all = text.split("\n");
    return String.join("\n", Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }


  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
