package io.hasp.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.hasp.chaos.nemesis.Nemesis;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The short chaos runs CI does (needs root; the docker run installs and starts its own engine): a 2-minute,
 * 3-node container run with every nemesis that must find nothing, and a local-process run against the
 * deliberately broken server that must find the double grants. Each checks that the run left nothing behind.
 * The seed is fixed (HASP_CHAOS_SEED overrides it) so a failure reproduces with the printed command.
 */
class ChaosShortRunTest {
  static final Path REPORTS = Path.of("target", "chaos-reports");
  static final String SEED = System.getenv().getOrDefault("HASP_CHAOS_SEED", "20261201");

  static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }

  @Test
  void shortContainerRunWithEveryNemesisIsValid() throws Exception {
    assumeTrue(root(), "the chaos harness needs root (iptables, cgroups, dockerd)");
    Set<String> tmpBefore = Leftovers.tmpDirs();
    int code = ChaosMain.run(new String[] {"--backend", "docker", "--nodes", "3", "--duration", "120s", "--seed", SEED,
        "--report-dir", REPORTS.toString()});
    Path report = newest();
    assertEquals(0, code, () -> "the short chaos run found a problem; see " + report.resolve("index.html") + "\n"
        + verdicts(report));
    assertTrue(Files.readString(report.resolve("verdicts.txt")).startsWith("VALID"));
    String history = Files.readString(report.resolve("history.jsonl"));
    for (String kind : Nemesis.ALL) {
      if (kind.equals("membership")) {
        continue; // not on containers (the report says why); the local run below injects it
      }
      assertTrue(history.contains("\"fault\":\"" + kind + "\""), kind + " was never injected");
    }
    assertTrue(Files.readString(report.resolve("index.html")).contains("membership runs on the local backend"));
    Leftovers.assertNone(tmpBefore); // includes the engine's directory, removed only after dockerd exited
  }

  @Test
  void brokenServerIsCaughtByAShortRun() throws Exception {
    assumeTrue(root(), "the chaos harness needs root (iptables, cgroups)");
    Set<String> tmpBefore = Leftovers.tmpDirs();
    int code = ChaosMain.run(new String[] {"--backend", "local", "--duration", "30s", "--seed", SEED,
        "--nemeses", "kill,partition-halves", "--unsafe-local-grants", "--report-dir", REPORTS.toString()});
    Path report = newest();
    assertEquals(1, code, () -> "the broken server was not caught; see " + report.resolve("index.html") + "\n"
        + verdicts(report));
    String verdicts = Files.readString(report.resolve("verdicts.txt"));
    assertTrue(verdicts.startsWith("INVALID"), verdicts);
    assertTrue(verdicts.contains("linearizability  FAIL"), verdicts);
    assertTrue(verdicts.contains("holders  FAIL"), verdicts);
    Leftovers.assertNone(tmpBefore);
  }

  @Test
  void shortLocalRunIsValid() throws Exception {
    assumeTrue(root(), "the chaos harness needs root (iptables, cgroups)");
    Set<String> tmpBefore = Leftovers.tmpDirs();
    int code = ChaosMain.run(new String[] {"--backend", "local", "--duration", "60s", "--seed", SEED,
        "--nemeses", "isolate-leader,bridge,pause-leader,clock-offset,membership", "--report-dir", REPORTS.toString()});
    Path report = newest();
    assertEquals(0, code, () -> "the local chaos run found a problem; see " + report.resolve("index.html") + "\n"
        + verdicts(report));
    assertTrue(Files.readString(report.resolve("history.jsonl")).contains("\"fault\":\"membership\""),
        "membership was never injected");
    Leftovers.assertNone(tmpBefore);
  }

  /** The run's verdicts, put into a failure's message: CI keeps the test output, not the report directory. */
  private static String verdicts(Path report) {
    try {
      return Files.readString(report.resolve("verdicts.txt"));
    } catch (IOException e) {
      return "(no verdicts.txt: " + e + ")";
    }
  }

  private static Path newest() throws IOException {
    try (Stream<Path> s = Files.list(REPORTS)) {
      List<Path> all = new ArrayList<>(s.filter(Files::isDirectory).toList());
      all.sort(Comparator.comparing(p -> p.toFile().lastModified()));
      return all.get(all.size() - 1);
    }
  }
}
