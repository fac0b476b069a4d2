package io.hasp.tests;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real Hasp cluster for tests: every node is its own JVM process ({@code HaspCli node}) on 127.0.0.1 with
 * free ports, its own data directory under {@code dir}, and its log in {@code dir/nK.log}. {@link #kill} is a
 * real SIGKILL. Only the processes this fixture started are ever signalled.
 */
public final class ProcessCluster implements AutoCloseable {
  private final Path dir;
  private final List<String> ids = new ArrayList<>();
  private final List<String> apiAddresses = new ArrayList<>();
  private final List<String> raftAddresses = new ArrayList<>();
  private final List<String> httpAddresses = new ArrayList<>();
  private final List<Path> configs = new ArrayList<>();
  private final Process[] processes;
  private final ManagedChannel[] channels;

  private ProcessCluster(Path dir, int n) {
    this.dir = dir;
    this.processes = new Process[n];
    this.channels = new ManagedChannel[n];
  }

  /** Starts n nodes and waits until they serve and a leader is elected. */
  public static ProcessCluster start(int n, Path dir) throws IOException {
    return start(n, dir, Map.of());
  }

  /** As {@link #start(int, Path)}, with extra node config keys (e.g. snapshot.threshold.entries). */
  public static ProcessCluster start(int n, Path dir, Map<String, String> extraConfig) throws IOException {
    return start(n, dir, i -> extraConfig);
  }

  /** As {@link #start(int, Path)}, with extra config keys per node (index 0..n-1), e.g. each node's own ports. */
  public static ProcessCluster start(int n, Path dir, java.util.function.IntFunction<Map<String, String>> extraConfig)
      throws IOException {
    ProcessCluster c = new ProcessCluster(dir, n);
    Runtime.getRuntime().addShutdownHook(new Thread(c::close, "process-cluster-cleanup"));
    int[] ports = FreePorts.loopback(3 * n);
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < n; i++) {
      String id = "n" + (i + 1);
      c.ids.add(id);
      c.apiAddresses.add("127.0.0.1:" + ports[2 * i]);
      c.raftAddresses.add("127.0.0.1:" + ports[2 * i + 1]);
      // a free port of its own: the default (API port + 200) may belong to another process
      c.httpAddresses.add("127.0.0.1:" + ports[2 * n + i]);
      if (i > 0) {
        peers.append(',');
      }
      peers.append(id).append("=127.0.0.1:").append(ports[2 * i + 1]).append("/127.0.0.1:").append(ports[2 * i]);
    }
    for (int i = 0; i < n; i++) {
      Map<String, String> cfg = new LinkedHashMap<>();
      cfg.put("node.id", c.ids.get(i));
      cfg.put("peers", peers.toString());
      cfg.put("data.dir", dir.resolve(c.ids.get(i)).toString());
      cfg.put("http.address", c.httpAddresses.get(i));
      cfg.putAll(extraConfig.apply(i));
      Path file = dir.resolve(c.ids.get(i) + ".properties");
      Files.writeString(file, cfg.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().replace("\\", "\\\\"))
          .collect(Collectors.joining("\n")) + "\n");
      c.configs.add(file);
    }
    try {
      for (int i = 0; i < n; i++) {
        c.launch(i);
      }
      for (int i = 0; i < n; i++) {
        c.awaitReady(i, Duration.ofSeconds(60));
      }
      c.leaderIndex(Duration.ofSeconds(30));
    } catch (RuntimeException | IOException e) {
      c.close();
      throw e;
    }
    return c;
  }


  /** The command line that starts node i (the same one ./hasp uses, with this JVM's classpath). */
  private List<String> command(int i) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-Xmx256m");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.hasp.server.cli.NodeCommand");
    cmd.add("--config");
    cmd.add(configs.get(i).toString());
    return cmd;
  }

  private void launch(int i) throws IOException {
    Path log = logFile(i);
    Files.writeString(log, "---- start " + java.time.Instant.now() + "\n", StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    ProcessBuilder pb = new ProcessBuilder(command(i)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    processes[i] = pb.start();
  }

  private void awaitReady(int i, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String marker = "Hasp node " + ids.get(i) + " READY";
    while (System.nanoTime() < deadline) {
      String text = Files.readString(logFile(i), StandardCharsets.UTF_8);
      int lastStart = text.lastIndexOf("---- start ");
      if (text.indexOf(marker, Math.max(0, lastStart)) >= 0) {
        return;
      }
      if (!processes[i].isAlive()) {
        throw new IllegalStateException("node " + ids.get(i) + " exited with " + processes[i].exitValue() + ":\n" + tail(i));
      }
      sleep(50);
    }
    throw new IllegalStateException("node " + ids.get(i) + " not READY after " + timeout + ":\n" + tail(i));
  }

  public Path logFile(int i) {
    return dir.resolve(ids.get(i) + ".log");
  }

  /** The last lines of node i's log, for failure messages. */
  public String tail(int i) {
    try {
      List<String> lines = Files.readAllLines(logFile(i), StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  public int size() {
    return processes.length;
  }

  public String id(int i) {
    return ids.get(i);
  }

  public String endpoint(int i) {
    return apiAddresses.get(i);
  }

  /** Node i's HTTP address (/metrics, /health, /ready), unless the extra config set another. */
  public String httpAddress(int i) {
    return httpAddresses.get(i);
  }

  /** Node i's Raft (peer) address. */
  public String raftAddress(int i) {
    return raftAddresses.get(i);
  }

  /** SIGSTOP: the node freezes with its connections open (a long GC pause, a stalled VM). */
  public void pause(int i) {
    signal(i, "STOP");
  }

  /** SIGCONT after {@link #pause}. */
  public void resume(int i) {
    signal(i, "CONT");
  }

  private void signal(int i, String sig) {
    Process p = processes[i];
    if (p == null || !p.isAlive()) {
      throw new IllegalStateException("node " + ids.get(i) + " is not running");
    }
    try {
      Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).inheritIO().start();
      if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
        throw new IllegalStateException("kill -" + sig + " " + p.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  public List<String> endpoints() {
    return List.copyOf(apiAddresses);
  }

  public String endpointsCsv() {
    return String.join(",", apiAddresses);
  }

  public Path dataDir(int i) {
    return dir.resolve(ids.get(i));
  }

  public boolean isRunning(int i) {
    return processes[i] != null && processes[i].isAlive();
  }

  /** The exit code of a node that has exited. */
  public int exitValue(int i) {
    return processes[i].exitValue();
  }

  public long pid(int i) {
    return processes[i].pid();
  }

  public synchronized ManagedChannel channel(int i) {
    if (channels[i] == null) {
      channels[i] = NettyChannelBuilder.forTarget(apiAddresses.get(i)).usePlaintext().build();
    }
    return channels[i];
  }

  public HaspGrpc.HaspBlockingStub stub(int i) {
    return HaspGrpc.newBlockingStub(channel(i)).withDeadlineAfter(15, TimeUnit.SECONDS);
  }

  public HaspGrpc.HaspFutureStub futureStub(int i) {
    return HaspGrpc.newFutureStub(channel(i));
  }

  /** Node i's own view, or null when it does not answer within a second. */
  public ClusterStatusResponse status(int i) {
    if (!isRunning(i)) {
      return null;
    }
    try {
      return HaspGrpc.newBlockingStub(channel(i)).withDeadlineAfter(1, TimeUnit.SECONDS)
          .clusterStatus(ClusterStatusRequest.getDefaultInstance());
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Waits until a running node reports itself LEADER and every running node agrees; returns its index. */
  public int leaderIndex(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      int leader = -1;
      boolean agreed = true;
      for (int i = 0; i < size(); i++) {
        ClusterStatusResponse s = status(i);
        if (s == null) {
          continue;
        }
        if (s.getRole().equals("LEADER")) {
          leader = i;
        }
      }
      if (leader >= 0) {
        for (int i = 0; i < size(); i++) {
          ClusterStatusResponse s = status(i);
          if (s != null && !s.getLeaderId().equals(ids.get(leader))) {
            agreed = false;
          }
        }
        if (agreed) {
          return leader;
        }
      }
      sleep(50);
    }
    throw new IllegalStateException("no leader within " + timeout);
  }

  /** Some running node that is not the leader. */
  public int followerIndex() {
    int leader = leaderIndex(Duration.ofSeconds(30));
    for (int i = 0; i < size(); i++) {
      if (i != leader && isRunning(i)) {
        return i;
      }
    }
    throw new IllegalStateException("no running follower");
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  public void kill(int i) {
    Process p = processes[i];
    if (p != null && p.isAlive()) {
      p.destroyForcibly();
      waitFor(p);
    }
    dropChannel(i);
  }

  /** SIGTERM: the node closes cleanly. */
  public void stop(int i) {
    Process p = processes[i];
    if (p != null && p.isAlive()) {
      p.destroy();
      if (!waitFor(p)) {
        p.destroyForcibly();
        waitFor(p);
      }
    }
    dropChannel(i);
  }

  /** Starts node i again with its config and data; waits until it serves. */
  public void restart(int i) throws IOException {
    if (isRunning(i)) {
      throw new IllegalStateException("node " + ids.get(i) + " is running");
    }
    launch(i);
    awaitReady(i, Duration.ofSeconds(60));
  }

  /** Deletes node i's data directory (the node must be stopped). */
  public void wipe(int i) throws IOException {
    if (isRunning(i)) {
      throw new IllegalStateException("node " + ids.get(i) + " is running");
    }
    Path d = dataDir(i);
    if (Files.exists(d)) {
      try (Stream<Path> walk = Files.walk(d)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> {
          try {
            Files.delete(p);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
      }
    }
  }

  private synchronized void dropChannel(int i) {
    if (channels[i] != null) {
      channels[i].shutdownNow();
      channels[i] = null;
    }
  }

  private static boolean waitFor(Process p) {
    try {
      return p.waitFor(15, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public void close() {
    for (int i = 0; i < processes.length; i++) {
      kill(i);
    }
  }
}
