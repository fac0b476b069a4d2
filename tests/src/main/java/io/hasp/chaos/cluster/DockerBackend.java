package io.hasp.chaos.cluster;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.lifecycle.Startables;
import org.testcontainers.utility.DockerImageName;

/**
 * Nodes as containers (Testcontainers) on a private Docker network with fixed addresses 10.231.X.11, .12, …
 * A partition is iptables DROP in each node's network namespace (entered with nsenter from the host); kill is
 * SIGKILL of the container and start brings the same container (same data) back; pause is the cgroup freezer
 * (docker pause); clock offsets go through libfaketime in the image, its control file in a read-only bind
 * mount. Everything is labelled {@code hasp.chaos=<run>} and removed by {@link #close} or the next run's sweep.
 */
public final class DockerBackend implements Backend {
  static final int API_PORT = 7000;
  static final int RAFT_PORT = 7100;
  static final String LABEL = "hasp.chaos";

  private final String run;
  private final Path dir;
  private final int size;
  private final Map<String, String> nodeEnv;
  private final String image;
  private final boolean faketime;
  private final DockerClient docker;
  private final String subnetPrefix;
  private final List<GenericContainer<?>> containers = new ArrayList<>();
  private final boolean[] running;
  private Network network;
  private Set<Pair> cuts = new HashSet<>();
  private volatile boolean closed;

  public DockerBackend(String run, Path dir, int size, Map<String, String> nodeEnv, String image, boolean faketime)
      throws IOException {
    this.run = run;
    this.dir = dir;
    this.size = size;
    this.nodeEnv = nodeEnv;
    this.image = image;
    this.faketime = faketime;
    this.docker = DockerClientFactory.instance().client();
    this.running = new boolean[size];
    this.subnetPrefix = "10.231." + (1 + new Random().nextInt(250)) + ".";
    sweep(docker);
    Files.createDirectories(dir.resolve("clock"));
    for (int i = 0; i < size; i++) {
      Faketime.write(dir.resolve("clock").resolve(Backend.nodeName(i)), 0);
    }
  }

