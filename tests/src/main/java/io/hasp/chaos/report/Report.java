package io.hasp.chaos.report;

import io.hasp.chaos.check.Verdict;
import io.hasp.chaos.history.Fault;
import io.hasp.chaos.history.OpRecord;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Writes a run's report directory: the raw history (history.jsonl), the checkers' verdicts (verdicts.txt), two
 * SVG charts (timeline.svg, latency.svg) and an index.html tying them together. Plain string building, no
 * libraries; every text that came from outside is escaped.
 */
public final class Report {
  private Report() {}

  private static final long SECOND_NS = 1_000_000_000L;

  private static final String OK_COLOUR = "#2e7d32";
  private static final String FAIL_COLOUR = "#c62828";
  private static final String UNKNOWN_COLOUR = "#ef6c00";
  private static final String GREY = "#757575";

  private static final int WIDTH = 1400;
  private static final int LEFT = 70;
  private static final int RIGHT = 24;
  private static final int ROW_H = 12;
  private static final int LANE_H = 11;
  private static final int MAX_LANES = 8;
  private static final int MAX_FINDINGS = 50;

  /** Pastel colours for fault windows; the eight known nemeses get one each, other kinds hash in. */
  private static final String[] FAULT_PALETTE = {
    "#64b5f6", "#ffb74d", "#ba68c8", "#fff176", "#4dd0e1", "#f06292", "#a1887f", "#90a4ae"
  };
  private static final List<String> KNOWN_FAULTS = List.of("partition-halves", "isolate-leader", "bridge", "kill",
      "kill-leader", "pause-leader", "restart-all", "clock-offset");

