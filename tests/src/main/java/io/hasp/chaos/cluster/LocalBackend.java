package io.hasp.chaos.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Nodes as local JVM processes on 127.0.0.11, .12, … Each node runs in its own cgroup (v2); a partition is a
 * set of iptables rules in the chain {@code HASP-<run>} (jumped to from OUTPUT) that drop packets a node's
 * processes send to a cut peer's address, matched by cgroup (source-address rules would miss Java's unbound
 * client sockets, which send from 127.0.0.1). Clock offsets go through libfaketime with monotonic time left
 * real. Needs root.
 *
 * <p>Processes are started from one long-lived thread with {@code setpriv --pdeathsig KILL}: if the harness
 * dies, its nodes die with it. Chains and cgroups a killed harness left behind are swept by the next run.
 */
public final class LocalBackend implements Backend {
  private final String run;
  private final Path dir;
  private final int size;
  private final Map<String, String> nodeEnv;
  private final String chain;
  private final Path cgroupRoot;
  private final Path cgroup;
  private final List<Integer> apiPorts = new ArrayList<>();
  /** Each node's /metrics port, chosen free like the others (the derived API port + 200 might be taken). */
  private final List<Integer> httpPorts = new ArrayList<>();
  private final List<Integer> raftPorts = new ArrayList<>();
  private final Process[] processes;
  private final boolean[] paused;
  /** All process starts happen here, so pdeathsig ties nodes to the life of this (long-lived) thread. */
  private final ExecutorService launcher = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "chaos-launcher");
    t.setDaemon(true);
    return t;
  });
  private boolean chainHooked;
  private volatile boolean closed;

  /**
   * @param run a short run id (letters and digits; part of chain and cgroup names)
   * @param dir scratch directory for data, logs and clock files (deleted by close)
   * @param nodeEnv extra environment for every node (e.g. HASP_UNSAFE_LOCAL_GRANTS=true)
   */
  public LocalBackend(String run, Path dir, int size, Map<String, String> nodeEnv) throws IOException {
    this.run = run;
    this.dir = dir;
    this.size = size;
    this.nodeEnv = nodeEnv;
    this.chain = "HASP-" + run;
    this.cgroupRoot = cgroupRoot();
    this.cgroup = cgroupRoot.resolve("hasp-" + run);
    this.processes = new Process[size];
    this.paused = new boolean[size];
    if (!"root".equals(System.getProperty("user.name"))) {
      throw new IllegalStateException("the local backend needs root (iptables and cgroups)");
    }
    if (!Cmd.onPath("iptables")) {
      throw new IllegalStateException("iptables is not installed (apt-get install -y iptables)");
    }
    if (!Cmd.onPath("setpriv")) {
      throw new IllegalStateException("setpriv (util-linux) is not installed");
    }
    sweep(cgroupRoot);
    Files.createDirectories(dir.resolve("clock"));
    for (int i = 0; i < size; i++) {
      int[] ports = freePorts(InetAddress.getByName(host(i)), 3);
      apiPorts.add(ports[0]);
      raftPorts.add(ports[1]);
      httpPorts.add(ports[2]);
      Files.createDirectories(dir.resolve(Backend.nodeName(i)).resolve("data"));
      Faketime.write(clockFile(i), 0);
      Files.createDirectories(cgroup.resolve(Backend.nodeName(i)));
    }
    Cmd.must("iptables", "-w", "-N", chain);
    Cmd.must("iptables", "-w", "-I", "OUTPUT", "-j", chain);
    chainHooked = true;
  }

  /** The cgroup v2 mount: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on unified ones. */
  public static Path cgroupRoot() {
    Path hybrid = Path.of("/sys/fs/cgroup/unified");
    if (Files.exists(hybrid.resolve("cgroup.procs"))) {
      return hybrid;
    }
    Path unified = Path.of("/sys/fs/cgroup");
    if (Files.exists(unified.resolve("cgroup.controllers"))) {
      return unified;
    }
    throw new IllegalStateException("no cgroup v2 hierarchy is mounted (looked at /sys/fs/cgroup/unified and /sys/fs/cgroup)");
  }

  /** Removes what a killed earlier run left: HASP-* chains and hasp-* cgroups (killing their processes). */
  public static void sweep(Path cgroupRoot) {
    String rules = Cmd.run("iptables", "-w", "-S").text();
    for (String line : rules.split("\n")) {
      if (line.startsWith("-N HASP-")) {
        String old = line.substring(3).trim();
        if (Scratch.live(old.substring("HASP-".length()))) {
          continue; // another run, alive
        }
        while (Cmd.run("iptables", "-w", "-D", "OUTPUT", "-j", old).ok()) {
          // a chain may be hooked more than once
        }
        Cmd.run("iptables", "-w", "-F", old);
        Cmd.run("iptables", "-w", "-X", old);
      }
    }
    try (var groups = Files.list(cgroupRoot)) {
      for (Path g : groups.filter(p -> p.getFileName().toString().startsWith("hasp-")
          && !Scratch.live(p.getFileName().toString().substring("hasp-".length()))).toList()) {
        removeCgroup(g);
      }
    } catch (IOException e) {
      // nothing to sweep
    }
  }

  private static void removeCgroup(Path g) {
    try (var nodes = Files.list(g)) {
      for (Path n : nodes.filter(Files::isDirectory).toList()) {
        try {
          for (String pid : Files.readAllLines(n.resolve("cgroup.procs"))) {
            if (!pid.isBlank()) {
              ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
            }
          }
        } catch (IOException | NumberFormatException e) {
          // already gone
        }
        for (int attempt = 0; attempt < 50 && Files.exists(n); attempt++) {
          try {
            Files.delete(n);
          } catch (IOException e) {
            sleep(100);
          }
        }
      }
      Files.deleteIfExists(g);
    } catch (IOException e) {
      System.err.println("chaos: could not remove cgroup " + g + ": " + e.getMessage());
    }
  }

  static String host(int node) {
    return "127.0.0." + (11 + node);
  }

  /**
   * {@code count} free ports on {@code host}, all held open while they are chosen so that they differ: probing
   * one at a time can hand back the port just closed (a node then refused to start, "http.address ... is also
   * this node's raft address", and the run ended with rc 2 before any fault). The test clusters' ports too.
   * They are below the kernel's ephemeral range: a port the kernel hands out (binding port 0) may be taken,
   * between a node's stop and its restart, as the local port of any outgoing connection (nodes dial their peers
   * as soon as they start), and the restarted node then cannot listen. Nor is a port handed out twice in one JVM
   * (until {@link #HANDED_OUT_MAX} were): a caller that takes two sets in two calls (a cluster's ports, then its
   * LDLM ports) would otherwise get a port of the first set again while nothing listens on it yet ("ldlm.rest.address
   * ... is also this node's raft address", a CI failure).
   */
  public static int[] freePorts(InetAddress host, int count) throws IOException {
    int[] ports = new int[count];
    List<ServerSocket> open = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        ServerSocket s = null;
        for (int attempt = 0; attempt < 200 && s == null; attempt++) {
          int candidate = randomPortBelowEphemeral(0);
          s = handOut(candidate) ? tryListen(host, candidate) : null;
        }
        if (s == null) {
          s = new ServerSocket(0, 1, host); // a crowded range: any free port (remembered too)
          handOut(s.getLocalPort());
        }
        open.add(s);
        ports[i] = s.getLocalPort();
      }
    } finally {
      for (ServerSocket s : open) {
        s.close();
      }
    }
    return ports;
  }

  /** Ports {@link #freePorts} handed out in this JVM; forgotten all at once when there are this many. */
  static final int HANDED_OUT_MAX = 8_000;
  private static final java.util.Set<Integer> HANDED_OUT = new java.util.HashSet<>();

  /** True (and remembered) when {@code port} was not handed out before. */
  private static synchronized boolean handOut(int port) {
    if (HANDED_OUT.size() >= HANDED_OUT_MAX) {
      HANDED_OUT.clear();
    }
    return HANDED_OUT.add(port);
  }

  private static ServerSocket tryListen(InetAddress host, int port) {
    try {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(false);
      try {
        s.bind(new java.net.InetSocketAddress(host, port), 1);
        return s;
      } catch (IOException taken) {
        s.close();
        return null;
      }
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * A random port p in [10000, first ephemeral port - span - 1], so that p..p+span are all below the kernel's
   * ephemeral range (net.ipv4.ip_local_port_range; 32768 when it cannot be read).
   */
  public static int randomPortBelowEphemeral(int span) {
    int from = 10_000;
    int to = Math.max(from + 1_000, FIRST_EPHEMERAL_PORT - span - 1);
    return from + java.util.concurrent.ThreadLocalRandom.current().nextInt(to - from);
  }

  private static final int FIRST_EPHEMERAL_PORT = firstEphemeralPort();

  private static int firstEphemeralPort() {
    try {
      String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
      return Integer.parseInt(range.split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32_768; // not Linux, or unreadable: the usual default
    }
  }

  private Path clockFile(int node) {
    return dir.resolve("clock").resolve(Backend.nodeName(node));
  }

  private Path logFile(int node) {
    return dir.resolve(Backend.nodeName(node) + ".log");
  }

  @Override
  public String name() {
    return "local";
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public List<String> endpoints() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      out.add(host(i) + ":" + apiPorts.get(i));
    }
    return out;
  }

  private String peers() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(Backend.nodeName(i)).append('=').append(host(i)).append(':').append(raftPorts.get(i)).append('/')
          .append(host(i)).append(':').append(apiPorts.get(i));
    }
    return b.toString();
  }

  @Override
  public void startAll() throws Exception {
    for (int i = 0; i < size; i++) {
      launch(i);
    }
    for (int i = 0; i < size; i++) {
      awaitReady(i);
    }
  }

  private final boolean[] joining = new boolean[16];

  @Override
  public String rejoinUnsupportedReason() {
    return null;
  }

  @Override
  public void startEmptyJoining(int node) throws Exception {
    kill(node);
    Path data = dir.resolve(Backend.nodeName(node)).resolve("data");
    if (Files.exists(data)) {
      try (java.util.stream.Stream<Path> all = Files.walk(data)) {
        for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
    joining[node] = true; // only read while its log is empty: later restarts of it are plain restarts
    launch(node);
    awaitReady(node);
  }

  private void launch(int i) throws Exception {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", "--", "sh", "-c",
        "echo $$ > \"$HASP_CGROUP/cgroup.procs\" && exec \"$@\"", "hasp-node"));
    cmd.addAll(List.of(javaBin, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"), "io.hasp.server.cli.NodeCommand",
        "--id", Backend.nodeName(i), "--peers", peers(),
        "--data-dir", dir.resolve(Backend.nodeName(i)).resolve("data").toString(),
        "--api-address", host(i) + ":" + apiPorts.get(i), "--raft-address", host(i) + ":" + raftPorts.get(i),
        "--http-address", host(i) + ":" + httpPorts.get(i)));
    Path log = logFile(i);
    Files.writeString(log, "---- start " + java.time.Instant.now() + "\n", StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = pb.environment();
    env.putAll(nodeEnv);
    env.put("HASP_CGROUP", cgroup.resolve(Backend.nodeName(i)).toString());
    env.put("HASP_JOIN", Boolean.toString(joining[i]));
    if (clockUnsupportedReason() == null) {
      env.putAll(Faketime.env(clockFile(i).toString()));
    }
    processes[i] = launcher.submit(pb::start).get(30, TimeUnit.SECONDS);
    paused[i] = false;
  }

  private void awaitReady(int i) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      String text = Files.readString(logFile(i), StandardCharsets.UTF_8);
      int start = text.lastIndexOf("---- start ");
      if (text.indexOf("READY", Math.max(0, start)) >= 0) {
        return;
      }
      if (!processes[i].isAlive()) {
        throw new IllegalStateException(Backend.nodeName(i) + " exited with " + processes[i].exitValue() + ":\n"
            + logTail(i, 30));
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException(Backend.nodeName(i) + " not READY within 60 s:\n" + logTail(i, 30));
  }

  @Override
  public void kill(int node) throws Exception {
    Process p = processes[node];
    if (p != null && p.isAlive()) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    paused[node] = false;
  }

  @Override
  public void start(int node) throws Exception {
    startTogether(List.of(node));
  }

  @Override
  public void startTogether(List<Integer> nodes) throws Exception {
    List<Integer> launched = new ArrayList<>();
    for (int node : nodes) {
      if (!isRunning(node)) {
        launch(node);
        launched.add(node);
      }
    }
    for (int node : launched) {
      awaitReady(node);
    }
  }

  @Override
  public boolean awaitExit(int node, long timeoutMs) throws InterruptedException {
    Process p = processes[node];
    return p == null || p.waitFor(timeoutMs, TimeUnit.MILLISECONDS);
  }

  @Override
  public boolean isRunning(int node) {
    return processes[node] != null && processes[node].isAlive();
  }

  @Override
  public void pause(int node) {
    if (isRunning(node)) {
      Cmd.must("kill", "-STOP", Long.toString(processes[node].pid()));
      paused[node] = true;
    }
  }

  @Override
  public void resume(int node) {
    if (isRunning(node) && paused[node]) {
      Cmd.must("kill", "-CONT", Long.toString(processes[node].pid()));
    }
    paused[node] = false;
  }

  @Override
  public synchronized void cut(Set<Pair> pairs) {
    Cmd.must("iptables", "-w", "-F", chain);
    for (Pair p : pairs) {
      drop(p.a(), p.b());
      drop(p.b(), p.a());
    }
  }

  private void drop(int from, int to) {
    Cmd.must("iptables", "-w", "-A", chain, "-m", "cgroup", "--path",
        cgroupRoot.relativize(cgroup.resolve(Backend.nodeName(from))).toString(), "-d", host(to), "-j", "DROP");
  }

  @Override
  public String clockUnsupportedReason() {
    return Files.exists(Path.of(Faketime.LIB)) ? null
        : "libfaketime is not installed (" + Faketime.LIB + " missing; apt-get install -y faketime)";
  }

  @Override
  public void clockOffset(int node, long offsetMs) throws IOException {
    Faketime.write(clockFile(node), offsetMs);
  }

  @Override
  public String logTail(int node, int lines) {
    try {
      List<String> all = Files.readAllLines(logFile(node), StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** Copies node logs into the report directory before close deletes the scratch directory. */
  public void copyLogs(Path target) throws IOException {
    Files.createDirectories(target);
    for (int i = 0; i < size; i++) {
      if (Files.exists(logFile(i))) {
        Files.copy(logFile(i), target.resolve(Backend.nodeName(i) + ".log"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (int i = 0; i < size; i++) {
      Process p = processes[i];
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
        try {
          p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    launcher.shutdownNow();
    if (chainHooked) {
      Cmd.run("iptables", "-w", "-D", "OUTPUT", "-j", chain);
    }
    Cmd.run("iptables", "-w", "-F", chain);
    Cmd.run("iptables", "-w", "-X", chain);
    removeCgroup(cgroup);
    deleteTree(dir);
  }

  /**
   * Deletes a directory tree as far as it can: entries that vanish meanwhile (another cleanup, a helper of the
   * engine) are skipped, and one entry that cannot be deleted does not stop the rest.
   */
  public static void deleteTree(Path root) {
    if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
        @Override
        public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes a) {
          delete(file);
          return java.nio.file.FileVisitResult.CONTINUE;
        }

        @Override
        public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) {
          delete(file);
          return java.nio.file.FileVisitResult.CONTINUE;
        }

        @Override
        public java.nio.file.FileVisitResult postVisitDirectory(Path d, IOException e) {
          delete(d);
          return java.nio.file.FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException | RuntimeException e) {
      System.err.println("chaos: could not delete " + root + ": " + e);
    }
  }

  private static void delete(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // left for the caller's check (or the next run's sweep)
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
