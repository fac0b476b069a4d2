package io.hasp.chaos.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.chaos.check.Verdict;
import io.hasp.chaos.history.Fault;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.history.OpRecord.Outcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/** Writes a small report and checks the files hang together. */
class ReportTest {
  private static final String ODD_LOCK = "<&\">";
  private static final long MS = 1_000_000L;

  private static OpRecord op(long id, int process, String f, String lock, long invokeMs, long completeMs,
      Outcome outcome, long token, String value) {
    return new OpRecord(id, process, "mutex", f, lock, 1, invokeMs * MS, completeMs < 0 ? -1 : completeMs * MS,
        1_700_000_000_000L + invokeMs, outcome, token, value);
  }

  private static List<OpRecord> history() {
    List<OpRecord> ops = new ArrayList<>();
    ops.add(op(1, 1, "acquire", "a", 0, 5, Outcome.OK, 10, ""));
    ops.add(op(2, 2, "acquire", "a", 1, 7, Outcome.FAIL, 0, "LOCK_HELD"));
    ops.add(op(3, 1, "release", "a", 100, 103, Outcome.OK, 0, ""));
    ops.add(op(4, 3, "acquire", ODD_LOCK, 150, 2_150, Outcome.OK, 11, ""));
    ops.add(op(5, 2, "is-locked", ODD_LOCK, 200, 200, Outcome.OK, 0, "true"));
    ops.add(op(6, 2, "get-lock", ODD_LOCK, 300, 320, Outcome.FAIL, 0, "TIMEOUT <x>"));
    ops.add(op(7, 3, "write", ODD_LOCK, 2_200, 2_210, Outcome.OK, 11, "accepted"));
    ops.add(op(8, 1, "acquire", "b", 2_500, -1, Outcome.UNKNOWN, 0, ""));
    ops.add(op(9, 3, "release", ODD_LOCK, 2_400, 2_405, Outcome.OK, 0, ""));
    return ops;
  }

  private static List<Fault> faults() {
    return List.of(new Fault("partition-halves", "n1 | n2 n3", 50 * MS, 1_500 * MS, false),
        new Fault("kill", "kill -9 n2 <&>", 2_000 * MS, -1, true));
  }

  private static Map<String, String> runInfo() {
    Map<String, String> info = new LinkedHashMap<>();
    info.put("seed", "42");
    info.put("nodes", "3");
    info.put("locks", "a, b, " + ODD_LOCK);
    return info;
  }

  @Test
  void writesAConsistentReport(@TempDir Path dir) throws Exception {
    List<OpRecord> ops = history();
    List<Fault> faults = faults();
    List<Verdict> verdicts = List.of(
        new Verdict("linearizable", Verdict.Status.PASS, "9 ops, 2 locks", List.of()),
        new Verdict("fencing", Verdict.Status.FAIL, "1 stale write",
            List.of("lock " + ODD_LOCK + ": token 11 accepted after 12")));
    Report.write(dir, "test run <1> & \"friends\"", runInfo(), ops, faults, verdicts, 3 * 1_000 * MS);

    for (String name : List.of("history.jsonl", "verdicts.txt", "timeline.svg", "latency.svg", "index.html")) {
      assertTrue(Files.isRegularFile(dir.resolve(name)), name);
    }

    // history: two lines per completed op, one per unknown op, two per fault, time-ordered
    long completed = ops.stream().filter(o -> o.completeNs() >= 0).count();
    long unknown = ops.size() - completed;
    List<String> lines = Files.readAllLines(dir.resolve("history.jsonl"), StandardCharsets.UTF_8);
    assertEquals(2 * completed + unknown + 2L * faults.size(), lines.size());
    Pattern time = Pattern.compile("\"time_ns\":(-?\\d+)");
    long previous = Long.MIN_VALUE;
    for (String line : lines) {
      assertTrue(line.startsWith("{\"type\":\"") && line.endsWith("}"), line);
      Matcher m = time.matcher(line);
      assertTrue(m.find(), line);
      long t = Long.parseLong(m.group(1));
      assertTrue(t >= previous, "out of order: " + line);
      previous = t;
    }

    // verdicts
    List<String> verdictLines = Files.readAllLines(dir.resolve("verdicts.txt"), StandardCharsets.UTF_8);
    assertEquals("INVALID", verdictLines.get(0));
    assertTrue(verdictLines.contains("    lock " + ODD_LOCK + ": token 11 accepted after 12"));

    // SVGs are well-formed XML; the timeline holds a rect per operation
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    Document timeline = factory.newDocumentBuilder().parse(dir.resolve("timeline.svg").toFile());
    Document latency = factory.newDocumentBuilder().parse(dir.resolve("latency.svg").toFile());
    assertEquals("svg", timeline.getDocumentElement().getTagName());
    assertEquals("svg", latency.getDocumentElement().getTagName());
    assertTrue(timeline.getElementsByTagName("rect").getLength() >= ops.size());
    String timelineText = Files.readString(dir.resolve("timeline.svg"), StandardCharsets.UTF_8);
    assertTrue(count(timelineText, "<rect") >= ops.size());
    assertTrue(timelineText.contains("&lt;&amp;&quot;&gt;"));
    // completed, non-unknown ops become dots
    assertTrue(latency.getElementsByTagName("circle").getLength() >= completed);

    // index.html escapes what it shows
    String html = Files.readString(dir.resolve("index.html"), StandardCharsets.UTF_8);
    assertTrue(html.contains("&lt;&amp;"));
    assertFalse(html.contains("<&\""));
    assertTrue(html.contains("INVALID"));
    assertTrue(html.contains("<img src=\"timeline.svg\""));
    assertTrue(html.contains("<img src=\"latency.svg\""));
  }

