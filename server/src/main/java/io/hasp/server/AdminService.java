package io.hasp.server;

import io.grpc.stub.StreamObserver;
import io.hasp.proto.AddMemberRequest;
import io.hasp.proto.AddMemberResponse;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.ListMembersRequest;
import io.hasp.proto.ListMembersResponse;
import io.hasp.proto.Member;
import io.hasp.proto.RemoveMemberRequest;
import io.hasp.proto.RemoveMemberResponse;
import io.hasp.proto.TakeSnapshotRequest;
import io.hasp.proto.TakeSnapshotResponse;
import io.hasp.proto.TransferLeaderRequest;
import io.hasp.proto.TransferLeaderResponse;
import io.hasp.server.Errors.HaspError;
import io.hasp.server.NodeConfig.HostPort;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.SnapshotManagementRequest;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ReconfigurationInProgressException;
import org.apache.ratis.protocol.exceptions.ReconfigurationTimeoutException;
import org.apache.ratis.protocol.exceptions.SetConfigurationException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operators' API ({@code HaspAdmin}): membership, leadership and snapshots, carried out through Ratis' own
 * admin calls on this node's server. Membership changes run on the leader (others answer NOT_LEADER with its
 * address) and are compare-and-set against the configuration they were planned from, so two operators' changes
 * cannot silently undo each other: the later one gets MEMBERSHIP_CONFLICT.
 *
 * <p>A node is added in one configuration change that Ratis' leader stages: it sends the new node a snapshot and
 * the log while it counts for no majority, so a new node that is slow to catch up never costs the cluster its
 * quorum, and makes it a voter once it has caught up (see {@link #addMember}). Handlers never block: every wait
 * is a future or a scheduled task.
 */
final class AdminService extends HaspAdminGrpc.HaspAdminImplBase implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(AdminService.class);
  static final long CATCH_UP_DEFAULT_MS = 60_000;
  static final long CATCH_UP_MAX_MS = 3_600_000;
  static final long TRANSFER_DEFAULT_MS = 10_000;
  static final long TRANSFER_MAX_MS = 300_000;

  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftPeerId self;
  private final Members members;
  private final Supplier<DivisionInfo> info;
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-admin");
    t.setDaemon(true);
    return t;
  });

  AdminService(RaftServer server, RaftGroupId groupId, RaftPeerId self, Members members, Supplier<DivisionInfo> info) {
    this.server = server;
    this.groupId = groupId;
    this.self = self;
    this.members = members;
    this.info = info;
  }

  @Override
  public void listMembers(ListMembersRequest request, StreamObserver<ListMembersResponse> observer) {
    try {
      RaftConfiguration conf = conf();
      observer.onNext(ListMembersResponse.newBuilder().addAllMembers(memberList())
          .setConfigurationIndex(Math.max(0, conf.getLogEntryIndex())).build());
      observer.onCompleted();
    } catch (HaspError e) {
      observer.onError(Errors.toStatus(e));
    }
  }

  @Override
  public void addMember(AddMemberRequest request, StreamObserver<AddMemberResponse> observer) {
    answer(observer, () -> {
      String id = request.getId();
      if (!id.matches("[A-Za-z0-9_.-]{1,64}")) {
        throw Errors.invalid("id: '" + id + "' is not a node id (1-64 letters, digits, _ . -)");
      }
      HostPort raft = hostPort("raft_address", request.getRaftAddress());
      HostPort api = hostPort("api_address", request.getApiAddress());
      long catchUpMs = request.getCatchUpTimeoutMs() == 0 ? CATCH_UP_DEFAULT_MS : request.getCatchUpTimeoutMs();
      if (catchUpMs > CATCH_UP_MAX_MS) {
        throw Errors.invalid("catch_up_timeout_ms: at most " + CATCH_UP_MAX_MS + ", got " + catchUpMs);
      }
      requireLeader();
      RaftConfiguration conf = conf();
      List<RaftPeer> voters = new ArrayList<>(conf.getCurrentPeers(RaftPeerRole.FOLLOWER));
      List<RaftPeer> listeners = new ArrayList<>(conf.getCurrentPeers(RaftPeerRole.LISTENER));
      RaftPeer peer = Members.raftPeer(id, raft, api);
      RaftPeer voter = find(voters, id);
      if (voter != null) {
        if (sameAddresses(voter, peer)) {
          return CompletableFuture.completedFuture(AddMemberResponse.newBuilder().addAllMembers(memberList()).build());
        }
        throw Errors.invalid(id + " is already a voter at " + voter.getAddress() + "/" + voter.getClientAddress()
            + "; remove it before adding it with other addresses");
      }
      for (RaftPeer p : concat(voters, listeners)) {
        if (!p.getId().toString().equals(id) && (p.getAddress().equals(peer.getAddress())
            || peer.getClientAddress().equals(p.getClientAddress()))) {
          throw Errors.invalid("an address of " + id + " is already used by member " + p.getId());
        }
      }
      if (find(listeners, id) != null) {
        // Hasp no longer makes listeners (see below); one can only be left by an unfinished add of an earlier
        // version, and promoting a running listener is what deadlocks in Ratis 3.3.0
        throw Errors.invalid(id + " is a listener of the group (an unfinished add of an earlier version): remove it, "
            + "start it again with an empty data directory and join=true, then add it");
      }
      // The new member goes straight into the voters: Ratis' leader stages it first (sends it a snapshot and the
      // log, counting it for no majority) and only appends the configuration that makes it a voter once it has
      // caught up (within raft.server.staging.catchup.gap entries and holding the latest configuration); it drops
      // the change if the node does not answer for the staging timeout (HaspNode). The joining node waits for
      // this in Ratis' initializing state, outside its own configuration. Hasp used to add a listener first and
      // promote it, but a Ratis 3.3.0 listener that receives a configuration naming it a voter can deadlock
      // (ServerState.updateConfiguration joins its FollowerState thread under the server lock the thread waits
      // for): the node stopped answering and was never a voter (the chaos run's "never caught up").
      List<RaftPeer> newVoters = new ArrayList<>(voters);
      newVoters.add(peer);
      LOG.info("Adding {} ({} / api {}): the leader stages it, then makes it a voter", id, raft, api);
      long started = System.nanoTime();
      CompletableFuture<AddMemberResponse> added = setConfiguration(voters, listeners, newVoters, listeners)
          .exceptionallyCompose(e -> isStaleSender(e, id) ? handOverForStaleSender(id, voters)
              : CompletableFuture.failedFuture(e))
          .thenApply(v -> {
            LOG.info("{} caught up and is a voter ({} ms)", id,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return AddMemberResponse.newBuilder().addAllMembers(memberList()).build();
          });
      // The call waits at most catchUpMs. Ratis cannot cancel a staged change, so the leader goes on with it.
      java.util.concurrent.ScheduledFuture<?> timeout = timer.schedule(() -> added.completeExceptionally(
          new HaspError(ErrorCode.MEMBERSHIP_CONFLICT, id + " has not caught up within " + catchUpMs + " ms; the "
              + "leader goes on adding it: it becomes a voter once it has caught up, and the change is dropped if it "
              + "stops answering for the staging timeout (" + HaspNode.STAGING_TIMEOUT_S + " s; see member list)")),
          catchUpMs, TimeUnit.MILLISECONDS);
      added.whenComplete((r, e) -> timeout.cancel(false));
      return added;
    });
  }

  @Override
  public void removeMember(RemoveMemberRequest request, StreamObserver<RemoveMemberResponse> observer) {
    answer(observer, () -> {
      String id = request.getId();
      requireLeader();
      RaftConfiguration conf = conf();
      List<RaftPeer> voters = new ArrayList<>(conf.getCurrentPeers(RaftPeerRole.FOLLOWER));
      List<RaftPeer> listeners = new ArrayList<>(conf.getCurrentPeers(RaftPeerRole.LISTENER));
      if (find(voters, id) == null && find(listeners, id) == null) {
        // already gone (e.g. a retry of a removal that was applied): nothing to do
        return CompletableFuture.completedFuture(RemoveMemberResponse.newBuilder().addAllMembers(memberList()).build());
      }
      List<RaftPeer> newVoters = new ArrayList<>(voters);
      newVoters.removeIf(p -> p.getId().toString().equals(id));
      if (newVoters.isEmpty()) {
        throw Errors.invalid("cannot remove " + id + ": it is the last voter");
      }
      if (id.equals(self.toString())) {
        // Ratis lets a leader commit its own removal, but then the group has no leader until an election
        // times out; handing over first keeps writes flowing. The caller follows NOT_LEADER to the new leader.
        RaftPeerId next = mostUpToDate(newVoters);
        LOG.info("Removing this node ({}), the leader: handing leadership to {} first", id, next);
        return handOver(next, leader -> "leadership moved to " + leader + " before removing " + id
            + "; send the removal there");
      }
      List<RaftPeer> newListeners = new ArrayList<>(listeners);
      newListeners.removeIf(p -> p.getId().toString().equals(id));
      LOG.info("Removing {} from the group", id);
      return setConfiguration(voters, listeners, newVoters, newListeners)
          .thenApply(v -> RemoveMemberResponse.newBuilder().addAllMembers(memberList()).build());
    });
  }

  @Override
  public void transferLeader(TransferLeaderRequest request, StreamObserver<TransferLeaderResponse> observer) {
    answer(observer, () -> {
      long timeoutMs = request.getTimeoutMs() == 0 ? TRANSFER_DEFAULT_MS : request.getTimeoutMs();
      if (timeoutMs > TRANSFER_MAX_MS) {
        throw Errors.invalid("timeout_ms: at most " + TRANSFER_MAX_MS + ", got " + timeoutMs);
      }
      requireLeader();
      List<RaftPeer> voters = new ArrayList<>(conf().getCurrentPeers(RaftPeerRole.FOLLOWER));
      String target = request.getTargetId();
      RaftPeerId to;
      if (target.isEmpty()) {
        List<RaftPeer> others = othersThanSelf(voters);
        if (others.isEmpty()) {
          throw Errors.invalid("there is no other voter to hand leadership to");
        }
        to = mostUpToDate(others);
      } else if (find(voters, target) == null) {
        throw Errors.invalid("target_id: '" + target + "' is not a voter of the group");
      } else {
        to = RaftPeerId.valueOf(target);
      }
      if (to.equals(self)) {
        return CompletableFuture.completedFuture(TransferLeaderResponse.newBuilder().setLeaderId(self.toString()).build());
      }
      long started = System.nanoTime();
      return transfer(to, timeoutMs).thenApply(l -> TransferLeaderResponse.newBuilder().setLeaderId(l)
          .setElapsedMs(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).build());
    });
  }

  @Override
  public void takeSnapshot(TakeSnapshotRequest request, StreamObserver<TakeSnapshotResponse> observer) {
    answer(observer, () -> {
      // creation gap 1: a snapshot whenever anything was applied since the last one
      SnapshotManagementRequest r = SnapshotManagementRequest.newCreate(clientId, self, groupId,
          callIds.incrementAndGet(), 120_000, 1);
      return server.snapshotManagementAsync(r).thenApply(reply -> {
        check(reply);
        return TakeSnapshotResponse.newBuilder().setNodeId(self.toString()).setIndex(Math.max(0, reply.getLogIndex()))
            .build();
      });
    });
  }

  // ------------------------------------------------------------------------------------------------

  private CompletableFuture<String> transfer(RaftPeerId to, long timeoutMs) {
    TransferLeadershipRequest r = new TransferLeadershipRequest(clientId, self, groupId, callIds.incrementAndGet(),
        to, timeoutMs);
    LOG.info("Transferring leadership to {}", to);
    long started = System.nanoTime();
    try {
      return server.transferLeadershipAsync(r).thenApply(reply -> {
        check(reply);
        LOG.info("Leadership moved to {} in {} ms", to, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        return to.toString();
      });
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * A leader of Ratis 3.3.0 can go on replicating to a node that a configuration change removed (seen in a chaos run:
   * the leader that removed the node lost leadership between the joint and the new configuration, and the next
   * leader kept its log appender for the node after finishing the change). Adding that node back then fails inside
   * Ratis (its sender list refuses a second appender for the node: "Found duplicated element"), on every try, for as
   * long as this node leads. A new leader starts appenders only for its configuration, so this one hands leadership
   * to the most up-to-date other voter and answers NOT_LEADER with the new leader's address, where the add is sent
   * again (as a leader's own removal does).
   */
  private <T> CompletableFuture<T> handOverForStaleSender(String id, List<RaftPeer> voters) {
    List<RaftPeer> others = othersThanSelf(voters);
    if (others.isEmpty()) {
      return CompletableFuture.failedFuture(new HaspError(ErrorCode.MEMBERSHIP_CONFLICT, "this leader still "
          + "replicates to " + id + ", which is not in its configuration, and has no other voter to hand over to: "
          + "restart this node, then add " + id + " again"));
    }
    RaftPeerId next = mostUpToDate(others);
    LOG.warn("This leader still replicates to {}, which is not in its configuration (left from before its removal), "
        + "so Ratis cannot add it: handing leadership to {}, which replicates only to its configuration", id, next);
    return handOver(next, leader -> "leadership moved to " + leader + " so that " + id + " can be added "
        + "(this node still replicated to it from before its removal); send the add there");
  }

  /**
   * Hands leadership to {@code next}, then fails the call with NOT_LEADER (the message from the new leader's id) and
   * the new leader's address, where the caller sends the call again.
   */
  private <T> CompletableFuture<T> handOver(RaftPeerId next, Function<String, String> message) {
    return transfer(next, TRANSFER_DEFAULT_MS).thenApply(leader -> {
      throw new HaspError(ErrorCode.NOT_LEADER, message.apply(leader), members.apiAddress(RaftPeerId.valueOf(leader)));
    });
  }

  /** The peers of {@code voters} other than this node. */
  private List<RaftPeer> othersThanSelf(List<RaftPeer> voters) {
    List<RaftPeer> others = new ArrayList<>(voters);
    others.removeIf(p -> p.getId().equals(self));
    return others;
  }

  /** Whether {@code error} is Ratis refusing a second log appender for {@code id} (see handOverForStaleSender). */
  static boolean isStaleSender(Throwable error, String id) {
    Throwable c = Errors.unwrap(error);
    return c instanceof IllegalStateException && c.getMessage() != null
        && c.getMessage().startsWith("Found duplicated element " + id + " ");
  }

  private CompletableFuture<Void> setConfiguration(List<RaftPeer> voters, List<RaftPeer> listeners,
      List<RaftPeer> newVoters, List<RaftPeer> newListeners) {
    SetConfigurationRequest.Arguments args = SetConfigurationRequest.Arguments.newBuilder()
        .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
        .setServersInCurrentConf(voters).setListenersInCurrentConf(listeners)
        .setServersInNewConf(newVoters).setListenersInNewConf(newListeners)
        .build();
    try {
      return server.setConfigurationAsync(new SetConfigurationRequest(clientId, self, groupId, callIds.incrementAndGet(),
          args)).thenApply(reply -> {
            check(reply);
            return null;
          });
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private long followerCommitIndex(String id) {
    try {
      for (CommitInfoProto c : server.getDivision(groupId).getCommitInfos()) {
        if (c.getServer().getId().toStringUtf8().equals(id)) {
          return c.getCommitIndex();
        }
      }
    } catch (IOException e) {
      throw noDivision();
    }
    return -1;
  }

  private RaftPeerId mostUpToDate(Collection<RaftPeer> candidates) {
    RaftPeerId best = null;
    long bestIndex = Long.MIN_VALUE;
    for (RaftPeer p : candidates) {
      long at = followerCommitIndex(p.getId().toString());
      if (best == null || at > bestIndex) {
        best = p.getId();
        bestIndex = at;
      }
    }
    return best;
  }

  private void requireLeader() {
    DivisionInfo i = info.get();
    if (i == null || !i.isLeader()) {
      RaftPeerId leader = i == null ? null : i.getLeaderId();
      throw new HaspError(ErrorCode.NOT_LEADER, "membership and leadership changes are made by the leader; node "
          + self + " is not it", leader == null ? null : members.apiAddress(leader));
    }
  }

  private RaftConfiguration conf() {
    try {
      return server.getDivision(groupId).getRaftConf();
    } catch (IOException e) {
      throw noDivision();
    }
  }

  private static HaspError noDivision() {
    return new HaspError(ErrorCode.NO_QUORUM, "this node's Raft group is not running (starting or stopping)");
  }

  private List<Member> memberList() {
    DivisionInfo i = info.get();
    String leader = i == null || i.getLeaderId() == null ? "" : i.getLeaderId().toString();
    List<Member> out = new ArrayList<>();
    for (Members.Member m : members.all()) {
      out.add(Member.newBuilder().setId(m.id()).setRaftAddress(m.raftAddress()).setApiAddress(m.apiAddress())
          .setRole(m.voter() ? "VOTER" : "LISTENER").setLeader(m.id().equals(leader)).build());
    }
    return out;
  }

  private void check(RaftClientReply reply) {
    if (reply.isSuccess()) {
      return;
    }
    throw failure(reply.getException() != null ? reply.getException() : new IOException("refused by Ratis"));
  }

  private HaspError failure(Throwable t) {
    Throwable c = Errors.unwrap(t);
    if (c instanceof HaspError h) {
      return h;
    }
    String why = c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + firstLine(c.getMessage()));
    if (c instanceof NotLeaderException nle) {
      RaftPeerId leader = nle.getSuggestedLeader() == null ? null : nle.getSuggestedLeader().getId();
      return new HaspError(ErrorCode.NOT_LEADER, "node " + self + " is not the leader",
          leader == null ? null : members.apiAddress(leader));
    }
    if (c instanceof LeaderNotReadyException || c instanceof LeaderSteppingDownException) {
      return new HaspError(ErrorCode.NO_QUORUM, "the leader cannot change the group now (" + why + ")");
    }
    if (c instanceof ReconfigurationTimeoutException) { // Ratis' staging saw no answer for the staging timeout
      return new HaspError(ErrorCode.MEMBERSHIP_CONFLICT, "the leader dropped the change: the node being added did "
          + "not answer for the staging timeout (" + HaspNode.STAGING_TIMEOUT_S + " s unless raft.server.staging.timeout "
          + "is set; is it running, with join=true, and reachable at its Raft address?) (" + why + ")");
    }
    if (c instanceof ReconfigurationInProgressException || c instanceof SetConfigurationException) {
      return new HaspError(ErrorCode.MEMBERSHIP_CONFLICT, "the membership change was refused (" + why + ")");
    }
    if (c instanceof IOException) { // Ratis' RaftExceptions (a transfer that timed out, a server closing, ...)
      return new HaspError(ErrorCode.NO_QUORUM, "the change did not complete (" + why + ")");
    }
    LOG.warn("admin call failed unexpectedly", c);
    return new HaspError(ErrorCode.INTERNAL, "internal error: " + why);
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static HostPort hostPort(String field, String s) {
    try {
      return HostPort.parse(field, s);
    } catch (NodeConfig.ConfigException e) {
      throw Errors.invalid(e.getMessage());
    }
  }

  private static RaftPeer find(Collection<RaftPeer> peers, String id) {
    for (RaftPeer p : peers) {
      if (p.getId().toString().equals(id)) {
        return p;
      }
    }
    return null;
  }

  private static boolean sameAddresses(RaftPeer a, RaftPeer b) {
    return a.getAddress().equals(b.getAddress()) && String.valueOf(a.getClientAddress()).equals(b.getClientAddress());
  }

  private static List<RaftPeer> concat(List<RaftPeer> a, List<RaftPeer> b) {
    List<RaftPeer> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  /** Runs {@code step}, which validates and starts the work, and answers the call with its outcome. */
  private <T> void answer(StreamObserver<T> observer, Supplier<CompletableFuture<T>> step) {
    CompletableFuture<T> f;
    try {
      f = step.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete((value, error) -> {
      if (error != null) {
        HaspError e = failure(error);
        if (e.code() != ErrorCode.NOT_LEADER) {
          LOG.info("admin call failed: {}: {}", e.code(), e.getMessage());
        }
        observer.onError(Errors.toStatus(e));
      } else {
        observer.onNext(value);
        observer.onCompleted();
      }
    });
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
