package io.hasp.server.cli;

import io.grpc.StatusRuntimeException;
import io.hasp.proto.AddMemberRequest;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.ListMembersRequest;
import io.hasp.proto.Member;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.proto.TakeSnapshotRequest;
import io.hasp.proto.TakeSnapshotResponse;
import io.hasp.proto.TransferLeaderRequest;
import io.hasp.proto.TransferLeaderResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The operators' commands: membership, leadership, snapshots (the HaspAdmin service). */
final class AdminCommands {
  private AdminCommands() {}

  static String table(List<Member> members) {
    StringBuilder b = new StringBuilder(String.format("%-8s %-9s %-21s %-21s%n", "NODE", "ROLE", "RAFT", "API"));
    for (Member m : members) {
      b.append(String.format("%-8s %-9s %-21s %-21s%n", m.getId(), m.getLeader() ? "LEADER" : m.getRole(),
          m.getRaftAddress(), m.getApiAddress()));
    }
    return b.toString().stripTrailing();
  }

  @Command(name = "member", mixinStandardHelpOptions = true, description = "List, add or remove members of the group.",
      subcommands = {MemberList.class, MemberAdd.class, MemberRemove.class})
  static final class MemberCmd implements Runnable {
    @Override
    public void run() {
      throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
          "member: say list, add ID=RAFT/API or remove ID");
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Voters and listeners, and who leads.")
  static final class MemberList extends HaspCli.Base {
    @Override
    public Integer call() {
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(common.budgetMs(), common.budgetMs(), HaspAdminGrpc::newBlockingStub,
            s -> s.listMembers(ListMembersRequest.getDefaultInstance()));
        print(table(r.getMembersList()), r);
        return 0;
      }
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = {"Add a running node: the leader sends it a snapshot and the log, then makes it a voter once it "
          + "has caught up.", "Start the node first with join=true and a peers list that holds it and the current "
          + "members."})
  static final class MemberAdd extends HaspCli.Base {
    @Parameters(index = "0", paramLabel = "ID=RAFT/API", description = "e.g. n4=127.0.0.1:7104/127.0.0.1:7004")
    String spec;

    @Option(names = "--catch-up", converter = Durations.class, defaultValue = "60s",
        description = "How long to wait for the new node to catch up and vote (default 60s); the leader goes on "
            + "with the add after that while the node answers")
    Duration catchUp;

    @Override
    public Integer call() {
      int eq = spec.indexOf('=');
      int slash = spec.indexOf('/');
      if (eq <= 0 || slash < eq) {
        throw new IllegalArgumentException("expected ID=raftHost:raftPort/apiHost:apiPort, got '" + spec + "'");
      }
      AddMemberRequest request = AddMemberRequest.newBuilder().setId(spec.substring(0, eq))
          .setRaftAddress(spec.substring(eq + 1, slash)).setApiAddress(spec.substring(slash + 1))
          .setCatchUpTimeoutMs(Math.max(1, catchUp.toMillis())).build();
      long budget = common.budgetMs() + catchUp.toMillis();
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(budget, budget, HaspAdminGrpc::newBlockingStub, s -> s.addMember(request));
        print("added " + request.getId() + "\n" + table(r.getMembersList()), r);
        return 0;
      }
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove a member (the leader hands over leadership first). The node's process keeps running.")
  static final class MemberRemove extends HaspCli.Base {
    @Parameters(index = "0", paramLabel = "ID") String id;

    @Override
    public Integer call() {
      RemoveMemberRequest request = RemoveMemberRequest.newBuilder().setId(id).build();
      long budget = Math.max(common.budgetMs(), 15_000);
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(budget, budget, HaspAdminGrpc::newBlockingStub, s -> s.removeMember(request));
        print("removed " + id + "\n" + table(r.getMembersList()), r);
        return 0;
      }
    }
  }

  @Command(name = "leader", mixinStandardHelpOptions = true, description = "Leadership: leader transfer [ID].",
      subcommands = {LeaderTransfer.class})
  static final class LeaderCmd implements Runnable {
    @Override
    public void run() {
      throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "leader: say transfer [ID]");
    }
  }

  @Command(name = "transfer", mixinStandardHelpOptions = true,
      description = "Hand leadership to ID (default: the most up-to-date other voter) and wait until it leads.")
  static final class LeaderTransfer extends HaspCli.Base {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ID") String target = "";

    @Override
    public Integer call() {
      long waitMs = Math.max(1_000, common.budgetMs());
      TransferLeaderRequest request = TransferLeaderRequest.newBuilder().setTargetId(target).setTimeoutMs(waitMs).build();
      long started = System.nanoTime();
      try (Endpoints endpoints = common.open()) {
        TransferLeaderResponse r = endpoints.call(waitMs + 5_000, waitMs + 5_000, HaspAdminGrpc::newBlockingStub,
            s -> s.transferLeader(request));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        print("leader: " + r.getLeaderId() + " (moved in " + r.getElapsedMs() + " ms; the call took " + ms + " ms)", r);
        return 0;
      }
    }
  }

  @Command(name = "snapshot", mixinStandardHelpOptions = true,
      description = "Every node at the endpoints takes a snapshot of its state now.")
  static final class Snapshot extends HaspCli.Base {
    @Override
    public Integer call() {
      List<String> lines = new ArrayList<>();
      List<String> json = new ArrayList<>();
      int failed = 0;
      try (Endpoints endpoints = common.open()) {
        for (String address : endpoints.addresses()) {
          try {
            TakeSnapshotResponse r = HaspAdminGrpc.newBlockingStub(endpoints.channel(address))
                .withDeadlineAfter(Math.max(common.budgetMs(), 30_000), TimeUnit.MILLISECONDS)
                .takeSnapshot(TakeSnapshotRequest.getDefaultInstance());
            lines.add(r.getNodeId() + " (" + address + "): snapshot at index " + r.getIndex());
            json.add(HaspCli.Json.of(r));
          } catch (StatusRuntimeException e) {
            failed++;
            lines.add(address + ": " + e.getStatus().getCode() + ": " + e.getStatus().getDescription());
            json.add("{\"apiAddress\":" + HaspCli.Json.quote(address) + ",\"error\":"
                + HaspCli.Json.quote(String.valueOf(e.getStatus().getDescription())) + "}");
          }
        }
      }
      if (common.json) {
        out().println("[" + String.join(",", json) + "]");
      } else {
        lines.forEach(out()::println);
      }
      return failed == 0 ? 0 : HaspCli.EXIT_ERROR;
    }
  }
}
