package io.hasp.chaos.check;

import io.hasp.chaos.history.Fault;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.history.OpRecord.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * The checkers the chaos harness runs over a recorded history. Each returns a {@link Verdict}; none of them
 * trusts the workload's own view beyond what the history records.
 *
 * <p>How outcomes map to the semaphore model ({@link #toModel}): a release answered INVALID_KEY or
 * LOCK_NOT_FOUND means the hold had already ended (lease or session expiry), so it becomes a release that
 * happened somewhere between the acquire's invocation and that answer. An acquire or release with an unknown
 * outcome may or may not have happened; the process that ran it retired (its session ends), so a hold it may
 * have got ends at an unknown time after the invocation. A grant of the lease workload ends by expiry: at the
 * earliest {@code lease - maxClockSkew} after its invocation, at the latest never.
 */
public final class Checks {
  private Checks() {}

  static String s(long ns) {
    return String.format(Locale.ROOT, "%.3f s", ns / 1e9);
  }

  static Map<String, List<OpRecord>> byLock(List<OpRecord> ops) {
    Map<String, List<OpRecord>> m = new TreeMap<>();
    for (OpRecord op : ops) {
      m.computeIfAbsent(op.lock(), k -> new ArrayList<>()).add(op);
    }
    return m;
  }

  /** One lock's history as model operations (see the class comment). */
  static List<Op> toModel(List<OpRecord> lockOps, long leaseNs, long maxClockSkewNs) {
    List<Op> out = new ArrayList<>();
    Map<Integer, OpRecord> lastAcquire = new HashMap<>();
    int virtual = 1_000_000;
    for (OpRecord r : lockOps) {
      long done = r.completeNs() < 0 ? Long.MAX_VALUE : r.completeNs();
      boolean lease = r.workload().equals("lease");
      switch (r.f()) {
        case "acquire" -> {
          if (r.outcome() == Outcome.FAIL) {
            continue;
          }
          int p = lease ? virtual++ : r.process();
          if (r.outcome() == Outcome.OK) {
            out.add(new Op(p, Op.Type.ACQUIRE, r.invokeNs(), done, Op.Outcome.OK, r.token()));
          } else {
            out.add(Op.unknown(p, Op.Type.ACQUIRE, r.invokeNs()));
          }
          if (lease) {
            out.add(Op.unknown(p, Op.Type.RELEASE, r.invokeNs() + Math.max(0, leaseNs - maxClockSkewNs)));
          } else if (r.outcome() == Outcome.UNKNOWN) {
            out.add(Op.unknown(p, Op.Type.RELEASE, r.invokeNs()));
          } else {
            lastAcquire.put(p, r);
          }
        }
        case "release" -> {
          OpRecord acq = lastAcquire.remove(r.process());
          if (r.outcome() == Outcome.OK) {
            out.add(new Op(r.process(), Op.Type.RELEASE, r.invokeNs(), done, Op.Outcome.OK, 0));
          } else if (r.outcome() == Outcome.UNKNOWN) {
            out.add(Op.unknown(r.process(), Op.Type.RELEASE, r.invokeNs()));
          } else if (acq != null && (r.value().equals("INVALID_KEY") || r.value().equals("LOCK_NOT_FOUND"))) {
            out.add(new Op(r.process(), Op.Type.RELEASE, acq.invokeNs(), done, Op.Outcome.OK, 0));
          }
        }
        case "is-locked" -> {
          if (r.outcome() == Outcome.OK) {
            out.add(Op.isLocked(-1, r.invokeNs(), done, Boolean.parseBoolean(r.value())));
          }
        }
        case "get-lock" -> {
          if (r.outcome() == Outcome.OK) {
            out.add(Op.getLock(-1, r.invokeNs(), done, tokens(r.value())));
          }
        }
        default -> {
          // register writes are not lock operations
        }
      }
    }
    return out;
  }

  static long[] tokens(String csv) {
    if (csv.isBlank()) {
      return new long[0];
    }
    // "token" or "token/owner" per holder
    String[] parts = csv.split(",");
    long[] t = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i].trim();
      int slash = p.indexOf('/');
      t[i] = Long.parseLong(slash < 0 ? p : p.substring(0, slash));
    }
    return t;
  }

  /** Per-lock linearizability against a semaphore of the lock's size (reads included). */
  public static Verdict linearizability(List<OpRecord> ops, long leaseNs, long maxClockSkewNs, long budgetPerLock) {
    List<String> findings = new ArrayList<>();
    int locks = 0;
    int modelOps = 0;
    long states = 0;
    int undecided = 0;
    int bad = 0;
    for (Map.Entry<String, List<OpRecord>> e : byLock(ops).entrySet()) {
      List<Op> model = toModel(e.getValue(), leaseNs, maxClockSkewNs);
      if (model.isEmpty()) {
        continue;
      }
      long size = e.getValue().get(0).size();
      locks++;
      modelOps += model.size();
      SemaphoreChecker.Result r = runWithBigStack(() -> new SemaphoreChecker(size, budgetPerLock).check(model));
      states += r.statesExplored();
      if (r.verdict() == SemaphoreChecker.Verdict.NOT_LINEARIZABLE) {
        bad++;
        findings.add(e.getKey() + " (size " + size + "): not linearizable; the longest valid order covers "
            + r.longestPrefix() + " of " + r.operations() + " operations" + firstAfter(model, r.longestPrefix()));
      } else if (r.verdict() == SemaphoreChecker.Verdict.UNKNOWN) {
        undecided++;
        findings.add(e.getKey() + ": undecided within " + budgetPerLock + " states (" + r.operations() + " operations)");
      }
    }
    Verdict.Status status = bad > 0 ? Verdict.Status.FAIL : undecided > 0 ? Verdict.Status.UNKNOWN : Verdict.Status.PASS;
    return new Verdict("linearizability", status, String.format(Locale.ROOT,
        "%d locks, %d model operations, %d states searched, %d not linearizable, %d undecided",
        locks, modelOps, states, bad, undecided), findings);
  }

  private static String firstAfter(List<Op> model, int prefix) {
    List<Op> sorted = new ArrayList<>(model);
    sorted.sort(Comparator.comparingLong(Op::invokedNs));
    if (prefix < sorted.size()) {
      Op op = sorted.get(prefix);
      String who = op.process() >= 1_000_000 ? "a lease grant" : op.process() < 0 ? "a reader" : "p" + op.process();
      return "; stuck near " + op.type().name().toLowerCase(Locale.ROOT) + " by " + who + " invoked at "
          + s(op.invokedNs()) + (op.token() > 0 ? " token " + op.token() : "");
    }
    return "";
  }

  private static <T> T runWithBigStack(java.util.concurrent.Callable<T> task) {
    FutureTask<T> f = new FutureTask<>(task);
    Thread t = new Thread(null, f, "checker", 512L << 20);
    t.start();
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  /** A hold that certainly lasted from its grant's answer to its release's invocation (both OK). */
  record Hold(OpRecord acquire, OpRecord release) {
    long from() {
      return acquire.completeNs();
    }

    long to() {
      return release.invokeNs();
    }
  }

  static List<Hold> definiteHolds(List<OpRecord> lockOps) {
    Map<Integer, OpRecord> open = new HashMap<>();
    List<Hold> holds = new ArrayList<>();
    for (OpRecord r : lockOps) {
      if (r.f().equals("acquire") && r.outcome() == Outcome.OK && !r.workload().equals("lease")) {
        open.put(r.process(), r);
      } else if (r.f().equals("release")) {
        OpRecord a = open.remove(r.process());
        if (a != null && r.outcome() == Outcome.OK && a.completeNs() < r.invokeNs()) {
          holds.add(new Hold(a, r));
        }
      }
    }
    return holds;
  }

  /**
   * No more than {@code size} holders at once, counted over holds that certainly overlapped (grant answered
   * before the other's release was sent, both released OK), and fencing tokens unique per lock.
   */
  public static Verdict holders(List<OpRecord> ops) {
    List<String> findings = new ArrayList<>();
    long holds = 0;
    for (Map.Entry<String, List<OpRecord>> e : byLock(ops).entrySet()) {
      List<Hold> hs = definiteHolds(e.getValue());
      holds += hs.size();
      long size = e.getValue().get(0).size();
      List<long[]> events = new ArrayList<>();
      for (int i = 0; i < hs.size(); i++) {
        events.add(new long[] {hs.get(i).from(), 1, i});
        events.add(new long[] {hs.get(i).to(), -1, i});
      }
      events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
      List<Integer> current = new ArrayList<>();
      for (long[] ev : events) {
        if (ev[1] < 0) {
          current.remove(Integer.valueOf((int) ev[2]));
        } else {
          current.add((int) ev[2]);
          if (current.size() > size && findings.size() < 50) {
            StringBuilder b = new StringBuilder(e.getKey() + " (size " + size + "): " + current.size()
                + " holders at " + s(ev[0]) + ":");
            for (int i : current) {
              Hold h = hs.get(i);
              b.append(" p").append(h.acquire().process()).append(" token ").append(h.acquire().token())
                  .append(" [").append(s(h.from())).append(" .. ").append(s(h.to())).append("]");
            }
            findings.add(b.toString());
          }
        }
      }
      Map<Long, OpRecord> seen = new HashMap<>();
      for (OpRecord r : e.getValue()) {
        if (r.f().equals("acquire") && r.outcome() == Outcome.OK) {
          OpRecord other = seen.put(r.token(), r);
          if (other != null && findings.size() < 50) {
            findings.add(e.getKey() + ": token " + r.token() + " granted twice (p" + other.process() + " at "
                + s(other.invokeNs()) + ", p" + r.process() + " at " + s(r.invokeNs()) + ")");
          }
        }
      }
    }
    return new Verdict("holders", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL,
        holds + " definite holds checked for overlap beyond size and duplicate tokens", findings);
  }

  /**
   * Fencing: tokens of grants increase in real-time order (a grant answered before another was asked for has
   * the lower token), and the register saw no stale write from a holder that still held the lock (a write
   * rejected although its process then released OK means a later grant happened while it held).
   */
  public static Verdict fencing(List<OpRecord> ops) {
    List<String> findings = new ArrayList<>();
    long grants = 0;
    long writes = 0;
    long rejected = 0;
    for (Map.Entry<String, List<OpRecord>> e : byLock(ops).entrySet()) {
      List<OpRecord> g = e.getValue().stream().filter(r -> r.f().equals("acquire") && r.outcome() == Outcome.OK).toList();
      grants += g.size();
      List<OpRecord> byComplete = new ArrayList<>(g);
      byComplete.sort(Comparator.comparingLong(OpRecord::completeNs));
      List<OpRecord> byInvoke = new ArrayList<>(g);
      byInvoke.sort(Comparator.comparingLong(OpRecord::invokeNs));
      int j = 0;
      OpRecord maxBefore = null;
      for (OpRecord b : byInvoke) {
        while (j < byComplete.size() && byComplete.get(j).completeNs() < b.invokeNs()) {
          OpRecord a = byComplete.get(j++);
          if (maxBefore == null || a.token() > maxBefore.token()) {
            maxBefore = a;
          }
        }
        if (maxBefore != null && b.token() <= maxBefore.token() && findings.size() < 50) {
          findings.add(e.getKey() + ": p" + b.process() + " got token " + b.token() + " at " + s(b.invokeNs())
              + " after p" + maxBefore.process() + " had got token " + maxBefore.token() + " by "
              + s(maxBefore.completeNs()));
        }
      }
      Map<Integer, OpRecord> rejectedWrite = new HashMap<>();
      long highest = Long.MIN_VALUE;
      for (OpRecord r : e.getValue()) {
        if (r.f().equals("write")) {
          writes++;
          if (r.outcome() == Outcome.OK) {
            highest = Math.max(highest, r.token());
          } else {
            rejected++;
            rejectedWrite.put(r.process(), r);
          }
        } else if (r.f().equals("release")) {
          OpRecord w = rejectedWrite.remove(r.process());
          if (w != null && r.outcome() == Outcome.OK && findings.size() < 50) {
            findings.add(e.getKey() + ": p" + w.process() + " still held token " + w.token() + " (its release at "
                + s(r.invokeNs()) + " succeeded) but the register had already accepted a higher token at "
                + s(w.invokeNs()) + ": two holders at once");
          }
        }
      }
    }
    return new Verdict("fencing", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL, String.format(
        Locale.ROOT, "%d grants in real-time order, %d register writes (%d stale ones rejected)", grants, writes,
        rejected), findings);
  }

  /** Every acknowledged grant is visible to reads that ran wholly inside its definite hold. */
  public static Verdict readVisibility(List<OpRecord> ops) {
    List<String> findings = new ArrayList<>();
    long checked = 0;
    for (Map.Entry<String, List<OpRecord>> e : byLock(ops).entrySet()) {
      List<Hold> holds = definiteHolds(e.getValue());
      List<OpRecord> reads = e.getValue().stream().filter(r -> (r.f().equals("is-locked") || r.f().equals("get-lock"))
          && r.outcome() == Outcome.OK).toList();
      for (OpRecord read : reads) {
        for (Hold h : holds) {
          if (read.invokeNs() > h.from() && read.completeNs() < h.to()) {
            checked++;
            boolean seen = read.f().equals("is-locked") ? read.value().equals("true")
                : java.util.Arrays.stream(tokens(read.value())).anyMatch(t -> t == h.acquire().token());
            if (!seen && findings.size() < 50) {
              findings.add(e.getKey() + ": " + read.f() + " by p" + read.process() + " [" + s(read.invokeNs()) + " .. "
                  + s(read.completeNs()) + "] saw '" + read.value() + "' while p" + h.acquire().process()
                  + " held token " + h.acquire().token() + " [" + s(h.from()) + " .. " + s(h.to()) + "]");
            }
          }
        }
      }
    }
    return new Verdict("read-visibility", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL,
        checked + " reads inside acknowledged holds", findings);
  }

  /**
   * No hold outlives its abandon: once a client reported a given-up wait settled (an {@code abandon} operation
   * completed), no read invoked after that may still show a holder with the owner label that wait used.
   */
  public static Verdict abandons(List<OpRecord> ops) {
    List<String> findings = new ArrayList<>();
    long abandons = 0;
    long reads = 0;
    long unsettled = 0;
    for (Map.Entry<String, List<OpRecord>> e : byLock(ops).entrySet()) {
      List<OpRecord> settled = new ArrayList<>();
      for (OpRecord r : e.getValue()) {
        if (r.f().equals("abandon")) {
          abandons++;
          if (r.outcome() == Outcome.OK) {
            settled.add(r);
          } else {
            unsettled++;
          }
        }
      }
      if (settled.isEmpty()) {
        continue;
      }
      for (OpRecord read : e.getValue()) {
        if (!read.f().equals("get-lock") || read.outcome() != Outcome.OK) {
          continue;
        }
        for (OpRecord a : settled) {
          if (read.invokeNs() > a.completeNs()) {
            reads++;
            for (String holder : read.value().split(",")) {
              int slash = holder.indexOf('/');
              if (slash > 0 && holder.substring(slash + 1).equals(a.value()) && findings.size() < 50) {
                findings.add(e.getKey() + ": the wait of " + a.value() + " was given up at " + s(a.invokeNs())
                    + " and settled by " + s(a.completeNs()) + ", but a read at " + s(read.invokeNs())
                    + " still saw it hold token " + holder.substring(0, slash));
              }
            }
          }
        }
      }
    }
    return new Verdict("abandons", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL,
        String.format(Locale.ROOT, "%d waits given up (%d not confirmed settled within 35 s), %d reads after a "
            + "settled abandon checked", abandons, unsettled, reads), findings);
  }

  /** Faults after which every waiting client must be granted again soon: a quorum stays reachable. */
  static final List<String> NODE_FAULTS = List.of("kill", "kill-leader", "pause-leader", "isolate-leader");

  /**
   * The W7 check of the peers benchmark, on the forever workload: after each fault that kills, pauses or
   * isolates one node, every forever client (slot) that is still running gets a grant of the primary lock within
   * {@code boundNs} of the fault's start. The answer to "does my {@code lock()} with no timeout fail over".
   */
  public static Verdict failover(List<OpRecord> ops, List<Fault> faults, long boundNs) {
    List<String> findings = new ArrayList<>();
    Map<Integer, List<Long>> grants = new TreeMap<>();
    long lastNs = 0;
    int acquires = 0;
    for (OpRecord r : ops) {
      lastNs = Math.max(lastNs, Math.max(r.invokeNs(), r.completeNs()));
      acquires += r.workload().equals("forever") && r.f().equals("acquire") ? 1 : 0;
      if (r.workload().equals("forever") && r.f().equals("acquire") && r.outcome() == Outcome.OK
          && r.value().startsWith("slot")) {
        int slot = Integer.parseInt(r.value().substring(4, r.value().indexOf(' ')));
        grants.computeIfAbsent(slot, k -> new ArrayList<>()).add(r.completeNs());
      } else if (r.workload().equals("forever") && r.f().equals("acquire") && !r.value().startsWith("WAIT_CANCELLED")
          && findings.size() < 50) {
        // lock() without a wait timeout has no error to give but the client's own close (WAIT_CANCELLED, the
        // harness stopping): any other error is one a user's failover code would see
        findings.add("forever lock() invoked at " + s(r.invokeNs()) + " ended with " + r.value() + " ("
            + r.outcome() + ")");
      }
    }
    if (acquires == 0) {
      return new Verdict("failover", Verdict.Status.PASS, "no forever workload in this run", findings);
    }
    if (grants.isEmpty()) {
      return new Verdict("failover", Verdict.Status.FAIL, acquires + " forever lock() calls, not one granted",
          findings);
    }
    int checked = 0;
    long worst = 0;
    Map<String, Long> worstByKind = new TreeMap<>();
    for (Fault f : faults) {
      if (!NODE_FAULTS.contains(f.kind()) || f.startNs() + boundNs > lastNs) {
        continue;
      }
      checked++;
      for (Map.Entry<Integer, List<Long>> g : grants.entrySet()) {
        long first = Long.MAX_VALUE;
        for (long t : g.getValue()) {
          if (t > f.startNs() && t < first) {
            first = t;
          }
        }
        if (first == Long.MAX_VALUE) {
          continue; // the slot made no grant after this fault at all: it stopped (end of run)
        }
        worst = Math.max(worst, first - f.startNs());
        worstByKind.merge(f.kind(), first - f.startNs(), Math::max);
        if (first - f.startNs() > boundNs && findings.size() < 50) {
          findings.add("forever slot " + g.getKey() + ": first grant " + s(first - f.startNs()) + " after "
              + f.kind() + " (" + f.detail() + ") at " + s(f.startNs()));
        }
      }
    }
    return new Verdict("failover", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL, String.format(
        Locale.ROOT, "%d node faults, %d forever clients: every one granted within %s of each (worst %s)", checked,
        grants.size(), s(boundNs), s(worst)), withWorst(findings, worstByKind));
  }

  private static List<String> withWorst(List<String> findings, Map<String, Long> worstByKind) {
    List<String> all = new ArrayList<>(findings);
    worstByKind.forEach((kind, ns) -> all.add("worst first grant after " + kind + ": " + s(ns)));
    return all;
  }

  /**
   * The nemesis: every planned fault was carried out. A fault the system under test kept from being carried
   * out is a finding, never a reason to stop the run: above all a member the membership nemesis removed and
   * started again empty that the group did not take back (the add failed, or the node never caught up within
   * the nemesis' budget). That is a loss of membership availability (the group runs a member short from then
   * on), so it fails the run.
   */
  public static Verdict nemesis(List<Fault> faults) {
    List<String> findings = new ArrayList<>();
    Map<String, Integer> byKind = new TreeMap<>();
    for (Fault f : faults) {
      byKind.merge(f.kind(), 1, Integer::sum);
      if (f.failed()) {
        findings.add(String.format(Locale.ROOT, "%s at %.1f s (%s) not carried out: %s", f.kind(),
            f.startNs() / 1e9, f.detail(), f.failure()));
      }
    }
    String summary = String.format(Locale.ROOT, "%d of %d faults carried out %s", faults.size() - findings.size(),
        faults.size(), byKind);
    return new Verdict("nemesis", findings.isEmpty() ? Verdict.Status.PASS : Verdict.Status.FAIL, summary, findings);
  }

  /**
   * Availability: the share of operations answered definitely (ok, or a definite no such as a wait timeout)
   * among those invoked while a quorum was reachable, i.e. outside windows where the nemesis took a majority
   * away; plus latency percentiles of OK operations. Fails below {@code minAvailability}.
   */
  public static Verdict availability(List<OpRecord> ops, List<Fault> faults, double minAvailability) {
    long inQuorum = 0;
    long answered = 0;
    long all = 0;
    long allAnswered = 0;
    Map<String, long[]> perFault = new LinkedHashMap<>();
    Map<String, List<Long>> latency = new TreeMap<>();
    for (OpRecord r : ops) {
      if (r.f().equals("write") || r.f().equals("abandon") || r.value().equals("abandoned")) {
        continue; // given-up waits have no answer by design
      }
      boolean ok = r.outcome() != Outcome.UNKNOWN;
      all++;
      allAnswered += ok ? 1 : 0;
      boolean quorum = true;
      for (Fault f : faults) {
        long end = f.endNs() < 0 ? Long.MAX_VALUE : f.endNs();
        if (r.invokeNs() >= f.startNs() && r.invokeNs() < end) {
          long[] c = perFault.computeIfAbsent(f.kind(), k -> new long[2]);
          c[0]++;
          c[1] += ok ? 1 : 0;
          quorum &= !f.quorumLost();
        }
      }
      if (quorum) {
        inQuorum++;
        answered += ok ? 1 : 0;
      }
      if (r.outcome() == Outcome.OK) {
        latency.computeIfAbsent(r.f(), k -> new ArrayList<>()).add(r.latencyNs());
      }
    }
    double a = inQuorum == 0 ? 1.0 : (double) answered / inQuorum;
    List<String> findings = new ArrayList<>();
    findings.add(String.format(Locale.ROOT, "all operations: %d of %d answered (%.1f%%)", allAnswered, all,
        all == 0 ? 100.0 : 100.0 * allAnswered / all));
    long[] gap = longestGap(ops);
    if (gap != null) {
      findings.add(String.format(Locale.ROOT, "longest time without any successful operation: %.3f s, from %s to %s%s",
          (gap[1] - gap[0]) / 1e9, s(gap[0]), s(gap[1]), during(faults, gap[0], gap[1])));
    }
    List<Fault> quorumLost = faults.stream().filter(Fault::quorumLost).toList();
    long[] inQuorumGap = longestGap(ops, quorumLost);
    if (inQuorumGap != null && !quorumLost.isEmpty()) {
      findings.add(String.format(Locale.ROOT, "longest time without any successful operation while a quorum was "
          + "reachable: %.3f s, from %s to %s%s", (inQuorumGap[1] - inQuorumGap[0]) / 1e9, s(inQuorumGap[0]),
          s(inQuorumGap[1]), during(faults, inQuorumGap[0], inQuorumGap[1])));
    }
    for (Map.Entry<String, long[]> e : perFault.entrySet()) {
      findings.add(String.format(Locale.ROOT, "during %s: %d of %d answered (%.1f%%)", e.getKey(), e.getValue()[1],
          e.getValue()[0], 100.0 * e.getValue()[1] / e.getValue()[0]));
    }
    for (Map.Entry<String, List<Long>> e : latency.entrySet()) {
      List<Long> l = e.getValue();
      l.sort(null);
      findings.add(String.format(Locale.ROOT, "latency of ok %s (n=%d): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms",
          e.getKey(), l.size(), pct(l, 0.50), pct(l, 0.95), pct(l, 0.99), l.get(l.size() - 1) / 1e6));
    }
    return new Verdict("availability", a >= minAvailability ? Verdict.Status.PASS : Verdict.Status.FAIL,
        String.format(Locale.ROOT, "%.1f%% of %d operations invoked while a quorum was reachable were answered "
            + "(threshold %.0f%%)", 100 * a, inQuorum, 100 * minAvailability), findings);
  }

  /** The longest interval between two successive OK completions (from the first to the last), or null. */
  static long[] longestGap(List<OpRecord> ops) {
    return longestGap(ops, List.of());
  }

  /**
   * As {@link #longestGap(List)}, among the intervals that overlap no fault window in which the nemesis took the
   * quorum away ({@code excluded}: faults whose quorum was lost; an interval touching one is not counted).
   */
  static long[] longestGap(List<OpRecord> ops, List<Fault> excluded) {
    List<Long> done = new ArrayList<>();
    for (OpRecord r : ops) {
      if (r.outcome() == Outcome.OK && !r.f().equals("write")) {
        done.add(r.completeNs());
      }
    }
    if (done.size() < 2) {
      return null;
    }
    done.sort(null);
    long[] best = {done.get(0), done.get(0)};
    for (int i = 1; i < done.size(); i++) {
      long from = done.get(i - 1);
      long to = done.get(i);
      if (to - from > best[1] - best[0] && !overlapsAny(excluded, from, to)) {
        best = new long[] {from, to};
      }
    }
    return best;
  }

  private static boolean overlapsAny(List<Fault> faults, long from, long to) {
    for (Fault f : faults) {
      long end = f.endNs() < 0 ? Long.MAX_VALUE : f.endNs();
      if (f.startNs() < to && end > from) {
        return true;
      }
    }
    return false;
  }

  private static String during(List<Fault> faults, long from, long to) {
    List<String> kinds = new ArrayList<>();
    for (Fault f : faults) {
      long end = f.endNs() < 0 ? Long.MAX_VALUE : f.endNs();
      if (f.startNs() < to && end > from) {
        kinds.add(f.kind() + " (" + f.detail() + ")");
      }
    }
    return kinds.isEmpty() ? " (no fault active)" : " during " + String.join(", ", kinds);
  }

  static double pct(List<Long> sorted, double q) {
    return sorted.get((int) Math.min(sorted.size() - 1, Math.floor(q * sorted.size()))) / 1e6;
  }
}
