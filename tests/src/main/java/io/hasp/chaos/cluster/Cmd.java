package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a host command to completion with a time bound and returns its exit code and output. */
public final class Cmd {
  /** Exit code and combined stdout+stderr. */
  public record Out(int code, String text) {
    public boolean ok() {
      return code == 0;
    }
  }

  private Cmd() {}

  public static Out run(List<String> command, Map<String, String> env, long timeoutSeconds) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    if (env != null) {
      pb.environment().putAll(env);
    }
    try {
      Process p = pb.start();
      p.getOutputStream().close();
      byte[][] holder = new byte[1][];
      Thread reader = new Thread(() -> {
        try {
          holder[0] = p.getInputStream().readAllBytes();
        } catch (IOException e) {
          holder[0] = new byte[0];
        }
      }, "cmd-reader");
      reader.setDaemon(true);
      reader.start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        return new Out(124, "timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
      }
      reader.join(5000);
      return new Out(p.exitValue(), holder[0] == null ? "" : new String(holder[0], StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Out(127, "cannot run " + command.get(0) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Out(130, "interrupted");
    }
  }

  public static Out run(String... command) {
    return run(Arrays.asList(command), null, 120);
  }

  /** Runs it and throws with the output when it fails. */
  public static String must(String... command) {
    Out o = run(command);
    if (!o.ok()) {
      throw new IllegalStateException(String.join(" ", command) + " exited " + o.code() + ": " + o.text().trim());
    }
    return o.text();
  }

  public static boolean onPath(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
      if (new java.io.File(dir, name).canExecute()) {
        return true;
      }
    }
    return false;
  }

}
