package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The CLI as a user runs it: separate processes against a real cluster. */
class CliTest extends SharedClusterTest {
  private static ProcessBuilder cli(String... args) {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
        "io.hasp.server.cli.HaspCli"));
    cmd.addAll(List.of(args));
    cmd.add(1 + 6, "--endpoints");
    cmd.add(1 + 7, cluster.endpointsCsv());
    return new ProcessBuilder(cmd).redirectErrorStream(true);
  }

  private static String run(int expectedExit, String... args) throws Exception {
    Process p = cli(args).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "cli did not finish: " + String.join(" ", args));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(expectedExit, p.exitValue(), out);
    return out;
  }

  /** Runs 8 concurrent `lock NAME -- sh -c 'echo in; sleep; echo out'` and returns the most "in" at once. */
  private static int maxConcurrent(String name, String... sizeArgs) throws Exception {
    Path f = dir.resolve(name + ".txt");
    List<Process> ps = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      // eight CLI JVMs starting at once on a small busy machine: a first connection took over 4 s there, most of
      // the default 5 s --timeout of the session open, so these get a generous one (single calls keep the default)
      List<String> args = new ArrayList<>(List.of("lock", name, "--timeout", "60s"));
      args.addAll(List.of(sizeArgs));
      args.addAll(List.of("--", "sh", "-c", "echo in >> '" + f + "'; sleep 0.2; echo out >> '" + f + "'"));
      ps.add(cli(args.toArray(new String[0])).start());
    }
    for (Process p : ps) {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "lock -- CMD did not finish");
      assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
    List<String> lines = Files.readAllLines(f);
    assertEquals(16, lines.size(), "every command ran once: " + lines);
    int in = 0;
    int max = 0;
    for (String l : lines) {
      in += l.equals("in") ? 1 : -1;
      max = Math.max(max, in);
    }
    return max;
  }

  @Test
  void mutexFromTheShellNeverOverlaps() throws Exception {
    assertEquals(1, maxConcurrent("cli-mutex"));
  }

  @Test
  void semaphoreOfThreeFromTheShell() throws Exception {
    int max = maxConcurrent("cli-sem", "--size", "3");
    assertTrue(max <= 3, "at most 3 at once, saw " + max);
  }

  @Test
  void commandsReportHoldsAndErrors() throws Exception {
    String held = run(0, "lock", "cli-hold", "--lease", "60s", "--json");
    assertTrue(held.contains("\"locked\":true"), held);
    String out = run(1, "try-lock", "cli-hold", "--lease", "5s");
    assertTrue(out.contains("not acquired"), out);
    assertTrue(run(0, "is-locked", "cli-hold").contains("true"));
    assertTrue(run(0, "get", "cli-hold").contains("1 holder(s)"));
    assertTrue(run(0, "list", "cli-").contains("cli-hold"));
    assertTrue(run(0, "flush", "cli-hold").contains("released: cli-hold"));
    assertTrue(run(0, "is-locked", "cli-hold", "--json").contains("\"locked\":false"));
    assertTrue(run(2, "lock", "", "--lease", "1s").contains("error: INVALID_ARGUMENT: lock name must not be empty"));
    assertTrue(run(2, "lock", "cli-x").contains("--lease is required"));
    assertTrue(run(2, "unlock", "cli-nothing", "k", "--json").contains("\"code\":\"LOCK_NOT_FOUND\""));
    String status = run(0, "status");
    assertTrue(status.contains("LEADER") && status.contains("leader: n"), status);
    assertTrue(status.lines().findFirst().orElse("").matches("NODE +API +HTTP +ROLE .*"), status);
    for (int i = 0; i < cluster.size(); i++) {
      String row = cluster.id(i) + " ";
      String expected = " +" + java.util.regex.Pattern.quote(cluster.endpoint(i)) + " +"
          + java.util.regex.Pattern.quote(cluster.httpAddress(i)) + " +(LEADER|FOLLOWER) .*";
      assertTrue(status.lines().anyMatch(l -> l.startsWith(row) && l.substring(row.length() - 1).matches(expected)),
          () -> "row of " + row + "with API and HTTP address: " + status);
    }
    String json = run(0, "status", "--json");
    for (int i = 0; i < cluster.size(); i++) {
      assertTrue(json.contains("\"apiAddress\":\"" + cluster.endpoint(i) + "\""), json);
      assertTrue(json.contains("\"httpAddress\":\"" + cluster.httpAddress(i) + "\""), json);
    }
    run(0, "lock", "cli-wait", "--lease", "60s");
    out = run(1, "lock", "cli-wait", "--wait", "500ms", "--", "true");
    assertTrue(out.contains("not acquired: timed out"), out);
    assertTrue(!out.contains("Exception"), out);
  }
}
