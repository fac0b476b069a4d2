package io.hasp.chaos.nemesis;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.hasp.chaos.cluster.Backend;
import io.hasp.chaos.cluster.Backend.Pair;
import io.hasp.chaos.history.History;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.AddMemberRequest;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.ListMembersRequest;
import io.hasp.proto.Member;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.server.Errors;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Injects faults into a {@link Backend} on a schedule planned from a seed: the same seed, node count, duration
 * and nemesis list give the same schedule (which fault, when, for how long, which random node). "The leader"
 * is whoever leads when the fault starts.
 */
public final class Nemesis {
  /** Every fault this harness knows, in the order the docs list them. */
  public static final List<String> ALL = List.of("partition-halves", "isolate-leader", "bridge", "kill",
      "kill-leader", "pause-leader", "restart-all", "clock-offset", "membership");


  /** One planned fault: start (ms after the workload starts), length, and seeded random choices. */
  public record Step(String kind, long atMs, long durationMs, int choice, int sign, long offsetMs) {}

  private final Backend backend;
  private final History history;
  private final List<ManagedChannel> channels = new ArrayList<>();

  public Nemesis(Backend backend, History history) {
    this.backend = backend;
    this.history = history;
    for (String e : backend.endpoints()) {
      channels.add(ManagedChannelBuilder.forTarget(e).usePlaintext().build());
    }
  }

  /**
   * Plans the faults: after a 5 s warm-up, every requested kind once in a seeded order (2–3 s quiet gaps,
   * 3–6 s faults), then seeded random kinds (2–4 s gaps, 3–8 s faults), until {@code durationMs - 10 s} (the
   * last 10 s let the cluster recover under load).
   */
  public static List<Step> plan(long seed, List<String> kinds, long durationMs) {
    Random r = new Random(seed);
    List<String> order = new ArrayList<>(kinds);
    Collections.shuffle(order, r);
    List<Step> steps = new ArrayList<>();
    long t = 5_000;
    for (int i = 0; !kinds.isEmpty(); i++) {
      boolean firstPass = i < order.size();
      String kind = firstPass ? order.get(i) : kinds.get(r.nextInt(kinds.size()));
      // The first pass is tighter (2-3 s gaps, 3-6 s faults) so that a 2-minute run fits every kind once.
      long gap = 2_000 + r.nextInt(firstPass ? 1_000 : 2_000);
      // a membership change takes what it takes (remove, the node's exit, restart, catch-up: 8-12 s here); the
      // plan reserves 8 s for it so that later faults stay near their planned times
      long length = kind.equals("membership") ? 8_000 : 3_000 + r.nextInt(firstPass ? 3_000 : 5_000);
      int choice = r.nextInt(1 << 20);
      int sign = r.nextBoolean() ? 1 : -1;
      long offset = sign * (1_000 + r.nextInt(3_000));
      if (t + gap + length > durationMs - 10_000) {
        break;
      }
      t += gap;
      steps.add(new Step(kind, t, length, choice, sign, offset));
      t += length;
    }
    return steps;
  }

  /** Runs the plan (times relative to now); returns the kinds that could not be injected here, with why. */
  public List<String> run(List<Step> plan, int nodes) throws Exception {
    List<String> skipped = new ArrayList<>();
    long start = System.nanoTime();
    for (Step step : plan) {
      long wait = step.atMs() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      if (wait > 0) {
        Thread.sleep(wait);
      }
      String why = inject(step, nodes);
      if (why != null && !skipped.contains(step.kind() + ": " + why)) {
        skipped.add(step.kind() + ": " + why);
      }
    }
    return skipped;
  }

