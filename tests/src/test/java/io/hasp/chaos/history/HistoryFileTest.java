package io.hasp.chaos.history;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hasp.chaos.report.Report;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A report's history.jsonl reads back into the same operations and faults (what --recheck relies on). */
class HistoryFileTest {
  @Test
  void roundTrip(@TempDir Path dir) throws Exception {
    List<OpRecord> ops = List.of(
        new OpRecord(1, 3, "mutex", "acquire", "we\"ird\\<&>\tname", 1, 100, 250, 1_700_000_000_000L,
            OpRecord.Outcome.OK, 42, "key-1"),
        new OpRecord(2, 4, "reads", "get-lock", "a", 3, 120, 300, 1_700_000_000_001L, OpRecord.Outcome.OK, 0, "42,43"),
        new OpRecord(3, 5, "mutex", "release", "a", 1, 130, -1, 1_700_000_000_002L, OpRecord.Outcome.UNKNOWN, 7,
            "NO_QUORUM"),
        new OpRecord(4, 6, "lease", "acquire", "lease-0", 3, 140, 160, 1_700_000_000_003L, OpRecord.Outcome.FAIL, 0,
            "not-acquired"));
    List<Fault> faults = List.of(new Fault("clock-offset", "n2 +2500 ms", 50, 400, false),
        new Fault("restart-all", "kill -9 every node", 500, -1, true),
        new Fault("membership", "remove n5 (the leader), restart it, add it back", 600, 900, false,
            "n5 was not added back within 120 s: DEADLINE_EXCEEDED: \"deadline\" <exceeded>"));
    Report.write(dir, "t", Map.of(), ops, faults, List.of(), 1_000);
    HistoryFile.Contents c = HistoryFile.read(dir.resolve("history.jsonl"));
    assertEquals(ops, c.ops());
    assertEquals(faults, c.faults());
  }
}