  private static final String[] F_NAMES = {"acquire", "release", "is-locked", "get-lock", "write"};
  private static final String[] F_COLOURS = {"#1565c0", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457"};

  /**
   * Writes history.jsonl, verdicts.txt, timeline.svg, latency.svg and index.html into {@code dir}.
   *
   * @param runDurationNs how long the run lasted; the charts span at least this (and at least one second, and
   *     at least up to the last recorded event)
   */
  public static void write(Path dir, String title, Map<String, String> runInfo, List<OpRecord> ops,
      List<Fault> faults, List<Verdict> verdicts, long runDurationNs) throws IOException {
    Files.createDirectories(dir);
    List<OpRecord> o = ops == null ? List.of() : ops;
    List<Fault> fs = faults == null ? List.of() : faults;
    List<Verdict> vs = verdicts == null ? List.of() : verdicts;
    Map<String, String> info = runInfo == null ? Map.of() : runInfo;
    String t = title == null ? "" : title;
    long endNs = effectiveEnd(runDurationNs, o, fs);
    Axis axis = new Axis(endNs);

    writeHistory(dir.resolve("history.jsonl"), o, fs, endNs);
    writeVerdicts(dir.resolve("verdicts.txt"), vs);
    writeTimeline(dir.resolve("timeline.svg"), t, o, fs, axis);
    // Register writes are the harness's own in-memory fencing check, not calls to Hasp: left out of the plot.
    writeLatency(dir.resolve("latency.svg"), t, o.stream().filter(op -> !op.f().equals("write")).toList(), fs, axis);
    writeIndex(dir.resolve("index.html"), t, info, o, fs, vs, endNs);
  }

  // ---------------------------------------------------------------------------------------------------------
  // history.jsonl

  private record Event(long timeNs, int kind, int index) {}

  private static final int INVOKE = 0;
  private static final int COMPLETE = 1;
  private static final int FAULT_START = 2;
  private static final int FAULT_END = 3;

  private static void writeHistory(Path file, List<OpRecord> ops, List<Fault> faults, long endNs)
      throws IOException {
    List<Event> events = new ArrayList<>(ops.size() * 2 + faults.size() * 2);
    for (int i = 0; i < ops.size(); i++) {
      OpRecord op = ops.get(i);
      events.add(new Event(op.invokeNs(), INVOKE, i));
      if (op.completeNs() >= 0) {
        events.add(new Event(op.completeNs(), COMPLETE, i));
      }
    }
    for (int i = 0; i < faults.size(); i++) {
      Fault f = faults.get(i);
      events.add(new Event(f.startNs(), FAULT_START, i));
      // A window still open when the run ended closes with the run (its fault object keeps end_ns -1).
      events.add(new Event(f.endNs() >= 0 ? f.endNs() : Math.max(endNs, f.startNs()), FAULT_END, i));
    }
    events.sort((a, b) -> Long.compare(a.timeNs(), b.timeNs())); // List.sort is stable
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (Event e : events) {
        String type;
        String body;
        switch (e.kind()) {
          case INVOKE -> {
            type = "invoke";
            body = ",\"op\":" + ops.get(e.index()).toJson();
          }
          case COMPLETE -> {
            OpRecord op = ops.get(e.index());
            type = op.outcome() == null ? "unknown" : op.outcome().name().toLowerCase(Locale.ROOT);
            body = ",\"op\":" + op.toJson();
          }
          case FAULT_START -> {
            type = "fault-start";
            body = ",\"fault\":" + faults.get(e.index()).toJson();
          }
          default -> {
            type = "fault-end";
            body = ",\"fault\":" + faults.get(e.index()).toJson();
          }
        }
        w.write("{\"type\":\"");
        w.write(type);
        w.write("\",\"time_ns\":");
        w.write(Long.toString(e.timeNs()));
        w.write(body);
        w.write("}\n");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // verdicts.txt

  static String overall(List<Verdict> verdicts) {
    boolean fail = false;
    boolean unknown = false;
    for (Verdict v : verdicts) {
      Verdict.Status s = status(v);
      fail |= s == Verdict.Status.FAIL;
      unknown |= s == Verdict.Status.UNKNOWN;
    }
    return fail ? "INVALID" : unknown ? "UNDECIDED" : "VALID";
  }

  private static Verdict.Status status(Verdict v) {
    return v.status() == null ? Verdict.Status.UNKNOWN : v.status();
  }

  private static List<String> findings(Verdict v) {
    return v.findings() == null ? List.of() : v.findings();
  }

  private static void writeVerdicts(Path file, List<Verdict> verdicts) throws IOException {
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      w.write(overall(verdicts));
      w.write('\n');
      for (Verdict v : verdicts) {
        w.write('\n');
        w.write(oneLine(v.checker()) + "  " + status(v).name() + "  " + oneLine(v.summary()));
        w.write('\n');
        for (String finding : findings(v)) {
          w.write("    " + oneLine(finding));
          w.write('\n');
        }
      }
    }
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replace("\r\n", " ").replace('\n', ' ').replace('\r', ' ');
  }

  // ---------------------------------------------------------------------------------------------------------
  // shared chart pieces

  private static long effectiveEnd(long runDurationNs, List<OpRecord> ops, List<Fault> faults) {
    long end = Math.max(runDurationNs, SECOND_NS);
    for (OpRecord op : ops) {
      end = Math.max(end, Math.max(op.invokeNs(), op.completeNs()));
    }
    for (Fault f : faults) {
      end = Math.max(end, Math.max(f.startNs(), f.endNs()));
    }
    return end;
  }

  /** The shared x axis: seconds since run start across the plot width. */
  private static final class Axis {
    final long endNs;
    final double seconds;
    final double tick;
    final int plotW = WIDTH - LEFT - RIGHT;

    Axis(long endNs) {
      this.endNs = endNs;
      this.seconds = endNs / 1e9;
      this.tick = tickInterval(seconds);
    }

    double x(long ns) {
      long c = Math.max(0, Math.min(ns, endNs));
      return LEFT + plotW * (double) c / endNs;
    }

    double right() {
      return LEFT + plotW;
    }
  }

  /** 1, 2, 5, 10, 20, 30, 60 s ... chosen so the axis gets about ten ticks. */
  static double tickInterval(double seconds) {
    double[] candidates = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600};
    for (double c : candidates) {
      if (seconds / c <= 10.5) {
        return c;
      }
    }
    return 3600 * Math.ceil(seconds / 36_000);
  }

  private static String tickLabel(double t, double interval) {
    return interval < 1 ? String.format(Locale.ROOT, "%.1f", t) : Long.toString(Math.round(t));
  }

  /** Vertical gridlines and the labelled x axis along {@code bottom}. */
  private static void xAxis(Writer w, Axis axis, int top, int bottom) throws IOException {
    StringBuilder b = new StringBuilder();
    b.append("<g class=\"x-axis\" font-size=\"10\" fill=\"#333\">\n");
    for (int k = 0; ; k++) {
      double t = k * axis.tick;
      if (t > axis.seconds + 1e-9) {
        break;
      }
      double x = axis.x(Math.round(t * 1e9));
      b.append("<line x1=\"").append(f1(x)).append("\" y1=\"").append(top).append("\" x2=\"").append(f1(x))
          .append("\" y2=\"").append(bottom + 4).append("\" stroke=\"#ddd\" stroke-width=\"0.6\"/>\n");
      b.append("<text x=\"").append(f1(x)).append("\" y=\"").append(bottom + 16)
          .append("\" text-anchor=\"middle\">").append(tickLabel(t, axis.tick)).append("</text>\n");
    }
    b.append("<line x1=\"").append(LEFT).append("\" y1=\"").append(bottom).append("\" x2=\"")
        .append(f1(axis.right())).append("\" y2=\"").append(bottom).append("\" stroke=\"#333\" stroke-width=\"1\"/>\n");
    b.append("<text x=\"").append(f1((LEFT + axis.right()) / 2)).append("\" y=\"").append(bottom + 32)
        .append("\" text-anchor=\"middle\">seconds since run start</text>\n");
    b.append("</g>\n");
    w.write(b.toString());
  }

  static String faultColour(String kind) {
    String k = kind == null ? "" : kind;
    int known = KNOWN_FAULTS.indexOf(k);
    return FAULT_PALETTE[known >= 0 ? known : Math.floorMod(k.hashCode(), FAULT_PALETTE.length)];
  }

  private static long faultEnd(Fault f, long endNs) {
    return Math.max(f.startNs(), f.endNs() >= 0 ? f.endNs() : endNs);
  }

  private static String faultLabel(Fault f) {
    String s = (f.kind() == null ? "fault" : f.kind()) + (f.detail() == null || f.detail().isEmpty() ? ""
        : " " + f.detail());
    return s.length() > 48 ? s.substring(0, 47) + "…" : s;
  }

  private static double textWidth(String s, double fontSize) {
    return s.length() * fontSize * 0.6;
  }

  /** Places fault labels in lanes above the plot so that they overlap as little as possible. */
  private static int[] faultLanes(List<Fault> faults, Axis axis) {
    int[] lane = new int[faults.size()];
    double[] laneEnd = new double[MAX_LANES];
    Arrays.fill(laneEnd, Double.NEGATIVE_INFINITY);
    Integer[] order = new Integer[faults.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compare(faults.get(a).startNs(), faults.get(b).startNs()));
    int used = 0;
    for (int i : order) {
      double[] span = labelSpan(faults.get(i), axis);
      int chosen = -1;
      for (int l = 0; l < used; l++) {
        if (laneEnd[l] <= span[0]) {
          chosen = l;
          break;
        }
      }
      if (chosen < 0 && used < MAX_LANES) {
        chosen = used++;
      }
      if (chosen < 0) {
        chosen = 0;
        for (int l = 1; l < used; l++) {
          if (laneEnd[l] < laneEnd[chosen]) {
            chosen = l;
          }
        }
      }
      lane[i] = chosen;
      laneEnd[chosen] = span[1] + 4;
    }
    return lane;
  }

  private static int laneCount(int[] lanes) {
    int n = 0;
    for (int l : lanes) {
      n = Math.max(n, l + 1);
    }
    return n;
  }

  private static double[] labelSpan(Fault f, Axis axis) {
    double w = textWidth(faultLabel(f), 9);
    double x = Math.min(axis.x(f.startNs()) + 2, axis.right() - w);
    x = Math.max(LEFT, x);
    return new double[] {x, x + w};
  }

  /** Translucent bands from {@code top} to {@code bottom}, labels in lanes starting at {@code labelTop}. */
  private static void faultBands(Writer w, List<Fault> faults, Axis axis, int[] lanes, int labelTop, int top,
      int bottom) throws IOException {
    if (faults.isEmpty()) {
      return;
    }
    w.write("<g class=\"faults\">\n");
    for (int i = 0; i < faults.size(); i++) {
      Fault f = faults.get(i);
      double x0 = axis.x(f.startNs());
      double x1 = axis.x(faultEnd(f, axis.endNs));
      double width = Math.max(1, x1 - x0);
      String tip = faultLabel(f) + String.format(Locale.ROOT, " (%.3f s – %s)%s", f.startNs() / 1e9,
          f.endNs() >= 0 ? String.format(Locale.ROOT, "%.3f s", f.endNs() / 1e9) : "open at run end",
          f.quorumLost() ? ", quorum lost" : "");
      StringBuilder b = new StringBuilder();
      b.append("<rect x=\"").append(f1(x0)).append("\" y=\"").append(top).append("\" width=\"").append(f1(width))
          .append("\" height=\"").append(Math.max(1, bottom - top)).append("\" fill=\"")
          .append(faultColour(f.kind())).append("\" fill-opacity=\"0.25\"><title>").append(xml(tip))
          .append("</title></rect>\n");
      if (lanes != null) {
        double[] span = labelSpan(f, axis);
        b.append("<text x=\"").append(f1(span[0])).append("\" y=\"").append(labelTop + lanes[i] * LANE_H + 9)
            .append("\" font-size=\"9\" fill=\"#333\"><title>").append(xml(tip)).append("</title>")
            .append(xml(faultLabel(f))).append("</text>\n");
      }
      w.write(b.toString());
    }
    w.write("</g>\n");
  }

  /** One legend entry: a swatch style ("rect", "faded", "dot", "hollow", "tick", "band"), a colour, a label. */
  private record LegendItem(String style, String colour, String label) {}

  /** Draws (or, with w null, only measures) a wrapping legend starting at y0; returns its height. */
  private static int legend(Writer w, List<LegendItem> items, int y0) throws IOException {
    double x = LEFT;
    int y = y0;
    StringBuilder b = new StringBuilder();
    b.append("<g class=\"legend\" font-size=\"10\" fill=\"#333\">\n");
    for (LegendItem item : items) {
      double adv = 16 + textWidth(item.label(), 10) + 14;
      if (x + adv > WIDTH - RIGHT && x > LEFT) {
        x = LEFT;
        y += 16;
      }
      String c = item.colour();
      switch (item.style()) {
        case "rect" -> b.append("<rect x=\"").append(f1(x)).append("\" y=\"").append(y).append(
            "\" width=\"12\" height=\"10\" fill=\"").append(c).append("\"/>");
        case "faded" -> b.append("<rect x=\"").append(f1(x)).append("\" y=\"").append(y).append(
            "\" width=\"12\" height=\"10\" fill=\"").append(c).append("\" opacity=\"0.35\"/>");
        case "band" -> b.append("<rect x=\"").append(f1(x)).append("\" y=\"").append(y).append(
            "\" width=\"12\" height=\"10\" fill=\"").append(c).append("\" fill-opacity=\"0.25\" stroke=\"")
            .append(c).append("\" stroke-width=\"0.5\"/>");
        case "dot" -> b.append("<circle cx=\"").append(f1(x + 6)).append("\" cy=\"").append(y + 5).append(
            "\" r=\"3\" fill=\"").append(c).append("\"/>");
        case "hollow" -> b.append("<circle cx=\"").append(f1(x + 6)).append("\" cy=\"").append(y + 5).append(
            "\" r=\"3\" fill=\"none\" stroke=\"").append(c).append("\" stroke-width=\"1\"/>");
        default -> b.append("<line x1=\"").append(f1(x + 6)).append("\" y1=\"").append(y).append("\" x2=\"")
            .append(f1(x + 6)).append("\" y2=\"").append(y + 10).append("\" stroke=\"").append(c)
            .append("\" stroke-width=\"1.5\"/>");
      }
      b.append("<text x=\"").append(f1(x + 16)).append("\" y=\"").append(y + 9).append("\">")
          .append(xml(item.label())).append("</text>\n");
      x += adv;
    }
    b.append("</g>\n");
    if (w != null && !items.isEmpty()) {
      w.write(b.toString());
    }
    return items.isEmpty() ? 0 : y - y0 + 16;
  }

  private static List<LegendItem> faultLegend(List<Fault> faults) {
    Set<String> kinds = new LinkedHashSet<>();
    for (Fault f : faults) {
      kinds.add(f.kind() == null ? "" : f.kind());
    }
    List<LegendItem> items = new ArrayList<>();
    for (String k : kinds) {
      items.add(new LegendItem("band", faultColour(k), "fault: " + k));
    }
    return items;
  }

  private static void svgOpen(Writer w, int height, String heading) throws IOException {
    w.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.write("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + WIDTH + "\" height=\"" + height
        + "\" viewBox=\"0 0 " + WIDTH + " " + height + "\" font-family=\"sans-serif\">\n");
    w.write("<rect x=\"0\" y=\"0\" width=\"" + WIDTH + "\" height=\"" + height + "\" fill=\"#fff\"/>\n");
    w.write("<text x=\"" + LEFT + "\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">"
        + xml(heading) + "</text>\n");
  }

  // ---------------------------------------------------------------------------------------------------------
  // timeline.svg

  private static void writeTimeline(Path file, String title, List<OpRecord> ops, List<Fault> faults, Axis axis)
      throws IOException {
    TreeSet<Integer> procs = new TreeSet<>();
    for (OpRecord op : ops) {
      procs.add(op.process());
    }
    Map<Integer, Integer> row = new TreeMap<>();
    for (int p : procs) {
      row.put(p, row.size());
    }
    List<LegendItem> items = new ArrayList<>();
    items.add(new LegendItem("rect", OK_COLOUR, "ok"));
    items.add(new LegendItem("rect", FAIL_COLOUR, "fail"));
    items.add(new LegendItem("faded", UNKNOWN_COLOUR, "unknown (drawn to run end)"));
    items.addAll(faultLegend(faults));

    int legendTop = 30;
    int legendH = legend(null, items, legendTop);
    int[] lanes = faultLanes(faults, axis);
    int labelTop = legendTop + legendH + 4;
    int plotTop = labelTop + laneCount(lanes) * LANE_H + 4;
    int plotBottom = plotTop + Math.max(1, procs.size()) * ROW_H;
    int height = plotBottom + 44;

    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      svgOpen(w, height, title + " — operations by process");
      legend(w, items, legendTop);
      // row stripes, then the fault bands, then gridlines, then the operations on top
      StringBuilder b = new StringBuilder("<g class=\"rows\" font-size=\"9\" fill=\"#333\">\n");
      for (Map.Entry<Integer, Integer> e : row.entrySet()) {
        int y = plotTop + e.getValue() * ROW_H;
        if (e.getValue() % 2 == 1) {
          b.append("<rect x=\"").append(LEFT).append("\" y=\"").append(y).append("\" width=\"").append(axis.plotW)
              .append("\" height=\"").append(ROW_H).append("\" fill=\"#f4f4f4\"/>\n");
        }
        b.append("<text x=\"").append(LEFT - 4).append("\" y=\"").append(y + ROW_H - 3)
            .append("\" text-anchor=\"end\">p").append(e.getKey()).append("</text>\n");
      }
      if (procs.isEmpty()) {
        b.append("<text x=\"").append(LEFT + 4).append("\" y=\"").append(plotTop + ROW_H - 3)
            .append("\">no operations</text>\n");
      }
      b.append("</g>\n");
      w.write(b.toString());
      faultBands(w, faults, axis, lanes, labelTop, labelTop, plotBottom);
      xAxis(w, axis, plotTop, plotBottom);

      // unknown ops first: they are translucent and run to the end, so they must not cover definite ones
      w.write("<g class=\"ops\">\n");
      for (int pass = 0; pass < 2; pass++) {
        for (OpRecord op : ops) {
          boolean unknown = op.outcome() == OpRecord.Outcome.UNKNOWN || op.outcome() == null;
          if (unknown == (pass == 1)) {
            continue;
          }
          w.write(opRect(op, unknown, axis, plotTop + row.get(op.process()) * ROW_H + 1, b));
        }
      }
      w.write("</g>\n</svg>\n");
    }
  }

