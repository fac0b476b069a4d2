package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.hasp.client.HaspClient;
import io.hasp.client.LockHandle;
import io.hasp.proto.LockInfo;
import io.hasp.proto.AddMemberRequest;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.ListMembersRequest;
import io.hasp.proto.ListMembersResponse;
import io.hasp.proto.Member;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.proto.TakeSnapshotRequest;
import io.hasp.proto.TransferLeaderRequest;
import io.hasp.server.Errors;
import io.hasp.server.HaspNode;
import io.hasp.server.NodeClock;
import io.hasp.server.NodeConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership and leadership changes through the admin API on a running, loaded cluster of real nodes: a node
 * joins (staged by the leader, then a voter), another is removed and stops, leadership moves on request, and the
 * clients working all along see no error and find every hold and token as it was.
 */
class MembershipTest {
  @TempDir Path dir;

  private final Map<String, HaspNode> nodes = new LinkedHashMap<>();
  private final Map<String, String> raft = new LinkedHashMap<>();
  private final Map<String, String> api = new LinkedHashMap<>();
  private final Map<String, ManagedChannel> channels = new LinkedHashMap<>();
  private final List<String> removedNotices = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    for (HaspNode n : nodes.values()) {
      try {
        n.close();
      } catch (IOException | RuntimeException e) {
        // the others matter more
      }
    }
  }

  /**
   * A port free now, below the kernel's ephemeral range (a port from there can be taken, between a node's stop and
   * its restart, as the local port of a peer's outgoing connection), and never handed out before in this JVM: both
   * are FreePorts' own rules.
   */
  private static int newPort() throws IOException {
    return FreePorts.loopback(1)[0];
  }

  private void define(String id) throws IOException {
    raft.put(id, "127.0.0.1:" + newPort());
    api.put(id, "127.0.0.1:" + newPort());
  }

  private String peers(List<String> ids) {
    List<String> out = new ArrayList<>();
    for (String id : ids) {
      out.add(id + "=" + raft.get(id) + "/" + api.get(id));
    }
    return String.join(",", out);
  }

  private void start(String id, List<String> peerIds, boolean join) throws IOException {
    start(id, peerIds, join, Map.of());
  }

  private void start(String id, List<String> peerIds, boolean join, Map<String, String> extra) throws IOException {
    Map<String, String> cfg = new LinkedHashMap<>(extra);
    cfg.put("node.id", id);
    cfg.put("peers", peers(peerIds));
    cfg.put("data.dir", dir.resolve(id).toString());
    cfg.put("join", Boolean.toString(join));
    cfg.putIfAbsent("http.address", "off"); // not under test here; the derived port (API + 200) was never checked

    NodeConfig c = NodeConfig.load(null, Map.of(), cfg);
    nodes.put(id, HaspNode.start(c, NodeClock.steady(), () -> removedNotices.add(id + " fatal"),
        () -> removedNotices.add(id)));
  }

  private HaspAdminGrpc.HaspAdminBlockingStub admin(String id) {
    ManagedChannel ch = channels.computeIfAbsent(id, k -> NettyChannelBuilder.forTarget(api.get(k)).usePlaintext().build());
    return HaspAdminGrpc.newBlockingStub(ch).withDeadlineAfter(90, TimeUnit.SECONDS);
  }

  /** Sends an admin call to each running node until one (the leader) carries it out; bounded in time. */
  private <T> T onLeader(Function<HaspAdminGrpc.HaspAdminBlockingStub, T> call) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    StatusRuntimeException last = null;
    while (System.nanoTime() < deadline) {
      for (String id : nodes.keySet()) {
        if (removedNotices.contains(id)) {
          continue;
        }
        try {
          return call.apply(admin(id));
        } catch (StatusRuntimeException e) {
          String code = e.getTrailers() == null ? null : e.getTrailers().get(Errors.ERROR_CODE);
          if (!"NOT_LEADER".equals(code) && !"NO_QUORUM".equals(code) && code != null) {
            throw e;
          }
          last = e;
        }
      }
      ProcessCluster.sleep(100);
    }
    throw new AssertionError("no leader carried out the call", last);
  }

  private String leader() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      for (Map.Entry<String, HaspNode> e : nodes.entrySet()) {
        if (!removedNotices.contains(e.getKey()) && e.getValue().status().getRole().equals("LEADER")) {
          return e.getKey();
        }
      }
      ProcessCluster.sleep(50);
    }
    throw new AssertionError("no leader within 60 s");
  }

  private static List<String> describe(ListMembersResponse r) {
    List<String> out = new ArrayList<>();
    for (Member m : r.getMembersList()) {
      out.add(m.getId() + ":" + m.getRole());
    }
    out.sort(null);
    return out;
  }

  /** Defines n1-n4 and starts n1-n3 as the group (n4 stays defined, not started); returns the three. */
  private List<String> startThreeOfFour() throws IOException {
    for (String id : List.of("n1", "n2", "n3", "n4")) {
      define(id);
    }
    List<String> first = List.of("n1", "n2", "n3");
    for (String id : first) {
      start(id, first, false);
    }
    return first;
  }

  @Test
  void addRemoveAndTransferUnderLoadKeepEveryHoldAndFailNoClient() throws Exception {
    List<String> first = startThreeOfFour();
    leader();
    List<String> endpoints = new ArrayList<>();
    for (String id : first) {
      endpoints.add(api.get(id));
    }
    try (HaspClient holder = HaspClient.builder().endpoints(endpoints).build()) {
      LockHandle kept = holder.lock("kept");
      LockHandle slot = holder.tryLock("slots", io.hasp.client.LockOptions.builder().size(3).build()).orElseThrow();
      Load load = new Load(endpoints, 4);
      try {
        waitFor(() -> load.cycles.get() > 20, "load running");

        // join n4: it starts outside its own first configuration (it waits, never campaigns) and the leader adds it
        start("n4", List.of("n1", "n2", "n3", "n4"), true);
        ListMembersResponse afterAdd = ListMembersResponse.newBuilder().addAllMembers(onLeader(a -> a.addMember(
            AddMemberRequest.newBuilder().setId("n4").setRaftAddress(raft.get("n4")).setApiAddress(api.get("n4"))
                .build())).getMembersList()).build();
        assertEquals(List.of("n1:VOTER", "n2:VOTER", "n3:VOTER", "n4:VOTER"), describe(afterAdd));
        int atAdd = load.cycles.get();
        waitFor(() -> load.cycles.get() > atAdd + 20, "load after the add");
        // the new member has the whole state: the kept hold is there with its token
        waitFor(() -> nodes.get("n4").status().getStats().getHolders() >= 2, "n4 applied the holds");

        // remove n2 (a voter the clients talk to): it learns of it and stops
        ListMembersResponse afterRemove = ListMembersResponse.newBuilder().addAllMembers(onLeader(a -> a.removeMember(
            RemoveMemberRequest.newBuilder().setId("n2").build())).getMembersList()).build();
        assertEquals(List.of("n1:VOTER", "n3:VOTER", "n4:VOTER"), describe(afterRemove));
        waitFor(() -> removedNotices.contains("n2"), "n2 noticed its removal");
        nodes.remove("n2").close();
        int atRemove = load.cycles.get();
        waitFor(() -> load.cycles.get() > atRemove + 20, "load after the removal");

        // n2 comes back as a new node: empty data directory, joining (a removed member that campaigned would
        // be told to shut down by the others)
        removedNotices.remove("n2");
        deleteTree(dir.resolve("n2"));
        start("n2", List.of("n1", "n2", "n3", "n4"), true);
        // an operator adds it some time after starting it: many election timeouts in which it must not campaign
        ProcessCluster.sleep(1_500);
        ListMembersResponse readded = ListMembersResponse.newBuilder().addAllMembers(onLeader(a -> a.addMember(
            AddMemberRequest.newBuilder().setId("n2").setRaftAddress(raft.get("n2")).setApiAddress(api.get("n2"))
                .build())).getMembersList()).build();
        assertEquals(List.of("n1:VOTER", "n2:VOTER", "n3:VOTER", "n4:VOTER"), describe(readded));
        waitFor(() -> nodes.get("n2").status().getStats().getHolders() >= 2, "the re-added n2 applied the holds");
        ProcessCluster.sleep(1_000); // a member that was going to be told to shut down has been by now
        assertTrue(!removedNotices.contains("n2") && nodes.get("n2").status().getRole().matches("FOLLOWER|LEADER"),
            nodes.get("n2").status().getRole());
        ListMembersResponse removedAgain = ListMembersResponse.newBuilder().addAllMembers(onLeader(a -> a.removeMember(
            RemoveMemberRequest.newBuilder().setId("n2").build())).getMembersList()).build();
        assertEquals(List.of("n1:VOTER", "n3:VOTER", "n4:VOTER"), describe(removedAgain));
        waitFor(() -> removedNotices.contains("n2"), "n2 noticed its second removal");
        nodes.remove("n2").close();

        // hand leadership to n3, then to whoever (empty target)
        String moved = onLeader(a -> a.transferLeader(TransferLeaderRequest.newBuilder().setTargetId("n3").build()))
            .getLeaderId();
        assertEquals("n3", moved);
        assertEquals("n3", leader());
        String next = onLeader(a -> a.transferLeader(TransferLeaderRequest.getDefaultInstance())).getLeaderId();
        assertTrue(List.of("n1", "n4").contains(next), next);
        int atTransfer = load.cycles.get();
        waitFor(() -> load.cycles.get() > atTransfer + 20, "load after the transfers");

        // removing the leader hands leadership over first; the caller follows NOT_LEADER
        String leaderNow = leader();
        ListMembersResponse afterLeaderRemoved = ListMembersResponse.newBuilder().addAllMembers(onLeader(a ->
            a.removeMember(RemoveMemberRequest.newBuilder().setId(leaderNow).build())).getMembersList()).build();
        assertEquals(2, afterLeaderRemoved.getMembersCount(), describe(afterLeaderRemoved).toString());
        waitFor(() -> removedNotices.contains(leaderNow), leaderNow + " noticed its removal");
        nodes.remove(leaderNow).close();
        int atLeaderRemoved = load.cycles.get();
        waitFor(() -> load.cycles.get() > atLeaderRemoved + 20, "load after the leader's removal");
      } finally {
        load.close();
      }
      assertEquals(List.of(), load.errors, "no client saw an error");

      // every hold is as it was: same holder, same token
      LockInfo k = holder.getLock("kept").orElseThrow();
      assertEquals(1, k.getHoldersCount());
      assertEquals(kept.token(), k.getHolders(0).getToken());
      LockInfo s = holder.getLock("slots").orElseThrow();
      assertEquals(slot.token(), s.getHolders(0).getToken());
      kept.close();
      slot.close();

      // a snapshot on demand, on a node still in the group
      String any = leader();
      assertTrue(admin(any).takeSnapshot(TakeSnapshotRequest.getDefaultInstance()).getIndex() > 0);
      assertEquals(2, admin(any).listMembers(ListMembersRequest.getDefaultInstance()).getMembersCount());
    }
  }

  /**
   * Members leave and come back again and again under load, the leader among them, on a 5-node group whose log
   * is purged behind frequent snapshots (so a node that comes back gets a snapshot, then the log): each time the
   * removed node comes back as a new one (empty data, join=true) and the add makes it a voter that has the whole
   * state. A node whose Raft server stopped answering (the chaos run's "never caught up") fails the add or the
   * wait after it, with every thread's stack in the message.
   */
  @Test
  void membersRemovedAndAddedBackRepeatedlyUnderLoadCatchUpEveryTime() throws Exception {
    List<String> ids = List.of("n1", "n2", "n3", "n4", "n5");
    for (String id : ids) {
      define(id);
    }
    Map<String, String> small = Map.of("snapshot.threshold.entries", "200", "log.segment.size.bytes", "16384",
        "log.purge.gap.entries", "50");
    for (String id : ids) {
      start(id, ids, false, small);
    }
    leader();
    List<String> endpoints = new ArrayList<>();
    for (String id : ids) {
      endpoints.add(api.get(id));
    }
    try (HaspClient holder = HaspClient.builder().endpoints(endpoints).build()) {
      LockHandle kept = holder.lock("kept");
      Load load = new Load(endpoints, 10);
      try {
        waitFor(() -> load.cycles.get() > 300, "load running (the log purged behind a snapshot)");
        for (int round = 0; round < 8; round++) {
          String lead = leader();
          // even rounds remove the leader (hand-over first), odd rounds the next follower in turn
          String victim = round % 2 == 0 ? lead : ids.get((ids.indexOf(lead) + 1 + round) % ids.size());
          onLeader(a -> a.removeMember(RemoveMemberRequest.newBuilder().setId(victim).build()));
          waitForOrDump(() -> removedNotices.contains(victim), victim + " noticed its removal (round " + round + ")",
              () -> "; the nodes' notices: " + removedNotices + "; " + victim + "'s status: "
                  + nodes.get(victim).status());
          nodes.remove(victim).close();
          ManagedChannel old = channels.remove(victim);
          if (old != null) {
            old.shutdownNow();
          }
          int atRemove = load.cycles.get();
          waitFor(() -> load.cycles.get() > atRemove + 100, "load after removing " + victim + " (round " + round + ")");
          removedNotices.remove(victim);
          deleteTree(dir.resolve(victim));
          start(victim, ids, true, small);
          // Not a Ratis listener while it waits to be added: a listener that receives a configuration naming it a
          // voter can deadlock in Ratis 3.3.0 (it then never answers again; seen in the chaos runs, issue 15)
          assertTrue(!nodes.get(victim).status().getRole().equals("LISTENER"), "round " + round + ": " + victim
              + " is a " + nodes.get(victim).status().getRole() + " while it waits to be added");
          long added = System.nanoTime();
          ListMembersResponse after;
          try {
            after = ListMembersResponse.newBuilder().addAllMembers(onLeader(a -> a.addMember(AddMemberRequest
                .newBuilder().setId(victim).setRaftAddress(raft.get(victim)).setApiAddress(api.get(victim))
                .setCatchUpTimeoutMs(60_000).build())).getMembersList()).build();
          } catch (RuntimeException | AssertionError e) {
            throw new AssertionError("round " + round + ": adding " + victim + " back failed after "
                + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - added) + " s\n" + threadDump(), e);
          }
          assertEquals(List.of("n1:VOTER", "n2:VOTER", "n3:VOTER", "n4:VOTER", "n5:VOTER"), describe(after),
              "round " + round);
          HaspNode back = nodes.get(victim);
          long target = nodes.get(leader()).status().getCommitIndex();
          waitForOrDump(() -> back.status().getAppliedIndex() >= target
              && back.status().getRole().matches("FOLLOWER|LEADER"),
              victim + " applied up to " + target + " and follows (round " + round + ")");
          waitForOrDump(() -> back.status().getStats().getHolders() >= 1, victim + " has the kept hold");
          if (round % 4 == 3) {
            // a member that joined restarts on its data as a plain member (join=false): it is in its
            // configuration, so it starts (a removed node would refuse) and follows again
            nodes.remove(victim).close();
            start(victim, ids, false, small);
            HaspNode again = nodes.get(victim);
            waitForOrDump(() -> again.status().getRole().matches("FOLLOWER|LEADER")
                && again.status().getAppliedIndex() >= target, victim + " restarted and follows");
          }
          int atAdd = load.cycles.get();
          waitFor(() -> load.cycles.get() > atAdd + 100, "load after adding " + victim + " (round " + round + ")");
        }
      } finally {
        load.close();
      }
      assertEquals(List.of(), load.errors, "no client saw an error");
      assertEquals(kept.token(), holder.getLock("kept").orElseThrow().getHolders(0).getToken());
    }
  }

  private static void waitForOrDump(java.util.function.BooleanSupplier condition, String what) {
    waitForOrDump(condition, what, () -> "");
  }

  /** As {@link #waitFor}; on failure the message also has {@code more} (taken then) and every thread's stack. */
  private static void waitForOrDump(java.util.function.BooleanSupplier condition, String what,
      java.util.function.Supplier<String> more) {
    try {
      waitFor(condition, what);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + more.get() + "\n" + threadDump(), e);
    }
  }

  /** Every thread's stack, with the monitors it holds and waits for (a deadlock shows as a cycle of them). */
  static String threadDump() {
    StringBuilder b = new StringBuilder("---- threads\n");
    for (java.lang.management.ThreadInfo t : java.lang.management.ManagementFactory.getThreadMXBean()
        .dumpAllThreads(true, true)) {
      b.append('"').append(t.getThreadName()).append("\" ").append(t.getThreadState());
      if (t.getLockName() != null) {
        b.append(" on ").append(t.getLockName());
      }
      if (t.getLockOwnerName() != null) {
        b.append(" owned by \"").append(t.getLockOwnerName()).append('"');
      }
      b.append('\n');
      StackTraceElement[] stack = t.getStackTrace();
      for (int i = 0; i < Math.min(stack.length, 40); i++) {
        b.append("    at ").append(stack[i]).append('\n');
        for (java.lang.management.MonitorInfo m : t.getLockedMonitors()) {
          if (m.getLockedStackDepth() == i) {
            b.append("    - locked ").append(m).append('\n');
          }
        }
      }
    }
    return b.toString();
  }

  @Test
  void badAdminRequestsGetClearErrors() throws Exception {
    for (String id : List.of("n1", "n2", "n3")) {
      define(id);
    }
    List<String> ids = List.of("n1", "n2", "n3");
    for (String id : ids) {
      start(id, ids, false);
    }
    try (HaspClient c = HaspClient.builder().endpoints(api.get("n1"), api.get("n2"), api.get("n3")).build()) {
      c.lock("leader-is-ready").close(); // a leader that has committed an entry of its term is ready
    }
    // each call goes to whoever leads at the time (leadership may still move once after the first election)
    assertCode("INVALID_ARGUMENT", () -> onLeader(a -> a.addMember(AddMemberRequest.newBuilder().setId("bad id!")
        .setRaftAddress("127.0.0.1:1").setApiAddress("127.0.0.1:2").build())));
    assertCode("INVALID_ARGUMENT", () -> onLeader(a -> a.addMember(AddMemberRequest.newBuilder().setId("n9")
        .setRaftAddress("nowhere").setApiAddress("127.0.0.1:2").build())));
    assertCode("INVALID_ARGUMENT", () -> onLeader(a -> a.addMember(AddMemberRequest.newBuilder().setId("n9")
        .setRaftAddress(raft.get("n1")).setApiAddress("127.0.0.1:2").build()))); // n1's address
    assertCode("INVALID_ARGUMENT", () -> onLeader(a -> a.transferLeader(TransferLeaderRequest.newBuilder()
        .setTargetId("n9").build())));
    assertCode("INVALID_ARGUMENT", () -> onLeader(a -> a.transferLeader(TransferLeaderRequest.newBuilder()
        .setTimeoutMs(10_000_000).build())));
    String leader = leader();
    String follower = ids.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    StatusRuntimeException notLeader = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> admin(follower).removeMember(RemoveMemberRequest.newBuilder().setId("n3").build()));
    assertEquals("NOT_LEADER", notLeader.getTrailers().get(Errors.ERROR_CODE));
    assertEquals(api.get(leader), notLeader.getTrailers().get(Errors.LEADER), "the hint names the leader's API");
    // a node that is not running cannot catch up: the add ends with a clear error, the group keeps its quorum
    define("n9");
    assertCode("MEMBERSHIP_CONFLICT", () -> onLeader(a -> a.addMember(AddMemberRequest.newBuilder().setId("n9")
        .setRaftAddress(raft.get("n9")).setApiAddress(api.get("n9")).setCatchUpTimeoutMs(2_000).build())));
    try (HaspClient c = HaspClient.builder().endpoints(api.get("n1"), api.get("n2"), api.get("n3")).build()) {
      c.lock("still-works").close();
    }
    // and it is no member: the leader stages a node it has not heard from outside the configuration (and drops
    // the change after the staging timeout), so a removal of it has nothing to do
    assertEquals(List.of("n1:VOTER", "n2:VOTER", "n3:VOTER"), describe(ListMembersResponse.newBuilder()
        .addAllMembers(onLeader(a -> a.removeMember(RemoveMemberRequest.newBuilder().setId("n9").build()))
            .getMembersList()).build()));
  }

  /**
   * A node that answers only seconds after the add begins (a JVM that has just started on a busy machine) is
   * added: Ratis' leader would drop the staged change after 0.6 s of silence by default (3 x the election
   * timeout max, less the 0.3 s it counts as already elapsed), which failed the chaos run's member add.
   */
  @Test
  void nodeThatAnswersSecondsAfterTheAddBeginsIsAdded() throws Exception {
    startThreeOfFour();
    try (HaspClient c = HaspClient.builder().endpoints(api.get("n1"), api.get("n2"), api.get("n3")).build()) {
      c.lock("leader-is-ready").close();
    }
    int raftPort = Integer.parseInt(raft.get("n4").substring(raft.get("n4").lastIndexOf(':') + 1));
    java.util.concurrent.CompletableFuture<io.hasp.proto.AddMemberResponse> added;
    // n4's Raft port accepts connections but says nothing: the leader reaches it and gets no answer
    try (ServerSocket silent = new ServerSocket(raftPort, 50, InetAddress.getLoopbackAddress())) {
      silent.setSoTimeout(60_000);
      added = java.util.concurrent.CompletableFuture.supplyAsync(() -> onLeader(a -> a.addMember(AddMemberRequest
          .newBuilder().setId("n4").setRaftAddress(raft.get("n4")).setApiAddress(api.get("n4"))
          .setCatchUpTimeoutMs(60_000).build())));
      try (java.net.Socket leaderConnection = silent.accept()) { // the leader began the add and tries n4
        long silentUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); // the fault: 3 s without an answer
        while (System.nanoTime() < silentUntil && !added.isDone()) {
          ProcessCluster.sleep(50);
        }
      }
    }
    assertTrue(!added.isDone() || !added.isCompletedExceptionally(), () -> "the add failed while n4 was silent: "
        + added.handle((r, e) -> String.valueOf(e)).join());
    start("n4", List.of("n1", "n2", "n3", "n4"), true);
    ListMembersResponse after = ListMembersResponse.newBuilder()
        .addAllMembers(added.get(120, TimeUnit.SECONDS).getMembersList()).build();
    assertEquals(List.of("n1:VOTER", "n2:VOTER", "n3:VOTER", "n4:VOTER"), describe(after));
    waitFor(() -> nodes.get("n4").status().getRole().equals("FOLLOWER"), "n4 follows");
  }

  private static void deleteTree(Path p) throws IOException {
    if (!java.nio.file.Files.exists(p)) {
      return;
    }
    try (java.util.stream.Stream<Path> all = java.nio.file.Files.walk(p)) {
      for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        java.nio.file.Files.delete(f);
      }
    }
  }

  private static void assertCode(String code, Runnable call) {
    try {
      call.run();
      fail("expected " + code);
    } catch (StatusRuntimeException e) {
      assertEquals(code, e.getTrailers().get(Errors.ERROR_CODE), e.toString());
    }
  }

  private static void waitFor(java.util.function.BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 120 s: " + what);
      }
      ProcessCluster.sleep(50);
    }
  }

  /**
   * Four load threads, each with its own client, locking and unlocking two names (two threads per lock: hand-offs
   * through the queue too) until closed, and for at most {@code minutes} even if it never is.
   */
  private static final class Load {
    final List<String> errors = new CopyOnWriteArrayList<>();
    final AtomicInteger cycles = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private final List<HaspClient> clients = new ArrayList<>();

    Load(List<String> endpoints, long minutes) {
      for (int t = 0; t < 4; t++) {
        HaspClient c = HaspClient.builder().endpoints(endpoints).build();
        clients.add(c);
        String name = "load-" + (t % 2);
        Thread th = new Thread(() -> {
          long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(minutes);
          while (!stop.get() && System.nanoTime() < until) {
            try (LockHandle h = c.lock(name)) {
              cycles.incrementAndGet();
            } catch (RuntimeException e) {
              errors.add(name + ": " + e);
            }
          }
        }, "load-" + t);
        th.start();
        threads.add(th);
      }
    }

    /** Stops the threads (waiting up to 60 s for each) and closes their clients. */
    void close() throws InterruptedException {
      stop.set(true);
      for (Thread th : threads) {
        th.join(TimeUnit.SECONDS.toMillis(60));
      }
      clients.forEach(HaspClient::close);
    }
  }
}
