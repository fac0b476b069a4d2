package io.hasp.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchOptionsTest {
  @TempDir Path dir;

  @Test
  void defaultsAndFlags() {
    BenchOptions d = BenchOptions.parse(new String[0], null);
    assertEquals(List.of("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"), d.endpoints());
    assertEquals(List.of(1, 16, 64), d.clients());
    assertEquals(Duration.ofSeconds(10), d.duration());
    BenchOptions o = BenchOptions.parse(new String[] {"--workloads", "w1,w7", "--clients", "2,4", "--duration",
        "1.5s", "--kill-cmd", "k {node}", "--start-cmd", "s {node}", "--stats-every", "500ms"}, "a:1,b:2");
    assertEquals(List.of("a:1", "b:2"), o.endpoints());
    assertEquals(List.of(2, 4), o.clients());
    assertEquals(Duration.ofMillis(1500), o.duration());
    assertEquals(Duration.ofMillis(500), o.statsEvery());
    assertTrue(o.workloads().contains("w7"));
    assertEquals(1_000_000, d.locks());
    assertEquals(10_000, d.waiters());
    BenchOptions s = BenchOptions.parse(new String[] {"--workloads", "scale", "--locks", "5000", "--waiters", "0",
        "--wipe-cmd", "w {node}"}, null);
    assertEquals(5000, s.locks());
    assertEquals(0, s.waiters());
    assertEquals("w {node}", s.wipeCommand());
    assertEquals(Duration.ofMinutes(10), d.scaleLease());
  }

  @Test
  void badFlagsNameTheProblem() {
    assertMessage("unknown workload 'w9'", "--workloads", "w1,w9");
    assertMessage("each count must be 1..1024, got 0", "--clients", "0");
    assertMessage("not a duration", "--duration", "10");
    assertMessage("must be between", "--duration", "5h");
    assertMessage("w7 needs --kill-cmd", "--workloads", "w7");
    assertMessage("--json needs a value", "--json");
    assertMessage("unknown flag --nope", "--nope");
    assertMessage("--locks: must be 1..10000000, got 0", "--locks", "0");
    assertMessage("--waiters: must be 0..100000, got 100001", "--waiters", "100001");
  }

  private static void assertMessage(String part, String... args) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(args, null));
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }

  @Test
  void aBadFlagExitsWithTwoAndACodedMessage() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc = BenchMain.run(new String[] {"--clients", "x"}, null, new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, rc);
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("error: INVALID_ARGUMENT: --clients: not a number"));
  }

  @Test
  void compareMatchesPointsByWorkloadAndClients() throws Exception {
    BenchMain.Results a = new BenchMain.Results();
    a.points.add(new BenchMain.Point("w1", 16, 1000, 100.0, 0, new BenchMain.Latency(10, 12, 15, 20, 30, 11),
        new java.util.LinkedHashMap<>()));
    BenchMain.Results b = new BenchMain.Results();
    b.points.add(new BenchMain.Point("w1", 16, 3000, 300.0, 0, new BenchMain.Latency(4, 5, 6, 7, 8, 4.5),
        new java.util.LinkedHashMap<>()));
    b.points.add(new BenchMain.Point("w4", 1, 10, 1.0, 0, new BenchMain.Latency(1, 1, 1, 1, 1, 1),
        new java.util.LinkedHashMap<>()));
    Path old = dir.resolve("old.json");
    Path now = dir.resolve("new.json");
    Files.writeString(old, a.toJson());
    Files.writeString(now, b.toJson());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int rc = BenchMain.run(new String[] {"--compare", old.toString(), now.toString()}, null,
        new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
    assertEquals(0, rc);
    String text = out.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("3.00x"), text);
    assertTrue(text.lines().anyMatch(l -> l.startsWith("w4") && l.contains(" - ")), text);
  }
}