  private static String opRect(OpRecord op, boolean unknown, Axis axis, int y, StringBuilder b) {
    long end = unknown ? axis.endNs : op.completeNs() >= 0 ? op.completeNs() : axis.endNs;
    double x0 = axis.x(op.invokeNs());
    double width = Math.max(1, axis.x(end) - x0);
    String colour = unknown ? UNKNOWN_COLOUR : op.outcome() == OpRecord.Outcome.FAIL ? FAIL_COLOUR : OK_COLOUR;
    b.setLength(0);
    b.append("<rect x=\"").append(f1(x0)).append("\" y=\"").append(y).append("\" width=\"").append(f1(width))
        .append("\" height=\"").append(ROW_H - 2).append("\" fill=\"").append(colour).append('"');
    if (unknown) {
      b.append(" opacity=\"0.35\"");
    }
    b.append("><title>").append(xml(opTitle(op))).append("</title></rect>\n");
    return b.toString();
  }

  private static String opTitle(OpRecord op) {
    String latency = op.completeNs() >= 0
        ? String.format(Locale.ROOT, "%.3f ms", op.latencyNs() / 1e6) : "?";
    return op.f() + " " + op.lock() + " " + (op.outcome() == null ? "unknown"
        : op.outcome().name().toLowerCase(Locale.ROOT)) + " token=" + op.token() + " value="
        + (op.value() == null ? "" : op.value()) + " latency=" + latency
        + String.format(Locale.ROOT, " (p%d, op %d, at %.3f s)", op.process(), op.id(), op.invokeNs() / 1e9);
  }

