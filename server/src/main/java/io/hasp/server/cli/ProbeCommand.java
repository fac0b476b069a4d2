package io.hasp.server.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code hasp probe [URL]}: one HTTP GET of a node's {@code /ready} (or {@code /health}) for container health
 * checks where the image has no shell and no curl (the Hasp image is FROM scratch). Exit code 0 when the answer is
 * 2xx, 1 for anything else (another status, no answer within the timeout, connection refused), the way Docker and
 * Compose health checks read it; 2 only for bad arguments. It prints one line: the status and the node's reason.
 *
 * <p>It has its own {@link #main} so that a health check starts as few classes as possible (it runs every few
 * seconds), and it is also the CLI's {@code probe} subcommand.
 */
@Command(name = "probe", mixinStandardHelpOptions = true,
    description = {"GET a node's /ready or /health once: exit 0 on 2xx, else 1 (for container health checks).",
        "Example: hasp probe http://127.0.0.1:7200/ready"})
public final class ProbeCommand implements Callable<Integer> {
  static final String DEFAULT_URL = "http://127.0.0.1:7200/ready";
  /** The most of the body printed: the node's reason is one short line. */
  private static final int BODY_BYTES_MAX = 512;

  @Parameters(index = "0", arity = "0..1", defaultValue = DEFAULT_URL,
      description = "http://HOST:PORT/PATH (default " + DEFAULT_URL + ")")
  String url;

  @Option(names = "--timeout", converter = Durations.class, defaultValue = "3s",
      description = "Connect and read timeout, each (default 3s)")
  Duration timeout;

  /** Runs the probe without the rest of the CLI (what the compose file's health check starts). */
  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new ProbeCommand());
    cli.setParameterExceptionHandler((e, a) -> {
      System.err.println("error: INVALID_ARGUMENT: " + e.getMessage());
      return 2;
    });
    System.exit(cli.execute(args));
  }

  @Override
  public Integer call() {
    URL target;
    try {
      URI uri = URI.create(url);
      if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
        throw new IllegalArgumentException("expected http://HOST:PORT/PATH");
      }
      target = uri.toURL();
    } catch (IllegalArgumentException | IOException e) {
      System.err.println("error: INVALID_ARGUMENT: bad probe URL '" + url + "': " + e.getMessage());
      return 2;
    }
    if (timeout.isZero()) {
      System.err.println("error: INVALID_ARGUMENT: --timeout must be positive");
      return 2;
    }
    int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
    HttpURLConnection c = null;
    try {
      c = (HttpURLConnection) target.openConnection();
      c.setConnectTimeout(ms);
      c.setReadTimeout(ms);
      c.setInstanceFollowRedirects(false);
      c.setUseCaches(false);
      int code = c.getResponseCode();
      String body = body(code >= 400 ? c.getErrorStream() : c.getInputStream());
      boolean ok = code >= 200 && code < 300;
      System.out.println((ok ? "ok: " : "failed: ") + url + " answered " + code + (body.isEmpty() ? "" : ": " + body));
      return ok ? 0 : 1;
    } catch (IOException e) {
      System.out.println("failed: " + url + ": " + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()));
      return 1;
    } finally {
      if (c != null) {
        c.disconnect();
      }
    }
  }

  private static String body(InputStream in) throws IOException {
    if (in == null) {
      return "";
    }
    try (in) {
      byte[] b = in.readNBytes(BODY_BYTES_MAX);
      return new String(b, StandardCharsets.UTF_8).strip().replace('\n', ' ');
    }
  }
}
