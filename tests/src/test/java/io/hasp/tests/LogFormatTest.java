package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.StringReader;
import io.grpc.Status;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node process's log lines: with log.format=json every line but the READY line (stdout) is one JSON object
 * with time, level, logger, thread and message, and a request's log lines carry its id in the MDC; with the
 * default text format every event is one line that starts with its time.
 */
class LogFormatTest {
  @TempDir Path dir;

  @Test
  void jsonLinesCarryTheRequestId() throws Exception {
    try (ProcessCluster cluster = ProcessCluster.start(1, dir, Map.of("log.format", "json", "log.level", "debug"))) {
      RequestHeader header = RequestHeader.newBuilder().setClientId("log-test-client").setRequestId(42).build();
      Rpc.assertError(Status.Code.NOT_FOUND, "LOCK_NOT_FOUND", () -> cluster.stub(0).unlock(
          UnlockRequest.newBuilder().setHeader(header).setName("log-none").setKey("k").build()));
      // the answer's debug line is written as the call completes: wait for it
      JsonObject answered = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (answered == null && System.nanoTime() < deadline) {
        for (JsonObject o : jsonLines(cluster.logFile(0))) {
          JsonObject mdc = o.getAsJsonObject("mdc");
          if (mdc != null && mdc.has("request") && mdc.get("request").getAsString().equals("log-test-client/42")) {
            answered = o;
          }
        }
        if (answered == null) {
          ProcessCluster.sleep(100);
        }
      }
      assertTrue(answered != null, "no log line with request log-test-client/42:\n" + cluster.tail(0));
      assertEquals("DEBUG", answered.get("level").getAsString());
      assertTrue(answered.get("formattedMessage").getAsString().contains("unlock LOCK_NOT_FOUND"), answered::toString);
      List<JsonObject> all = jsonLines(cluster.logFile(0));
      assertTrue(all.size() >= 5, "a node logs at start: " + all.size() + " lines");
      for (JsonObject o : all) {
        for (String field : List.of("timestamp", "level", "threadName", "loggerName", "formattedMessage")) {
          assertTrue(o.has(field), () -> field + " missing in " + o);
        }
        assertTrue(o.get("timestamp").getAsLong() > 1_600_000_000_000L, o::toString);
      }
    }
  }

  @Test
  void textLinesAreOneEventEach() throws Exception {
    try (ProcessCluster cluster = ProcessCluster.start(1, dir)) {
      Rpc.assertError(Status.Code.NOT_FOUND, "LOCK_NOT_FOUND",
          () -> cluster.stub(0).unlock(new Rpc().unlock("log-none", "k")));
      cluster.stop(0);
      List<String> lines = Files.readAllLines(cluster.logFile(0), StandardCharsets.UTF_8);
      int events = 0;
      for (String line : lines) {
        if (line.startsWith("---- start ") || line.startsWith("Hasp node n1 READY: ")) {
          continue;
        }
        assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\S* (TRACE|DEBUG|INFO |WARN |ERROR) \\[.*"),
            () -> "not one event per line: '" + line + "'");
        events++;
      }
      assertTrue(events >= 3, "events logged: " + events);
    }
  }

  /** Every line of the log but the harness's start marker and the READY line, each parsed as a JSON object. */
  private static List<JsonObject> jsonLines(Path log) throws Exception {
    List<JsonObject> out = new ArrayList<>();
    String text = Files.readString(log, StandardCharsets.UTF_8);
    // the node may be writing a line right now: only whole lines count
    text = text.substring(0, text.lastIndexOf('\n') + 1);
    for (String line : text.split("\n")) {
      if (line.startsWith("---- start ") || line.startsWith("Hasp node n1 READY: ") || line.isEmpty()) {
        continue;
      }
      JsonElement e;
      try {
        JsonReader reader = new JsonReader(new StringReader(line));
        reader.setStrictness(Strictness.STRICT);
        e = JsonParser.parseReader(reader);
        if (reader.peek() != JsonToken.END_DOCUMENT) {
          throw new IllegalStateException("more after the object");
        }
      } catch (RuntimeException | java.io.IOException ex) {
        throw new AssertionError("not a JSON line: '" + line + "': " + ex.getMessage(), ex);
      }
      assertTrue(e.isJsonObject(), () -> "not a JSON object: " + line);
      out.add(e.getAsJsonObject());
    }
    return out;
  }
}
