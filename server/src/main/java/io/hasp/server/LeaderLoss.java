package io.hasp.server;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.apache.ratis.client.impl.ClientProtoUtils;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionReplyProto;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionRequestProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A follower that sees its leader's process die starts an election at once instead of one to two election timeouts
 * later (Ratis' follower notices a silent leader only when a whole timeout passed since its last message, checked
 * once per timeout: 150-400 ms with the defaults, about half of a failover).
 *
 * <p>The sign: the leader's append-entries stream to this node ends without a goodbye (the peer's process went away,
 * its kernel reset the connection) and a TCP connection to the leader's Raft address is then refused, which happens
 * only when nothing listens there. A leader that is merely slow, paused or cut off by the network never refuses a
 * connection (the connection times out instead), so it is never deposed by this; it is left to the election timeout
 * as before. The election is Ratis' own forced one, as in a leadership transfer: no pre-vote, the next term, and
 * the other members grant their votes only to a log at least as complete as theirs, so it is as safe as any other.
 *
 * <p>Only a survivor whose log is as complete as any other's can win, and a forced election that cannot win still
 * moves every other member to the next term, where this node's own forced election is refused: an election timeout
 * is lost. So a survivor first asks the others for their last log entry (over the Raft port, {@link #ASK_MS}) and
 * leaves the election to any survivor that answers with a longer log. Those left (as complete as it, or silent)
 * take turns in the order of their ids ({@link #TURN_MS} apart), so that they do not split their votes: the first
 * one's vote request moves the others to the next term, and a member that has moved on, or has heard of another
 * leader, does not start its own. A member whose log does not end in the current term (it has not yet received the
 * leader's first entry of the term) leaves it to the timeout too: Ratis refuses it then.
 */
final class LeaderLoss implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderLoss.class);
  /** How long the connection test waits; a refusal takes a round trip, a silent host the whole wait. */
  static final int PROBE_TIMEOUT_MS = 300;
  /** Between two survivors' turns: well above a vote round on a busy node, about the default election timeout. */
  static final long TURN_MS = 150;
  /**
   * How long a survivor waits for the others' last log entries. They answer in a round trip; the wait is longer so
   * that a loaded node, or one that must first connect to the asker, still counts: a survivor behind that hears
   * nothing from the one ahead would force an election it cannot win. Only a silent survivor makes it last.
   */
  static final long ASK_MS = 300;

  /** Asks the member at a Raft address for its last log entry, waiting at most the given milliseconds. */
  interface LastEntries {
    CompletableFuture<TermIndex> ask(String raftAddress, long timeoutMs);
  }

  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftPeerId self;
  private final Members members;
  private final LastEntries lastEntries;
  private final Supplier<RaftServer.Division> division;
  private final AtomicBoolean queued = new AtomicBoolean();
  /** The loss this node last took its turn for (only the executor's thread reads and writes it). */
  private Observed handled;
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-leader-loss");
    t.setDaemon(true);
    return t;
  });

  LeaderLoss(RaftServer server, RaftGroupId groupId, RaftPeerId self, Members members, LastEntries lastEntries) {
    this.server = server;
    this.lastEntries = lastEntries;
    this.groupId = groupId;
    this.self = self;
    this.members = members;
    this.division = () -> {
      try {
        return server.getDivision(groupId);
      } catch (IOException e) {
        return null;
      }
    };
  }

  /**
   * For the Raft port's gRPC server: runs {@code onBroken} (meant to call {@link #streamBroken}) when an
   * append-entries stream (the leader's replication or heartbeat stream to this node) is cancelled under it.
   */
  static ServerInterceptor interceptor(Runnable onBroken) {
    return AppendEntriesCalls.intercept(new AppendEntriesCalls.Wrapper() {
      @Override
      public <Q> ServerCall.Listener<Q> wrap(ServerCall.Listener<Q> listener) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
          @Override
          public void onCancel() {
            try {
              super.onCancel();
            } finally {
              onBroken.run();
            }
          }
        };
      }
    });
  }

  /**
   * An append-entries stream to this node ended without a goodbye: checks, on its own thread, whether the leader is
   * gone.
   */
  void streamBroken() {
    if (queued.compareAndSet(false, true)) {
      try {
        executor.execute(this::check);
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        queued.set(false);
      }
    }
  }

  private void check() {
    queued.set(false);
    Observed o = observe();
    if (o == null || o.equals(handled) || !refused(o.address())) {
      return; // the leader's two streams (entries, heartbeats) break together: one turn per loss
    }
    handled = o;
    long turn = turn(o.leader());
    if (turn < 0) {
      return;
    }
    LOG.info("Leader {} of term {} is gone (its Raft address {} refuses connections); this node's turn to start an "
        + "election comes in {} ms", o.leader(), o.term(), o.address(), turn * TURN_MS);
    if (turn == 0) {
      elect(o, false); // the address was just tested
    } else {
      executor.schedule(() -> elect(o, true), turn * TURN_MS, TimeUnit.MILLISECONDS);
    }
  }

  /** What this follower believes now: its leader (not itself), the term, the leader's Raft address. */
  private record Observed(RaftPeerId leader, long term, String address) {}

  private Observed observe() {
    RaftServer.Division d = division.get();
    if (d == null) {
      return null;
    }
    DivisionInfo i = d.getInfo();
    RaftPeerId leader = i.getLeaderId();
    if (!i.isAlive() || !i.isFollower() || leader == null || leader.equals(self)) {
      return null;
    }
    String address = members.raftAddress(leader);
    return address == null ? null : new Observed(leader, i.getCurrentTerm(), address);
  }

  /** This node's last log entry, or null without a division. */
  private TermIndex lastEntry() {
    RaftServer.Division d = division.get();
    return d == null ? null : d.getRaftLog().getLastEntryTermIndex();
  }

  /**
   * This node's turn among the voters other than {@code leader}: -1 when it does not vote or another survivor's log
   * is longer (see the class comment).
   */
  private long turn(RaftPeerId leader) {
    List<Members.Member> survivors = members.all().stream().filter(Members.Member::voter)
        .filter(m -> !m.id().equals(leader.toString())).toList();
    if (survivors.stream().noneMatch(m -> m.id().equals(self.toString()))) {
      return -1;
    }
    TermIndex mine = lastEntry();
    if (mine == null) {
      return -1;
    }
    Map<String, CompletableFuture<TermIndex>> asked = new HashMap<>();
    for (Members.Member m : survivors) {
      if (!m.id().equals(self.toString())) {
        asked.put(m.id(), lastEntries.ask(m.raftAddress(), ASK_MS));
      }
    }
    Map<String, TermIndex> answers = new HashMap<>();
    answers.put(self.toString(), mine);
    for (Map.Entry<String, CompletableFuture<TermIndex>> a : asked.entrySet()) {
      try {
        answers.put(a.getKey(), a.getValue().get(ASK_MS + 50, TimeUnit.MILLISECONDS));
      } catch (ExecutionException | TimeoutException e) {
        // silent: it keeps its place by id
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return -1;
      }
    }
    List<String> ids = survivors.stream().map(Members.Member::id).toList();
    long turn = turn(self.toString(), ids, answers);
    if (turn < 0) {
      LOG.info("Leader {} is gone; a survivor's log is longer than this node's {} ({}): the election is left to it",
          leader, mine, answers);
    }
    return turn;
  }

  /**
   * The turn of {@code self} among {@code survivors}, given the last log entries of those that answered (self's
   * included): -1 when self is no survivor or one that answered has a longer log; else its place, by id, among the
   * survivors whose log is as long as its own or unknown.
   */
  static long turn(String self, List<String> survivors, Map<String, TermIndex> answers) {
    TermIndex mine = answers.get(self);
    if (mine == null || !survivors.contains(self)) {
      return -1;
    }
    for (TermIndex t : answers.values()) {
      if (t.compareTo(mine) > 0) {
        return -1;
      }
    }
    return survivors.stream().filter(id -> !answers.containsKey(id) || answers.get(id).compareTo(mine) == 0)
        .sorted().toList().indexOf(self);
  }

  private void elect(Observed before, boolean testAgain) {
    Observed now = observe();
    if (!before.equals(now)) {
      return; // a vote request of another survivor's election, or a new leader, came first
    }
    TermIndex last = lastEntry();
    if (last == null || last.getTerm() != now.term() || (testAgain && !refused(now.address()))) {
      return;
    }
    // The request names the gone leader as its sender, as a leadership transfer's does: Ratis accepts it only from
    // the leader this node recognizes, for a log no longer than this node's own.
    StartLeaderElectionRequestProto request = StartLeaderElectionRequestProto.newBuilder()
        .setServerRequest(ClientProtoUtils.toRaftRpcRequestProtoBuilder(
            RaftGroupMemberId.valueOf(now.leader(), groupId), self))
        .setLeaderLastEntry(last.toProto())
        .build();
    try {
      StartLeaderElectionReplyProto reply = server.startLeaderElection(request);
      LOG.info("Election after the loss of leader {} of term {}: {}", now.leader(), now.term(),
          reply.getServerReply().getSuccess() ? "started" : "refused (the election timeout will start one)");
    } catch (IOException | RuntimeException e) {
      LOG.info("Election after the loss of leader {} could not start: {}", now.leader(), e.toString());
    }
  }

  /** True when a TCP connection to {@code hostPort} is refused: nothing listens there. */
  static boolean refused(String hostPort) {
    NodeConfig.HostPort hp;
    try {
      hp = NodeConfig.HostPort.parse("leader", hostPort);
    } catch (RuntimeException e) {
      return false;
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hp.host(), hp.port()), PROBE_TIMEOUT_MS);
      return false;
    } catch (ConnectException e) {
      return e.getMessage() != null && e.getMessage().contains("refused");
    } catch (IOException e) {
      return false; // timed out, no route: maybe only the network; the election timeout decides
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
