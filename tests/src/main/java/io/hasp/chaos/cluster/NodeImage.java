package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The node image, made here with no registry: tests/chaos/build-node-rootfs.sh builds a root filesystem (jlink'ed
 * JRE, shared libraries, server jars, libfaketime), cached in tests/target/chaos-image until the server jar
 * changes, and {@code docker import} turns it into a FROM-scratch image.
 */
public final class NodeImage {
  public static final String TAG = "hasp-chaos-node:dev";

  private NodeImage() {}

  /** The repository root: the first directory upwards from here that holds server/target/hasp-server.jar. */
  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      if (Files.exists(p.resolve("server/target/hasp-server.jar")) && Files.exists(p.resolve("tests/chaos"))) {
        return p;
      }
      p = p.getParent();
    }
    throw new IllegalStateException("cannot find the Hasp checkout (server/target/hasp-server.jar) above "
        + Path.of("").toAbsolutePath() + "; build it first (mvn -DskipTests package)");
  }

  /** Builds (or reuses) the root filesystem and imports it into the engine; returns the image tag. */
  public static String build(Map<String, String> dockerEnv) throws IOException {
    Path root = repoRoot();
    Path cache = root.resolve("tests/target/chaos-image");
    Files.createDirectories(cache);
    Path tar = cache.resolve("rootfs.tar");
    Path jar = root.resolve("server/target/hasp-server.jar");
    Path script = root.resolve("tests/chaos/build-node-rootfs.sh");
    boolean fresh = Files.exists(tar) && Files.getLastModifiedTime(tar).compareTo(Files.getLastModifiedTime(jar)) > 0
        && Files.getLastModifiedTime(tar).compareTo(Files.getLastModifiedTime(script)) > 0;
    if (!fresh) {
      long t0 = System.nanoTime();
      String javaHome = System.getProperty("java.home");
      if (!Files.exists(Path.of(javaHome, "bin", "jlink"))) {
        javaHome = System.getenv().getOrDefault("JAVA_HOME", javaHome);
      }
      Cmd.Out out = Cmd.run(List.of("bash", script.toString(), root.toString(), tar.toString()),
          Map.of("JAVA_HOME", javaHome), 600);
      if (!out.ok()) {
        throw new IllegalStateException("building the node root filesystem failed: " + out.text());
      }
      System.out.printf("chaos: node root filesystem built in %.1f s (%d MB)%n", (System.nanoTime() - t0) / 1e9,
          Files.size(tar) >> 20);
    }
    List<String> cmd = new ArrayList<>(List.of("docker", "import", "--change",
        "ENTRYPOINT [\"/opt/jre/bin/java\", \"-Xmx256m\", \"-XX:+UseSerialGC\", \"-XX:TieredStopAtLevel=1\", "
            + "\"-cp\", \"/opt/hasp/lib/*\", \"io.hasp.server.cli.NodeCommand\"]",
        tar.toString(), TAG));
    Cmd.Out out = Cmd.run(cmd, dockerEnv, 300);
    if (!out.ok()) {
      throw new IllegalStateException("docker import failed: " + out.text());
    }
    return TAG;
  }

  /** Whether the image has libfaketime (it does when the building machine had it). */
  public static boolean hasFaketime() {
    try {
      Path tar = repoRoot().resolve("tests/target/chaos-image/rootfs.tar");
      Cmd.Out out = Cmd.run(List.of("tar", "-tf", tar.toString()), null, 60);
      return out.text().contains("faketime/libfaketime.so.1");
    } catch (RuntimeException e) {
      return false;
    }
  }
}