  @Test
  void onlyPassingVerdictsAreValid(@TempDir Path dir) throws Exception {
    Report.write(dir, "passing", runInfo(), history(), faults(),
        List.of(new Verdict("linearizable", Verdict.Status.PASS, "ok", List.of())), 3 * 1_000 * MS);
    assertEquals("VALID", Files.readAllLines(dir.resolve("verdicts.txt"), StandardCharsets.UTF_8).get(0));
  }

  @Test
  void anUnknownVerdictIsUndecided(@TempDir Path dir) throws Exception {
    Report.write(dir, "undecided", Map.of(), history(), List.of(),
        List.of(new Verdict("linearizable", Verdict.Status.PASS, "ok", List.of()),
            new Verdict("search", Verdict.Status.UNKNOWN, "budget ran out", List.of("gave up at op 9"))),
        3 * 1_000 * MS);
    assertEquals("UNDECIDED", Files.readAllLines(dir.resolve("verdicts.txt"), StandardCharsets.UTF_8).get(0));
  }

  @Test
  void copesWithAnEmptyRunOfZeroDuration(@TempDir Path dir) throws Exception {
    Report.write(dir, "empty", Map.of(), List.of(), List.of(), List.of(), 0);
    assertEquals(0, Files.readAllLines(dir.resolve("history.jsonl"), StandardCharsets.UTF_8).size());
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.newDocumentBuilder().parse(dir.resolve("timeline.svg").toFile());
    factory.newDocumentBuilder().parse(dir.resolve("latency.svg").toFile());
    assertEquals("VALID", Files.readAllLines(dir.resolve("verdicts.txt"), StandardCharsets.UTF_8).get(0));
  }

  @Test
  void copesWithManyProcessesAndHugeLatencies(@TempDir Path dir) throws Exception {
    List<OpRecord> ops = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      long invoke = i * 50L;
      long complete = i % 97 == 0 ? invoke + 3_600_000L : invoke + (i % 13);
      ops.add(op(i, i % 120, i % 2 == 0 ? "acquire" : "frobnicate", "l" + (i % 7), invoke, complete,
          i % 5 == 0 ? Outcome.FAIL : Outcome.OK, i, ""));
    }
    Report.write(dir, "big", Map.of(), ops, faults(), List.of(), 100 * 1_000 * MS);
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    Document timeline = factory.newDocumentBuilder().parse(dir.resolve("timeline.svg").toFile());
    factory.newDocumentBuilder().parse(dir.resolve("latency.svg").toFile());
    assertTrue(timeline.getElementsByTagName("rect").getLength() >= ops.size());
    assertEquals(2L * ops.size() + 4, Files.readAllLines(dir.resolve("history.jsonl")).size());
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length())) {
      n++;
    }
    return n;
  }
}
