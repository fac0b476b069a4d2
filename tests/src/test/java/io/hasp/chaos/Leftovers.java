package io.hasp.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.chaos.cluster.Cmd;
import io.hasp.chaos.cluster.LocalBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** What a chaos run may leave behind, and the assertion that it left none of it. */
public final class Leftovers {
  private Leftovers() {}

  public static Set<String> tmpDirs() throws IOException {
    return names(Path.of(System.getProperty("java.io.tmpdir")), "hasp-chaos-");
  }

  static Set<String> names(Path dir, String prefix) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return new TreeSet<>(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(prefix)).toList());
    }
  }

  /** No chain, cgroup, node process, engine or temp dir beyond those that existed before ({@code tmpBefore}). */
  public static void assertNone(Set<String> tmpBefore) throws IOException {
    assertTrue(!Cmd.run("iptables", "-w", "-S").text().contains("HASP-"), "an iptables chain was left");
    assertEquals(Set.of(), names(LocalBackend.cgroupRoot(), "hasp-"), "cgroups were left");
    Set<String> tmpAfter = tmpDirs();
    tmpAfter.removeAll(tmpBefore);
    // a run of another process that started meanwhile (a second suite on the same machine) is not a leftover
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    tmpAfter.removeIf(name -> io.hasp.chaos.cluster.Scratch.heldByAnotherProcess(tmp.resolve(name)));
    assertEquals(Set.of(), tmpAfter, "temp dirs were left");
    // Node processes get SIGTERM (the harness's close, or its parent-death signal) and close themselves, which takes
    // a few seconds on a loaded machine: wait for them to be gone (bounded), then name any that are left.
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (Cmd.run("pgrep", "-f", NODE_PROCESS).code() == 0 && System.nanoTime() < deadline) {
      sleep(200);
    }
    Cmd.Out left = Cmd.run("pgrep", "-af", NODE_PROCESS);
    assertTrue(left.code() != 0, () -> "a node process was left 30 s after the run: " + left.text());
  }

  /** What a node process of the harness has on its command line: local nodes and the container image's. */
  public static final String NODE_PROCESS = "io.hasp.server.cli.NodeCommand";

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
