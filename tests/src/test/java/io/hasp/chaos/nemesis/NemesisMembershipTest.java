package io.hasp.chaos.nemesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.hasp.chaos.check.Checks;
import io.hasp.chaos.check.Verdict;
import io.hasp.chaos.cluster.Backend;
import io.hasp.chaos.history.Fault;
import io.hasp.chaos.history.History;
import io.hasp.proto.AddMemberRequest;
import io.hasp.proto.AddMemberResponse;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.ListMembersRequest;
import io.hasp.proto.ListMembersResponse;
import io.hasp.proto.Member;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.proto.RemoveMemberResponse;
import io.hasp.server.Errors;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The membership nemesis against nodes whose admin API it scripts: a node the group does not take back is a
 * finding of the run (the fault records why, and the nemesis verdict fails), not an exception that ends the run
 * (the 10-minute run at a08f962 stopped with rc 2 after 7 minutes); the next membership step adds it back first.
 */
class NemesisMembershipTest {
  private final List<Server> servers = new ArrayList<>();
  private final List<String> calls = new CopyOnWriteArrayList<>();
  /** While set, every AddMember is refused with INTERNAL (a refusal the nemesis does not retry). */
  private final AtomicBoolean refuseAdds = new AtomicBoolean(true);
  /** n2 is a member until it is removed, and again once an add of it succeeds. */
  private final AtomicBoolean n2Member = new AtomicBoolean(true);

  @AfterEach
  void stop() {
    servers.forEach(Server::shutdownNow);
  }

  @Test
  void anAddTheGroupRefusesIsAFindingAndTheNextStepAddsTheNodeBack() throws Exception {
    List<String> endpoints = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(new Admin()).addService(new Status()).build().start();
      servers.add(s);
      endpoints.add("127.0.0.1:" + s.getPort());
    }
    History history = new History();
    FakeBackend backend = new FakeBackend(endpoints);
    Nemesis nemesis = new Nemesis(backend, history);
    try {
      int choice = choiceRemoving(1); // n2: a follower (n1 leads)
      List<String> skipped = nemesis.run(List.of(new Nemesis.Step("membership", 0, 8_000, choice, 1, 0)), 3);
      assertEquals(List.of(), skipped);
      List<Fault> faults = history.faults();
      assertEquals(1, faults.size());
      Fault f = faults.get(0);
      assertTrue(f.failed(), f.toString());
      assertTrue(f.failure().contains("n2 was not added back") && f.failure().contains("INTERNAL"), f.failure());
      Verdict v = Checks.nemesis(faults);
      assertEquals(Verdict.Status.FAIL, v.status(), v.toString());
      assertTrue(v.findings().get(0).contains("not carried out"), v.toString());
      assertTrue(backend.restartedEmpty.contains(1), "n2 was started again empty");

      // the next membership step adds the left-out node back before removing anyone
      refuseAdds.set(false);
      calls.clear();
      nemesis.run(List.of(new Nemesis.Step("membership", 0, 8_000, choice, 1, 0)), 3);
      Fault back = history.faults().get(1);
      assertTrue(!back.failed() && back.detail().startsWith("add back n2") && back.detail().contains("added back in"),
          back.toString());
      assertTrue(calls.stream().noneMatch(c -> c.startsWith("remove")), calls.toString());
      assertTrue(n2Member.get());
      assertEquals(Verdict.Status.FAIL, Checks.nemesis(history.faults()).status(), "the first finding stays");
    } finally {
      nemesis.close();
    }
  }

  /** A step choice whose seeded picks remove node {@code node} (index) when n1 leads, as Nemesis.inject picks. */
  private static int choiceRemoving(int node) {
    for (int c = 0; c < 1_000; c++) {
      java.util.Random r = new java.util.Random(c);
      r.nextInt(3); // the leader fallback
      int victim = r.nextBoolean() ? 0 : r.nextInt(3);
      if (victim == node) {
        return c;
      }
    }
    throw new AssertionError("no choice removes node " + node);
  }

  private List<Member> members() {
    List<Member> out = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      String id = "n" + (i + 1);
      if (i != 1 || n2Member.get()) {
        out.add(Member.newBuilder().setId(id).setRaftAddress("127.0.0.1:" + (9100 + i))
            .setApiAddress("127.0.0.1:" + (9000 + i)).setRole("VOTER").setLeader(i == 0).build());
      }
    }
    return out;
  }

  private final class Admin extends HaspAdminGrpc.HaspAdminImplBase {
    @Override
    public void listMembers(ListMembersRequest request, StreamObserver<ListMembersResponse> o) {
      o.onNext(ListMembersResponse.newBuilder().addAllMembers(members()).build());
      o.onCompleted();
    }

    @Override
    public void removeMember(RemoveMemberRequest request, StreamObserver<RemoveMemberResponse> o) {
      calls.add("remove " + request.getId());
      if (request.getId().equals("n2")) {
        n2Member.set(false);
      }
      o.onNext(RemoveMemberResponse.newBuilder().addAllMembers(members()).build());
      o.onCompleted();
    }

    @Override
    public void addMember(AddMemberRequest request, StreamObserver<AddMemberResponse> o) {
      calls.add("add " + request.getId());
      if (refuseAdds.get()) {
        o.onError(Errors.toStatus(new Errors.HaspError(ErrorCode.INTERNAL, "scripted refusal")));
        return;
      }
      if (request.getId().equals("n2")) {
        n2Member.set(true);
      }
      o.onNext(AddMemberResponse.newBuilder().addAllMembers(members()).build());
      o.onCompleted();
    }
  }

  private static final class Status extends HaspGrpc.HaspImplBase {
    @Override
    public void clusterStatus(ClusterStatusRequest request, StreamObserver<ClusterStatusResponse> o) {
      o.onNext(ClusterStatusResponse.newBuilder().setLeaderId("n1").build());
      o.onCompleted();
    }
  }

  /** Nodes that are always running; restarts are recorded, nothing else happens. */
  private static final class FakeBackend implements Backend {
    private final List<String> endpoints;
    final List<Integer> restartedEmpty = new CopyOnWriteArrayList<>();

    FakeBackend(List<String> endpoints) {
      this.endpoints = endpoints;
    }

    @Override public String name() { return "fake"; }
    @Override public int size() { return endpoints.size(); }
    @Override public List<String> endpoints() { return endpoints; }
    @Override public void startAll() {}
    @Override public void kill(int node) {}
    @Override public void start(int node) {}
    @Override public void startTogether(List<Integer> nodes) {}
    @Override public boolean isRunning(int node) { return true; }
    @Override public boolean awaitExit(int node, long timeoutMs) { return true; }
    @Override public String rejoinUnsupportedReason() { return null; }
    @Override public void startEmptyJoining(int node) { restartedEmpty.add(node); }
    @Override public void pause(int node) {}
    @Override public void resume(int node) {}
    @Override public void cut(Set<Pair> pairs) {}
    @Override public String clockUnsupportedReason() { return "fake"; }
    @Override public void clockOffset(int node, long offsetMs) {}
    @Override public String logTail(int node, int lines) { return ""; }
    @Override public void close() {}
  }
}
