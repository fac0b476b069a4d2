package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The node image is the product image: deploy/image/build-image.sh (what {@code ./hasp image} runs) builds the
 * FROM-scratch root filesystem (jlink'ed JRE, shared libraries, server jars, libfaketime when the machine has it),
 * keeps it in server/target/image until the server jars change, and {@code docker import}s it as
 * {@code hasp:VERSION} into the engine the environment names (DOCKER_HOST). No registry is involved.
 */
public final class NodeImage {
  static final String SCRIPT = "deploy/image/build-image.sh";
  static final String ROOTFS = "server/target/image/rootfs.tar";

  private NodeImage() {}

  /** The repository root: the first directory upwards from here that holds server/target/hasp-server.jar. */
  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      if (Files.exists(p.resolve("server/target/hasp-server.jar")) && Files.exists(p.resolve(SCRIPT))) {
        return p;
      }
      p = p.getParent();
    }
    throw new IllegalStateException("cannot find the Hasp checkout (server/target/hasp-server.jar) above "
        + Path.of("").toAbsolutePath() + "; build it first (mvn -DskipTests package)");
  }

  /**
   * Builds (or reuses) the image in the engine {@code dockerEnv} (added to this process's environment) points
   * at, the way {@code ./hasp image} does; returns the image reference ({@code hasp:VERSION}).
   */
  public static String build(Map<String, String> dockerEnv) throws IOException {
    Path root = repoRoot();
    long t0 = System.nanoTime();
    Map<String, String> env = new HashMap<>(dockerEnv);
    String javaHome = System.getProperty("java.home");
    if (Files.exists(Path.of(javaHome, "bin", "jlink"))) {
      env.put("JAVA_HOME", javaHome);
    }
    Cmd.Out out = Cmd.run(List.of("bash", root.resolve(SCRIPT).toString()), env, 600);
    if (!out.ok()) {
      throw new IllegalStateException(SCRIPT + " failed (exit " + out.code() + "): " + out.text());
    }
    String[] lines = out.text().strip().split("\n");
    String image = lines[lines.length - 1].strip();
    if (!image.matches("hasp:[A-Za-z0-9_][A-Za-z0-9_.-]*")) {
      throw new IllegalStateException(SCRIPT + " did not end with the image reference: " + out.text());
    }
    System.out.printf("chaos: node image %s ready in %.1f s%n", image, (System.nanoTime() - t0) / 1e9);
    return image;
  }

  /** Whether the image has libfaketime (it does when the building machine had it). */
  public static boolean hasFaketime() {
    try {
      Path tar = repoRoot().resolve(ROOTFS);
      Cmd.Out out = Cmd.run(List.of("tar", "-tf", tar.toString()), null, 60);
      return out.text().contains("faketime/libfaketime.so.1");
    } catch (RuntimeException e) {
      return false;
    }
  }
}
