package io.hasp.chaos.history;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a report's history.jsonl back (to check a run again, e.g. after a checker changed). */
public final class HistoryFile {
  private static final Pattern FIELD = Pattern.compile("\"([a-z_]+)\":(\"((?:[^\"\\\\]|\\\\.)*)\"|-?\\d+|true|false)");

  /** The operations (by id) and fault windows of one run. */
  public record Contents(List<OpRecord> ops, List<Fault> faults, long endNs) {}

  private HistoryFile() {}

  public static Contents read(Path historyJsonl) throws IOException {
    Map<Long, OpRecord> ops = new LinkedHashMap<>();
    Map<String, Fault> faults = new LinkedHashMap<>();
    long end = 0;
    try (BufferedReader r = Files.newBufferedReader(historyJsonl, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        int inner = line.indexOf("\"op\":{");
        int faultAt = line.indexOf("\"fault\":{");
        Map<String, String> f = fields(line.substring(Math.max(0, Math.max(inner, faultAt))));
        end = Math.max(end, Long.parseLong(fields(line).getOrDefault("time_ns", "0")));
        if (inner >= 0) {
          OpRecord op = new OpRecord(Long.parseLong(f.get("id")), Integer.parseInt(f.get("process")), f.get("workload"),
              f.get("f"), f.get("lock"), Long.parseLong(f.get("size")), Long.parseLong(f.get("invoke_ns")),
              Long.parseLong(f.get("complete_ns")), Long.parseLong(f.get("wall_ms")),
              OpRecord.Outcome.valueOf(f.get("outcome").toUpperCase(Locale.ROOT)), Long.parseLong(f.get("token")),
              f.get("value"));
          ops.put(op.id(), op);
        } else if (faultAt >= 0) {
          Fault fault = new Fault(f.get("fault"), f.get("detail"), Long.parseLong(f.get("start_ns")),
              Long.parseLong(f.get("end_ns")), Boolean.parseBoolean(f.get("quorum_lost")), f.get("failure"));
          faults.put(fault.kind() + "@" + fault.startNs(), fault);
        }
      }
    }
    return new Contents(new ArrayList<>(ops.values()), new ArrayList<>(faults.values()), end);
  }

  private static Map<String, String> fields(String json) {
    Map<String, String> m = new LinkedHashMap<>();
    Matcher x = FIELD.matcher(json);
    while (x.find()) {
      m.putIfAbsent(x.group(1), x.group(3) != null ? unescape(x.group(3)) : x.group(2));
    }
    return m;
  }

  static String unescape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\' || i + 1 == s.length()) {
        b.append(c);
        continue;
      }
      char n = s.charAt(++i);
      switch (n) {
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 't' -> b.append('\t');
        case 'u' -> {
          b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
          i += 4;
        }
        default -> b.append(n);
      }
    }
    return b.toString();
  }
}