  // ---------------------------------------------------------------------------------------------------------
  // latency.svg

  static String fColour(String f) {
    for (int i = 0; i < F_NAMES.length; i++) {
      if (F_NAMES[i].equals(f)) {
        return F_COLOURS[i];
      }
    }
    return GREY;
  }

  private static String decadeLabel(int e) {
    if (e >= 0 && e <= 6) {
      return "1" + "0".repeat(e);
    }
    if (e < 0 && e >= -3) {
      return "0." + "0".repeat(-e - 1) + "1";
    }
    return "1e" + e;
  }

  private static void writeLatency(Path file, String title, List<OpRecord> ops, List<Fault> faults, Axis axis)
      throws IOException {
    double minMs = Double.POSITIVE_INFINITY;
    double maxMs = 0;
    Set<String> fsSeen = new LinkedHashSet<>();
    boolean anyOther = false;
    boolean anyFail = false;
    boolean anyUnknown = false;
    for (OpRecord op : ops) {
      if (op.outcome() == OpRecord.Outcome.UNKNOWN || op.outcome() == null) {
        anyUnknown = true;
        continue;
      }
      if (op.completeNs() < 0) {
        continue;
      }
      anyFail |= op.outcome() == OpRecord.Outcome.FAIL;
      double ms = op.latencyNs() / 1e6;
      if (ms > 0) {
        minMs = Math.min(minMs, ms);
      }
      maxMs = Math.max(maxMs, ms);
      if (fColour(op.f()).equals(GREY)) {
        anyOther = true;
      } else {
        fsSeen.add(op.f());
      }
    }
    int loE = 0;
    if (minMs < 1) {
      loE = Math.max(-3, (int) Math.floor(Math.log10(minMs)));
    }
    int hiE = maxMs > 0 ? (int) Math.ceil(Math.log10(maxMs) - 1e-9) : 1;
    hiE = Math.max(Math.max(hiE, 1), loE + 1);
    final int lo = loE;
    final int hi = hiE;

    List<LegendItem> items = new ArrayList<>();
    for (int i = 0; i < F_NAMES.length; i++) {
      if (fsSeen.contains(F_NAMES[i])) {
        items.add(new LegendItem("dot", F_COLOURS[i], F_NAMES[i]));
      }
    }
    if (anyOther) {
      items.add(new LegendItem("dot", GREY, "other"));
    }
    items.add(new LegendItem("dot", "#555", "ok (filled)"));
    if (anyFail) {
      items.add(new LegendItem("hollow", "#555", "fail (hollow)"));
    }
    if (anyUnknown) {
      items.add(new LegendItem("tick", UNKNOWN_COLOUR, "unknown (tick at top, invoke time)"));
    }
    items.addAll(faultLegend(faults));

    int legendTop = 30;
    int legendH = legend(null, items, legendTop);
    int[] lanes = faultLanes(faults, axis);
    int labelTop = legendTop + legendH + 4;
    int tickTop = labelTop + laneCount(lanes) * LANE_H + 4;
    int plotTop = tickTop + 10;
    int plotH = 420;
    int plotBottom = plotTop + plotH;
    int height = plotBottom + 44;

    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      svgOpen(w, height, title + " — latency over time");
      legend(w, items, legendTop);
      faultBands(w, faults, axis, lanes, labelTop, labelTop, plotBottom);
      xAxis(w, axis, plotTop, plotBottom);
      StringBuilder b = new StringBuilder("<g class=\"y-axis\" font-size=\"10\" fill=\"#333\">\n");
      for (int e = lo; e <= hi; e++) {
        double y = plotBottom - plotH * (double) (e - lo) / (hi - lo);
        b.append("<line x1=\"").append(LEFT - 4).append("\" y1=\"").append(f1(y)).append("\" x2=\"")
            .append(f1(axis.right())).append("\" y2=\"").append(f1(y))
            .append("\" stroke=\"#ddd\" stroke-width=\"0.6\"/>\n");
        b.append("<text x=\"").append(LEFT - 6).append("\" y=\"").append(f1(y + 3.5))
            .append("\" text-anchor=\"end\">").append(decadeLabel(e)).append("</text>\n");
      }
      b.append("<line x1=\"").append(LEFT).append("\" y1=\"").append(plotTop).append("\" x2=\"").append(LEFT)
          .append("\" y2=\"").append(plotBottom).append("\" stroke=\"#333\" stroke-width=\"1\"/>\n");
      b.append("<text transform=\"translate(14,").append((plotTop + plotBottom) / 2)
          .append(") rotate(-90)\" text-anchor=\"middle\">latency (ms, log scale)</text>\n");
      b.append("</g>\n");
      w.write(b.toString());

      w.write("<g class=\"points\">\n");
      for (OpRecord op : ops) {
        double x = axis.x(op.invokeNs());
        b.setLength(0);
        if (op.outcome() == OpRecord.Outcome.UNKNOWN || op.outcome() == null) {
          b.append("<line x1=\"").append(f1(x)).append("\" y1=\"").append(tickTop).append("\" x2=\"")
              .append(f1(x)).append("\" y2=\"").append(plotTop).append("\" stroke=\"").append(UNKNOWN_COLOUR)
              .append("\" stroke-width=\"1\"/>\n");
        } else if (op.completeNs() >= 0) {
          double ms = op.latencyNs() / 1e6;
          double l = ms > 0 ? Math.log10(ms) : lo;
          l = Math.max(lo, Math.min(hi, l));
          double y = plotBottom - plotH * (l - lo) / (hi - lo);
          String c = fColour(op.f());
          b.append("<circle cx=\"").append(f1(x)).append("\" cy=\"").append(f1(y));
          if (op.outcome() == OpRecord.Outcome.FAIL) {
            b.append("\" r=\"2\" fill=\"none\" stroke=\"").append(c).append("\" stroke-width=\"0.8\"/>\n");
          } else {
            b.append("\" r=\"1.5\" fill=\"").append(c).append("\"/>\n");
          }
        } else {
          continue;
        }
        w.write(b.toString());
      }
      w.write("</g>\n</svg>\n");
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // index.html

  private static String statusColour(Verdict.Status s) {
    return switch (s) {
      case PASS -> OK_COLOUR;
      case FAIL -> FAIL_COLOUR;
      default -> GREY;
    };
  }

  private static void writeIndex(Path file, String title, Map<String, String> info, List<OpRecord> ops,
      List<Fault> faults, List<Verdict> verdicts, long endNs) throws IOException {
    String overall = overall(verdicts);
    String overallColour = switch (overall) {
      case "VALID" -> OK_COLOUR;
      case "INVALID" -> FAIL_COLOUR;
      default -> GREY;
    };
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
        .append(xml(title)).append("</title>\n<style>\n")
        .append("body{font-family:sans-serif;margin:1.5em;color:#222}\n")
        .append("table{border-collapse:collapse;margin:0.5em 0 1.5em}\n")
        .append("th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\n")
        .append("th{background:#f0f0f0}\n")
        .append("td.num{text-align:right;font-variant-numeric:tabular-nums}\n")
        .append(".overall{font-size:2.5em;font-weight:bold;margin:0.2em 0 0.6em}\n")
        .append("ul.findings{margin:0.2em 0;padding-left:1.5em;font-family:monospace;font-size:0.9em}\n")
        .append("code{white-space:pre-wrap}\nimg{max-width:100%;border:1px solid #ddd}\n")
        .append("</style>\n</head>\n<body>\n");
    h.append("<h1>").append(xml(title)).append("</h1>\n");
    h.append("<div class=\"overall\" style=\"color:").append(overallColour).append("\">").append(overall)
        .append("</div>\n");

    long ok = 0;
    long fail = 0;
    long unknown = 0;
    for (OpRecord op : ops) {
      if (op.outcome() == OpRecord.Outcome.OK) {
        ok++;
      } else if (op.outcome() == OpRecord.Outcome.FAIL) {
        fail++;
      } else {
        unknown++;
      }
    }
    h.append(String.format(Locale.ROOT,
        "<p>%d operations (%d ok, %d fail, %d unknown), %d fault windows, %.1f s.</p>\n",
        ops.size(), ok, fail, unknown, faults.size(), endNs / 1e9));

    h.append("<h2>Verdicts</h2>\n<table>\n<tr><th>checker</th><th>status</th><th>summary</th></tr>\n");
    for (Verdict v : verdicts) {
      Verdict.Status s = status(v);
      h.append("<tr><td>").append(xml(v.checker())).append("</td><td style=\"color:").append(statusColour(s))
          .append(";font-weight:bold\">").append(s.name()).append("</td><td>").append(xml(v.summary()))
          .append("</td></tr>\n");
      List<String> fs = findings(v);
      if (s != Verdict.Status.PASS && !fs.isEmpty()) {
        h.append("<tr><td></td><td colspan=\"2\"><ul class=\"findings\">\n");
        for (int i = 0; i < Math.min(MAX_FINDINGS, fs.size()); i++) {
          h.append("<li><code>").append(xml(fs.get(i))).append("</code></li>\n");
        }
        if (fs.size() > MAX_FINDINGS) {
          h.append("<li>… and ").append(fs.size() - MAX_FINDINGS)
              .append(" more (see <a href=\"verdicts.txt\">verdicts.txt</a>)</li>\n");
        }
        h.append("</ul></td></tr>\n");
      }
    }
    if (verdicts.isEmpty()) {
      h.append("<tr><td colspan=\"3\">no checkers ran</td></tr>\n");
    }
    h.append("</table>\n");

    if (!info.isEmpty()) {
      h.append("<h2>Run</h2>\n<table>\n");
      for (Map.Entry<String, String> e : info.entrySet()) {
        h.append("<tr><th>").append(xml(e.getKey())).append("</th><td><code>").append(xml(e.getValue()))
            .append("</code></td></tr>\n");
      }
      h.append("</table>\n");
    }

    appendOpsTable(h, ops);

    h.append("<h2>Faults</h2>\n");
    if (faults.isEmpty()) {
      h.append("<p>No faults were injected.</p>\n");
    } else {
      h.append("<table>\n<tr><th>kind</th><th>detail</th><th>start (s)</th><th>end (s)</th>"
          + "<th>quorum lost</th></tr>\n");
      for (Fault f : faults) {
        h.append("<tr><td><span style=\"display:inline-block;width:0.8em;height:0.8em;margin-right:0.4em;"
            + "background:").append(faultColour(f.kind())).append("\"></span>").append(xml(f.kind()))
            .append("</td><td>").append(xml(f.detail()))
            .append(f.failed() ? "<br><b>not carried out: " + xml(f.failure()) + "</b>" : "")
            .append("</td><td class=\"num\">")
            .append(String.format(Locale.ROOT, "%.3f", f.startNs() / 1e9)).append("</td><td class=\"num\">")
            .append(f.endNs() >= 0 ? String.format(Locale.ROOT, "%.3f", f.endNs() / 1e9) : "open at run end")
            .append("</td><td>").append(f.quorumLost() ? "<b>yes</b>" : "no").append("</td></tr>\n");
      }
      h.append("</table>\n");
    }

    h.append("<h2>Timeline</h2>\n<p><img src=\"timeline.svg\" alt=\"operations by process over time\"></p>\n");
    h.append("<h2>Latency</h2>\n<p><img src=\"latency.svg\" alt=\"latency over time\"></p>\n");
    h.append("<h2>Files</h2>\n<ul>\n<li><a href=\"history.jsonl\">history.jsonl</a> (every event, one JSON "
        + "object a line)</li>\n<li><a href=\"verdicts.txt\">verdicts.txt</a></li>\n"
        + "<li><a href=\"timeline.svg\">timeline.svg</a>, <a href=\"latency.svg\">latency.svg</a></li>\n</ul>\n");
    h.append("</body>\n</html>\n");
    Files.writeString(file, h.toString(), StandardCharsets.UTF_8);
  }

  /** Counts and latency percentiles per operation kind. */
  private static void appendOpsTable(StringBuilder h, List<OpRecord> ops) {
    if (ops.isEmpty()) {
      return;
    }
    Map<String, long[]> counts = new TreeMap<>();
    Map<String, List<Long>> latencies = new LinkedHashMap<>();
    for (OpRecord op : ops) {
      String f = op.f() == null ? "" : op.f();
      long[] c = counts.computeIfAbsent(f, k -> new long[3]);
      c[op.outcome() == OpRecord.Outcome.OK ? 0 : op.outcome() == OpRecord.Outcome.FAIL ? 1 : 2]++;
      if (op.completeNs() >= 0 && op.outcome() != OpRecord.Outcome.UNKNOWN && op.outcome() != null) {
        latencies.computeIfAbsent(f, k -> new ArrayList<>()).add(op.latencyNs());
      }
    }
    h.append("<h2>Operations</h2>\n<table>\n<tr><th>f</th><th>ok</th><th>fail</th><th>unknown</th>"
        + "<th>p50 (ms)</th><th>p99 (ms)</th><th>max (ms)</th></tr>\n");
    for (Map.Entry<String, long[]> e : counts.entrySet()) {
      long[] c = e.getValue();
      List<Long> l = latencies.getOrDefault(e.getKey(), new ArrayList<>());
      Collections.sort(l);
      h.append("<tr><td>").append(xml(e.getKey())).append("</td><td class=\"num\">").append(c[0])
          .append("</td><td class=\"num\">").append(c[1]).append("</td><td class=\"num\">").append(c[2])
          .append("</td><td class=\"num\">").append(pct(l, 0.50)).append("</td><td class=\"num\">")
          .append(pct(l, 0.99)).append("</td><td class=\"num\">").append(pct(l, 1.0)).append("</td></tr>\n");
    }
    h.append("</table>\n");
  }

  private static String pct(List<Long> sorted, double q) {
    if (sorted.isEmpty()) {
      return "–";
    }
    int i = (int) Math.min(sorted.size() - 1, Math.max(0, Math.ceil(q * sorted.size()) - 1));
    return String.format(Locale.ROOT, "%.3f", sorted.get(i) / 1e6);
  }

  // ---------------------------------------------------------------------------------------------------------
  // formatting

  /** Escapes text for XML and HTML; drops characters XML 1.0 cannot hold. */
  static String xml(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      String rep = switch (c) {
        case '&' -> "&amp;";
        case '<' -> "&lt;";
        case '>' -> "&gt;";
        case '"' -> "&quot;";
        case '\'' -> "&#39;";
        default -> null;
      };
      if (rep == null) {
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0xFFFE || c == 0xFFFF) {
          rep = "\uFFFD";
        } else if (Character.isHighSurrogate(c)) {
          if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            if (b != null) {
              b.append(c).append(s.charAt(i + 1));
            }
            i++;
            continue;
          }
          rep = "\uFFFD";
        } else if (Character.isLowSurrogate(c)) {
          rep = "\uFFFD";
        }
      }
      if (rep != null && b == null) {
        b = new StringBuilder(s.length() + 16);
        b.append(s, 0, i);
      }
      if (b != null) {
        if (rep != null) {
          b.append(rep);
        } else {
          b.append(c);
        }
      }
    }
    return b == null ? s : b.toString();
  }

  /** One decimal place, locale-independent and quick (the charts hold one element per operation). */
  static String f1(double v) {
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      return "0";
    }
    long tenths = Math.round(v * 10);
    StringBuilder b = new StringBuilder(12);
    if (tenths < 0) {
      b.append('-');
      tenths = -tenths;
    }
    b.append(tenths / 10);
    long frac = tenths % 10;
    if (frac != 0) {
      b.append('.').append(frac);
    }
    return b.toString();
  }
}
