package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A Docker engine for the container backend. Uses a reachable engine when there is one; otherwise installs
 * Debian's docker.io (and iptables, faketime) when missing and starts a private {@code dockerd} with its data,
 * exec root and socket under a scratch directory, no iptables/masquerading of its own, and ties it to this
 * process ({@code setpriv --pdeathsig TERM}). {@link #stop} ends it and removes what it left (docker0, its
 * mounts, the scratch directory).
 */
public final class DockerEngine {
  private final Path dir;
  private final Process dockerd;
  private final Map<String, String> env;

  private DockerEngine(Path dir, Process dockerd, Map<String, String> env) {
    this.dir = dir;
    this.dockerd = dockerd;
    this.env = env;
  }

  /** The environment a Testcontainers JVM and the docker CLI need to reach this engine. */
  public Map<String, String> env() {
    return env;
  }

  public static DockerEngine start(Path dir) throws IOException, InterruptedException {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("TESTCONTAINERS_RYUK_DISABLED", "true");
    env.put("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1");
    // Its start-up checks run a helper image, which no registry can serve here.
    env.put("TESTCONTAINERS_CHECKS_DISABLE", "true");
    if (System.getenv("DOCKER_HOST") != null && Cmd.run(List.of("docker", "info"), null, 20).ok()) {
      env.put("DOCKER_HOST", System.getenv("DOCKER_HOST"));
      return new DockerEngine(dir, null, env);
    }
    if (!Cmd.onPath("dockerd") || !Cmd.onPath("iptables") || !Cmd.onPath("nsenter")) {
      install();
    }
    Files.createDirectories(dir);
    Path sock = dir.resolve("docker.sock");
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "TERM", "--", "dockerd",
        "--host", "unix://" + sock, "--data-root", dir.resolve("dr").toString(), "--exec-root",
        dir.resolve("er").toString(), "--pidfile", dir.resolve("dockerd.pid").toString(), "--iptables=false",
        "--ip-masq=false", "--ip-forward=false", "--ip=127.0.0.1"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("dockerd.log").toFile()).start();
    env.put("DOCKER_HOST", "unix://" + sock);
    DockerEngine engine = new DockerEngine(dir, p, env);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Cmd.run(List.of("docker", "info"), env, 10).ok()) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        String log = Files.exists(dir.resolve("dockerd.log")) ? Files.readString(dir.resolve("dockerd.log")) : "";
        engine.stop();
        throw new IllegalStateException("dockerd did not come up: " + log.substring(Math.max(0, log.length() - 2000)));
      }
      Thread.sleep(100);
    }
    return engine;
  }

  private static void install() {
    if (!"root".equals(System.getProperty("user.name")) || !Cmd.onPath("apt-get")) {
      throw new IllegalStateException("the container backend needs dockerd, iptables and nsenter; install the Debian "
          + "packages docker.io iptables faketime (as root), or use --backend local");
    }
    System.out.println("chaos: installing docker.io iptables faketime (apt-get) ...");
    Cmd.Out out = Cmd.run(List.of("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=900", "docker.io",
        "iptables", "faketime"), Map.of("DEBIAN_FRONTEND", "noninteractive"), 900);
    if (!out.ok()) {
      throw new IllegalStateException("apt-get install docker.io iptables faketime failed: " + out.text());
    }
  }

  /** Stops a private engine and removes what it left; an external engine is left alone. */
  public void stop() {
    if (dockerd == null) {
      return;
    }
    dockerd.destroy();
    try {
      if (!dockerd.waitFor(30, TimeUnit.SECONDS)) {
        dockerd.destroyForcibly();
        dockerd.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Cmd.run("ip", "link", "del", "docker0");
    removeDir();
  }

  /**
   * Unmounts and deletes the engine's directory, and again while it is still there (bounded): the engine's
   * helpers (containerd, its shims) may still be writing in it for a moment after dockerd exited, and one
   * interrupted container run's cleanup left it behind once (the next run's sweep removed it).
   */
  private void removeDir() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      unmountUnder(dir);
      LocalBackend.deleteTree(dir);
      if (!Files.exists(dir)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        System.err.println("chaos: " + dir + " is still there 20 s after the engine stopped; the next run sweeps it");
        return;
      }
      LocalBackend.sleep(250);
    }
  }

  /** Lazily unmounts whatever is still mounted under dir (overlay layers, netns files), deepest first. */
  static void unmountUnder(Path dir) {
    try {
      List<String> points = new ArrayList<>();
      for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
        String[] f = line.split(" ");
        if (f.length > 1 && f[1].startsWith(dir.toString())) {
          points.add(f[1]);
        }
      }
      points.sort((a, b) -> b.length() - a.length());
      for (String m : points) {
        Cmd.run("umount", "-l", m);
      }
    } catch (IOException e) {
      // nothing mounted
    }
  }
}