  /** Applies one fault, holds it for its duration and heals it; null when done, else why it was not. */
  private String inject(Step step, int n) throws Exception {
    Random r = new Random(step.choice());
    int leader = leader(r.nextInt(n));
    switch (step.kind()) {
      case "partition-halves" -> {
        List<Integer> nodes = shuffled(n, r);
        Set<Integer> a = new LinkedHashSet<>(nodes.subList(0, n / 2));
        Set<Integer> b = new LinkedHashSet<>(nodes.subList(n / 2, n));
        partition(step, a, b);
      }
      case "isolate-leader" -> {
        Set<Integer> rest = new LinkedHashSet<>();
        for (int i = 0; i < n; i++) {
          if (i != leader) {
            rest.add(i);
          }
        }
        partition(step, Set.of(leader), rest);
      }
      case "bridge" -> {
        List<Integer> nodes = shuffled(n, r);
        int bridge = nodes.get(0);
        Set<Integer> a = new LinkedHashSet<>();
        Set<Integer> b = new LinkedHashSet<>();
        a.add(bridge);
        b.add(bridge);
        for (int i = 1; i < n; i++) {
          (i <= (n - 1) / 2 ? a : b).add(nodes.get(i));
        }
        Set<Pair> cut = Backend.between(a, b);
        int f = history.startFault("bridge", Backend.describe(List.of(a, b)) + " (" + Backend.nodeName(bridge)
            + " in both)", false);
        backend.cut(cut);
        Thread.sleep(step.durationMs());
        backend.cut(Set.of());
        history.endFault(f);
      }
      case "kill", "kill-leader" -> {
        int victim = step.kind().equals("kill") ? r.nextInt(n) : leader;
        int f = history.startFault(step.kind(), "kill -9 " + Backend.nodeName(victim), false);
        backend.kill(victim);
        Thread.sleep(step.durationMs());
        backend.start(victim);
        history.endFault(f);
      }
      case "pause-leader" -> {
        int f = history.startFault("pause-leader", "SIGSTOP " + Backend.nodeName(leader), false);
        backend.pause(leader);
        Thread.sleep(step.durationMs());
        backend.resume(leader);
        history.endFault(f);
      }
      case "restart-all" -> {
        int f = history.startFault("restart-all", "kill -9 every node, then start them all at once", true);
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          backend.kill(i);
          all.add(i);
        }
        Thread.sleep(Math.min(step.durationMs(), 2_000));
        backend.startTogether(all); // as after a power cut: no node waits for another to be up
        history.endFault(f);
      }
      case "clock-offset" -> {
        String why = backend.clockUnsupportedReason();
        if (why != null) {
          return why;
        }
        int victim = r.nextInt(n);
        int f = history.startFault("clock-offset", Backend.nodeName(victim) + (step.offsetMs() >= 0 ? " +" : " ")
            + step.offsetMs() + " ms", false);
        backend.clockOffset(victim, step.offsetMs());
        Thread.sleep(step.durationMs());
        backend.clockOffset(victim, 0);
        history.endFault(f);
      }
      case "membership" -> {
        // remove a random node or the leader through the admin API, let it stop (a removed node exits), start it
        // again as a new node (empty data, join=true), then add it back. What the group refuses or never
        // completes is a finding of the run (Checks.nemesis), not a reason to stop it.
        String unsupported = backend.rejoinUnsupportedReason();
        if (unsupported != null) {
          return unsupported;
        }
        List<Member> now = members();
        if (now == null) {
          return "no node listed the members when the fault began";
        }
        for (int i = 0; i < n; i++) {
          String id = Backend.nodeName(i);
          if (now.stream().noneMatch(m -> m.getId().equals(id)) && known.containsKey(id)) {
            // an earlier add of this node failed (a finding already): bring it back first, so that the group
            // is whole again for the faults that follow
            int f = history.startFault("membership", "add back " + id + " (no member since an earlier add of it "
                + "failed), restarted empty", false);
            try {
              rejoin(f, i, known.get(id), r);
            } finally {
              history.endFault(f);
            }
            return null;
          }
        }
        int victim = r.nextBoolean() ? leader : r.nextInt(n);
        String id = Backend.nodeName(victim);
        Member m = now.stream().filter(x -> x.getId().equals(id)).findFirst().orElse(null);
        if (m == null) {
          return id + " was not a member when the fault began";
        }
        int f = history.startFault("membership", "remove " + id + (victim == leader ? " (the leader)" : "")
            + ", restart it, add it back", false);
        try {
          try {
            onLeader(a -> a.removeMember(RemoveMemberRequest.newBuilder().setId(id).build()), 60_000);
          } catch (StatusRuntimeException | IllegalStateException e) {
            fail(f, id + " was not removed within 60 s: " + why(e));
            return null;
          }
          backend.awaitExit(victim, 30_000); // it stops by itself; startEmptyJoining kills it if it did not
          rejoin(f, victim, m, r);
        } finally {
          history.endFault(f);
        }
      }
      default -> throw new IllegalArgumentException("unknown nemesis " + step.kind() + " (known: " + ALL + ")");
    }
    return null;
  }

  /** Members seen so far by id (their addresses), to add back a node that an earlier add left out. */
  private final Map<String, Member> known = new HashMap<>();

  /**
   * The members as the current leader lists them (another node's list may be behind: a node an add left out
   * lists itself from its own first configuration); null when no node answers.
   */
  private List<Member> members() {
    int lead = leader(-1);
    List<Integer> order = new ArrayList<>();
    if (lead >= 0) {
      order.add(lead);
    }
    for (int i = 0; i < channels.size(); i++) {
      if (i != lead) {
        order.add(i);
      }
    }
    for (int i : order) {
      if (!backend.isRunning(i)) {
        continue;
      }
      try {
        List<Member> list = HaspAdminGrpc.newBlockingStub(channels.get(i)).withDeadlineAfter(2, TimeUnit.SECONDS)
            .listMembers(ListMembersRequest.getDefaultInstance()).getMembersList();
        for (Member m : list) {
          known.put(m.getId(), m);
        }
        return list;
      } catch (StatusRuntimeException e) {
        // try the next node
      }
    }
    return null;
  }

  /**
   * Starts node {@code victim} again as a new node (empty data, join=true) and adds it back; a node that does not
   * start, or that the group does not take back within the budget, is recorded on fault {@code f} as a finding.
   */
  private void rejoin(int f, int victim, Member m, Random r) throws InterruptedException {
    String id = m.getId();
    try {
      backend.startEmptyJoining(victim);
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      fail(f, id + " did not start again empty: " + e.getMessage());
      return;
    }
    Thread.sleep(1_000 + r.nextInt(2_000));
    long started = System.nanoTime();
    try {
      onLeader(a -> a.addMember(AddMemberRequest.newBuilder().setId(id).setRaftAddress(m.getRaftAddress())
          .setApiAddress(m.getApiAddress()).setCatchUpTimeoutMs(60_000).build()), ADD_BUDGET_MS);
      history.noteFault(f, String.format(Locale.ROOT, "; added back in %.1f s",
          (System.nanoTime() - started) / 1e9));
    } catch (StatusRuntimeException | IllegalStateException e) {
      fail(f, id + " was not added back within " + ADD_BUDGET_MS / 1000 + " s (it runs, empty, with join=true): "
          + why(e));
    }
  }

  /** How long the nemesis keeps asking the group to take a node back (the add waits up to 60 s per call). */
  static final long ADD_BUDGET_MS = 120_000;

  private void fail(int f, String why) {
    System.err.println("chaos: membership fault not carried out (a finding): " + why);
    history.failFault(f, why);
  }

  private static String why(RuntimeException e) {
    if (e instanceof StatusRuntimeException s) {
      String code = errorCode(s);
      return s.getStatus().getCode() + (code == null ? "" : " " + code) + ": " + s.getStatus().getDescription();
    }
    return e.getMessage();
  }

  /**
   * Sends an admin call to the running nodes in turn until one carries it out (the leader; the others answer
   * NOT_LEADER), for at most {@code budgetMs}. "Not the leader", "no quorum now" and "membership conflict" (another
   * change still in progress, e.g. the leader still staging an add whose call ran out of time) are tried again
   * within the budget; any other refusal ends it at once.
   */
  private <T> T onLeader(java.util.function.Function<HaspAdminGrpc.HaspAdminBlockingStub, T> call, long budgetMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMs);
    StatusRuntimeException last = null;
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < channels.size(); i++) {
        if (!backend.isRunning(i)) {
          continue;
        }
        try {
          return call.apply(HaspAdminGrpc.newBlockingStub(channels.get(i)).withDeadlineAfter(
              Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())), TimeUnit.MILLISECONDS));
        } catch (StatusRuntimeException e) {
          last = e;
          String code = errorCode(e);
          if (code != null && !code.equals("NOT_LEADER") && !code.equals("NO_QUORUM")
              && !code.equals("MEMBERSHIP_CONFLICT")) {
            throw e;
          }
        }
      }
      Thread.sleep(200);
    }
    throw last != null ? last : new IllegalStateException("no node ran to take the admin call");
  }

  /** Hasp's error code of a refused call (the hasp-error-code trailer), null when it carries none. */
  private static String errorCode(StatusRuntimeException e) {
    return e.getTrailers() == null ? null : e.getTrailers().get(Errors.ERROR_CODE);
  }

  private void partition(Step step, Set<Integer> a, Set<Integer> b) throws Exception {
    int f = history.startFault(step.kind(), Backend.describe(List.of(a, b)), false);
    backend.cut(Backend.between(a, b));
    Thread.sleep(step.durationMs());
    backend.cut(Set.of());
    history.endFault(f);
  }

  private static List<Integer> shuffled(int n, Random r) {
    List<Integer> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      nodes.add(i);
    }
    Collections.shuffle(nodes, r);
    return nodes;
  }

  /** The node that currently leads, by asking the nodes; {@code fallback} when none answers. */
  public int leader(int fallback) {
    for (int i = 0; i < channels.size(); i++) {
      if (!backend.isRunning(i)) {
        continue;
      }
      try {
        ClusterStatusResponse s = HaspGrpc.newBlockingStub(channels.get(i)).withDeadlineAfter(1, TimeUnit.SECONDS)
            .clusterStatus(ClusterStatusRequest.getDefaultInstance());
        if (!s.getLeaderId().isEmpty() && s.getLeaderId().startsWith("n")) {
          int leader = Integer.parseInt(s.getLeaderId().substring(1)) - 1;
          if (leader >= 0 && leader < channels.size()) {
            return leader;
          }
        }
      } catch (RuntimeException e) {
        // try the next node
      }
    }
    return fallback;
  }

  /** Waits until some node reports a leader (after start or healing). */
  public boolean awaitLeader(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      if (leader(-1) >= 0) {
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  /** Undoes every fault (end of run or after an error). */
  public void healAll(int n) {
    try {
      backend.cut(Set.of());
    } catch (Exception e) {
      System.err.println("chaos: heal network: " + e.getMessage());
    }
    for (int i = 0; i < n; i++) {
      try {
        backend.resume(i);
        if (backend.clockUnsupportedReason() == null) {
          backend.clockOffset(i, 0);
        }
        if (!backend.isRunning(i)) {
          backend.start(i);
        }
      } catch (Exception e) {
        System.err.println("chaos: heal " + Backend.nodeName(i) + ": " + e.getMessage());
      }
    }
    history.endAllFaults();
  }

  public void close() {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
  }
}
