package io.hasp.tests;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.hasp.chaos.cluster.Cmd;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Parses Prometheus text exposition with a real parser: the official Python client's
 * {@code prometheus_client.parser.text_string_to_metric_families} (Debian package python3-prometheus-client),
 * installed with apt-get when the tests run as root, as the chaos suite installs its packages. Elsewhere, without
 * the package, the caller's test is skipped and says why. The parser rejects malformed text (bad names, labels,
 * values, duplicate families), so a parse that succeeds is a statement about the format, not only the values.
 */
final class PrometheusText {
  /** One sample: its full name (with _total, _bucket, ...), labels, value. */
  record Sample(String name, Map<String, String> labels, double value) {}

  /** One family as the parser groups it (a counter's family name has no _total). */
  record Family(String name, String type, List<Sample> samples) {}

  private static final String SCRIPT = String.join("\n",
      "import json, sys",
      "from prometheus_client.parser import text_string_to_metric_families",
      "out = []",
      "for f in text_string_to_metric_families(sys.stdin.read()):",
      "    out.append({'name': f.name, 'type': f.type, 'samples': [",
      "        {'name': s.name, 'labels': dict(s.labels), 'value': repr(float(s.value))} for s in f.samples]})",
      "print(json.dumps(out))",
      "");

  private PrometheusText() {}

  /** Skips the calling test unless python3 can import prometheus_client (installing it first as root). */
  static void assumeParser() {
    if (parserAvailable()) {
      return;
    }
    String why = "needs python3 with prometheus_client (Debian package python3-prometheus-client) to parse /metrics";
    if (!"root".equals(System.getProperty("user.name")) || !Cmd.onPath("apt-get")) {
      Assumptions.abort(why + "; install it, or run as root so the test installs it");
    }
    Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
    List<String> install = List.of("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=900",
        "python3-prometheus-client");
    Cmd.Out first = Cmd.run(install, env, 900);
    Cmd.Out out = first;
    if (!first.ok()) {
      Cmd.run(List.of("apt-get", "update", "-q"), env, 900);
      out = Cmd.run(install, env, 900);
    }
    String text = out.text();
    Assumptions.assumeTrue(out.ok() && parserAvailable(), () -> why + "; apt-get install failed: " + text);
  }

  /** The interpreter that has the parser, once found. */
  private static volatile String python;

  /**
   * Tries every python3 on the PATH, in order: the Debian package installs into the system's interpreter, which a
   * version manager's python3 earlier on the PATH (pyenv, ...) does not see.
   */
  private static boolean parserAvailable() {
    if (python != null) {
      return true;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      Path candidate = dir.isEmpty() ? null : Path.of(dir, "python3");
      if (candidate != null && Files.isExecutable(candidate)
          && Cmd.run(List.of(candidate.toString(), "-c", "import prometheus_client.parser"), null, 60).ok()) {
        python = candidate.toString();
        return true;
      }
    }
    return false;
  }

  /** Parses {@code text}; throws with the parser's message when it is not valid exposition text. */
  static Map<String, Family> parse(String text) throws IOException, InterruptedException {
    Path script = Files.createTempFile("prom-parse", ".py");
    Path input = Files.createTempFile("prom-text", ".txt");
    try {
      Files.writeString(script, SCRIPT);
      Files.writeString(input, text);
      if (!parserAvailable()) {
        throw new IllegalStateException("no python3 with prometheus_client (call assumeParser first)");
      }
      Process p = new ProcessBuilder(python, script.toString()).redirectInput(input.toFile()).start();
      byte[][] err = new byte[1][];
      Thread errReader = new Thread(() -> {
        try {
          err[0] = p.getErrorStream().readAllBytes();
        } catch (IOException e) {
          err[0] = new byte[0];
        }
      });
      errReader.start();
      String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("the Prometheus parser did not finish");
      }
      errReader.join(10_000);
      if (p.exitValue() != 0) {
        throw new IllegalStateException("the Prometheus parser rejected /metrics: "
            + new String(err[0] == null ? new byte[0] : err[0], StandardCharsets.UTF_8));
      }
      Map<String, Family> families = new LinkedHashMap<>();
      for (JsonElement e : JsonParser.parseString(json).getAsJsonArray()) {
        JsonObject f = e.getAsJsonObject();
        List<Sample> samples = new ArrayList<>();
        JsonArray ss = f.getAsJsonArray("samples");
        for (JsonElement se : ss) {
          JsonObject s = se.getAsJsonObject();
          Map<String, String> labels = new LinkedHashMap<>();
          for (Map.Entry<String, JsonElement> l : s.getAsJsonObject("labels").entrySet()) {
            labels.put(l.getKey(), l.getValue().getAsString());
          }
          samples.add(new Sample(s.get("name").getAsString(), labels, number(s.get("value").getAsString())));
        }
        String name = f.get("name").getAsString();
        if (families.put(name, new Family(name, f.get("type").getAsString(), samples)) != null) {
          throw new IllegalStateException("family " + name + " appears twice");
        }
      }
      return families;
    } finally {
      Files.deleteIfExists(script);
      Files.deleteIfExists(input);
    }
  }

  private static double number(String python) {
    return switch (python) {
      case "nan" -> Double.NaN;
      case "inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(python);
    };
  }
}