  /** Removes containers and networks any earlier run left (label hasp.chaos). */
  public static void sweep(DockerClient docker) {
    for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(List.of(LABEL)).exec()) {
      if (!Scratch.live(c.getLabels().get(LABEL))) {
        docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
      }
    }
    for (com.github.dockerjava.api.model.Network n : docker.listNetworksCmd().exec()) {
      if (n.getLabels() != null && n.getLabels().containsKey(LABEL) && !Scratch.live(n.getLabels().get(LABEL))) {
        docker.removeNetworkCmd(n.getId()).exec();
      }
    }
  }

  String ip(int node) {
    return subnetPrefix + (11 + node);
  }

  @Override
  public String name() {
    return "docker";
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public List<String> endpoints() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      out.add(ip(i) + ":" + API_PORT);
    }
    return out;
  }

  @Override
  public void startAll() {
    network = Network.builder().createNetworkCmdModifier(c -> c.withName("hasp-" + run)
        .withLabels(Map.of(LABEL, run))
        .withOptions(Map.of("com.docker.network.bridge.host_binding_ipv4", "127.0.0.1"))
        .withIpam(new com.github.dockerjava.api.model.Network.Ipam().withConfig(
            new com.github.dockerjava.api.model.Network.Ipam.Config().withSubnet(subnetPrefix + "0/24"))))
        .build();
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < size; i++) {
      peers.append(i == 0 ? "" : ",").append(Backend.nodeName(i)).append('=').append(ip(i)).append(':')
          .append(RAFT_PORT).append('/').append(ip(i)).append(':').append(API_PORT);
    }
    for (int i = 0; i < size; i++) {
      String name = Backend.nodeName(i);
      String ip = ip(i);
      GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse(image))
          .withNetwork(network)
          .withNetworkAliases(name)
          .withLabel(LABEL, run)
          .withEnv("HASP_NODE_ID", name)
          .withEnv("HASP_PEERS", peers.toString())
          .withEnv("HASP_DATA_DIR", "/data")
          .withEnv("HASP_API_ADDRESS", ip + ":" + API_PORT)
          .withEnv("HASP_RAFT_ADDRESS", ip + ":" + RAFT_PORT)
          // the product image sizes its heap from the machine; chaos nodes share it, as they always did
          .withEnv("JDK_JAVA_OPTIONS", "-Xmx256m")
          .withEnv(nodeEnv)
          .withFileSystemBind(dir.resolve("clock").toString(), "/clock", BindMode.READ_ONLY)
          .withCreateContainerCmdModifier(cmd -> cmd.withName("hasp-" + run + "-" + name).withIpv4Address(ip))
          .waitingFor(Wait.forLogMessage(".*READY.*\\n", 1).withStartupTimeout(Duration.ofSeconds(120)));
      if (faketime) {
        c.withEnv(Faketime.env("/clock/" + name));
      }
      containers.add(c);
    }
    Startables.deepStart(containers).join();
    for (int i = 0; i < size; i++) {
      running[i] = true;
    }
  }

  private String id(int node) {
    return containers.get(node).getContainerId();
  }

  @Override
  public void kill(int node) {
    if (running[node]) {
      docker.killContainerCmd(id(node)).withSignal("KILL").exec();
      running[node] = false;
    }
  }

  @Override
  public void start(int node) throws Exception {
    startTogether(List.of(node));
  }

  @Override
  public void startTogether(List<Integer> nodes) throws Exception {
    Map<Integer, Integer> readyBefore = new java.util.LinkedHashMap<>();
    for (int node : nodes) {
      if (!running[node]) {
        readyBefore.put(node, count(logs(node), "READY"));
        docker.startContainerCmd(id(node)).exec();
        running[node] = true;
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    for (Map.Entry<Integer, Integer> e : readyBefore.entrySet()) {
      int node = e.getKey();
      while (count(logs(node), "READY") <= e.getValue()) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(Backend.nodeName(node) + " not READY within 90 s after start:\n"
              + logTail(node, 30));
        }
        Thread.sleep(100);
      }
      applyCuts(node); // rules in a namespace die with it
    }
  }

  private static int count(String text, String word) {
    int n = 0;
    for (int i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + 1)) {
      n++;
    }
    return n;
  }

  @Override
  public boolean isRunning(int node) {
    return running[node];
  }

  @Override
  public String rejoinUnsupportedReason() {
    return "a removed node comes back only with an empty data directory and join=true, and a container keeps its "
        + "volume and environment (replacing the container is not built yet): membership runs on the local backend";
  }

  @Override
  public void startEmptyJoining(int node) {
    throw new UnsupportedOperationException(rejoinUnsupportedReason());
  }

  @Override
  public boolean awaitExit(int node, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      Boolean up = docker.inspectContainerCmd(id(node)).exec().getState().getRunning();
      if (up == null || !up) {
        running[node] = false;
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  @Override
  public void pause(int node) {
    if (running[node]) {
      docker.pauseContainerCmd(id(node)).exec();
    }
  }

  @Override
  public void resume(int node) {
    if (!running[node]) {
      return;
    }
    Boolean paused = docker.inspectContainerCmd(id(node)).exec().getState().getPaused();
    if (Boolean.TRUE.equals(paused)) {
      docker.unpauseContainerCmd(id(node)).exec();
    }
  }

  @Override
  public synchronized void cut(Set<Pair> pairs) {
    cuts = new HashSet<>(pairs);
    for (int i = 0; i < size; i++) {
      if (running[i]) {
        applyCuts(i);
      }
    }
  }

  private synchronized void applyCuts(int node) {
    Long pid = docker.inspectContainerCmd(id(node)).exec().getState().getPidLong();
    if (pid == null || pid == 0) {
      return;
    }
    String p = Long.toString(pid);
    Cmd.must("nsenter", "-t", p, "-n", "iptables", "-w", "-F", "INPUT");
    Cmd.must("nsenter", "-t", p, "-n", "iptables", "-w", "-F", "OUTPUT");
    for (Pair pair : cuts) {
      int peer = pair.a() == node ? pair.b() : pair.b() == node ? pair.a() : -1;
      if (peer >= 0) {
        Cmd.must("nsenter", "-t", p, "-n", "iptables", "-w", "-A", "INPUT", "-s", ip(peer), "-j", "DROP");
        Cmd.must("nsenter", "-t", p, "-n", "iptables", "-w", "-A", "OUTPUT", "-d", ip(peer), "-j", "DROP");
      }
    }
  }

  @Override
  public String clockUnsupportedReason() {
    return faketime ? null : "the node image has no libfaketime (the Debian package faketime was missing when it was built)";
  }

  @Override
  public void clockOffset(int node, long offsetMs) throws IOException {
    Faketime.write(dir.resolve("clock").resolve(Backend.nodeName(node)), offsetMs);
  }

  private String logs(int node) {
    StringBuilder b = new StringBuilder();
    try {
      docker.logContainerCmd(id(node)).withStdOut(true).withStdErr(true).exec(new ResultCallback.Adapter<Frame>() {
        @Override
        public void onNext(Frame f) {
          synchronized (b) {
            b.append(new String(f.getPayload(), StandardCharsets.UTF_8));
          }
        }
      }).awaitCompletion(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (b) {
      return b.toString();
    }
  }

  @Override
  public String logTail(int node, int lines) {
    String[] all = logs(node).split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }

  public void copyLogs(Path target) throws IOException {
    Files.createDirectories(target);
    for (int i = 0; i < containers.size(); i++) {
      if (containers.get(i).getContainerId() != null) {
        Files.writeString(target.resolve(Backend.nodeName(i) + ".log"), logs(i));
      }
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    Map<String, Exception> errors = new HashMap<>();
    for (GenericContainer<?> c : containers) {
      try {
        c.stop();
      } catch (Exception e) {
        errors.put(c.getContainerName(), e);
      }
    }
    if (network != null) {
      try {
        network.close();
      } catch (Exception e) {
        errors.put("network", e);
      }
    }
    try {
      for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(Map.of(LABEL, run)).exec()) {
        docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
      }
    } catch (Exception e) {
      errors.put("containers of run " + run, e);
    }
    LocalBackend.deleteTree(dir);
    errors.forEach((what, e) -> System.err.println("chaos: cleanup of " + what + ": " + e.getMessage()));
  }
}
