package io.hasp.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.ForwardedBatch;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.LockStateMachine;
import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientAsynchronousProtocol;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.protocol.exceptions.StateMachineException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * How commands reach the Raft log and reads reach the applied state, without parking a thread.
 *
 * <ul>
 *   <li>Writes are grouped ({@link GroupCommit}). A group becomes one batch with one identity, this node's Raft
 *       client id and a call id, kept on every retry: on the leader it is submitted to the local Ratis server;
 *       on a follower it is forwarded whole to the leader's Raft port ({@link PeerForwarding}), which submits it
 *       under the same identity. A retry of a batch that was applied before (the reply was lost with a dying
 *       leader) is answered from Ratis' retry cache, which every replica fills as it applies entries, instead of
 *       being applied twice.
 *   <li>While there is no leader (election, partition) a batch is retried every {@link #RETRY_DELAY_MS} until
 *       {@link #CALL_TIMEOUT_MS} passes, then fails with NO_QUORUM.
 *   <li>The leader's own timer commands (Refresh, Expire) are never grouped or forwarded: they are proposed only
 *       by a node that leads now, and the state machine accepts them only from this node's own client id.
 *   <li>Reads are ReadIndex reads on this node (Ratis asks the leader for the read index when this node follows).
 * </ul>
 */
public final class Replicator implements Closeable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Replicator.class);
  static final long CALL_TIMEOUT_MS = 8_000;
  static final long RETRY_DELAY_MS = 20;
  /** One try of a batch forwarded to the leader; then it is sent again to whoever leads by then. */
  static final long FORWARD_TRY_MS = 1_500;
  /** How long a leader that is not ready yet holds a forwarded batch (well inside the follower's try). */
  static final long FORWARD_HOLD_MS = 1_000;

  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftPeerId self;
  private final Supplier<DivisionInfo> info;
  private final Members members;
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();
  private final PeerForwarding forwarding;
  private final GroupCommit groupCommit = new GroupCommit(this::sendBatch);
  private volatile RaftClientAsynchronousProtocol division;
  /** Retries waiting for their delay; each is in the set until it runs (see {@link #retryLater}). */
  private final java.util.Set<Parked> parked = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-retry");
    t.setDaemon(true);
    return t;
  });

  /** The last log entry of the member at {@code raftAddress} ({@link PeerForwarding#lastEntry}). */
  java.util.concurrent.CompletableFuture<org.apache.ratis.server.protocol.TermIndex> lastEntryOf(String raftAddress,
      long timeoutMs) {
    return forwarding.lastEntry(raftAddress, timeoutMs);
  }

  Replicator(RaftServer server, RaftGroupId groupId, RaftPeerId self, Supplier<DivisionInfo> info,
      Members members, org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext peerTls) {
    this.forwarding = new PeerForwarding(peerTls);
    this.server = server;
    this.groupId = groupId;
    this.self = self;
    this.info = info;
    this.members = members;
  }

  /** {@code sizes} is told the command count of each group-commit batch this node sends (leader or not). */
  void observeBatchSizes(java.util.function.IntConsumer sizes) {
    groupCommit.observeBatchSizes(sizes);
  }

  /** The Raft client id of this node's submissions (the state machine takes timer commands only from it). */
  ClientId clientId() {
    return clientId;
  }

  /** Appends the command through the leader (forwarding when this node follows); completes with its reply. */
  public CompletableFuture<CommandReply> write(Command command) {
    return groupCommit.submit(command);
  }

  /** One group: a batch with a fixed identity, tried until it is applied, refused, or out of time. */
  private CompletableFuture<BatchReply> sendBatch(CommandBatch batch) {
    CompletableFuture<BatchReply> result = new CompletableFuture<>();
    byte[] bytes = batch.toByteArray();
    long callId = callIds.incrementAndGet();
    attempt(bytes, callId, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MS), result, null);
    return result;
  }

  private void attempt(byte[] batch, long callId, long deadline, CompletableFuture<BatchReply> result,
      HaspError last) {
    if (System.nanoTime() - deadline > 0) { // monotonic: a wall-clock step must not end or stretch a call
      result.completeExceptionally(last != null ? last : noQuorum("timed out after " + CALL_TIMEOUT_MS + " ms"));
      return;
    }
    CompletableFuture<BatchReply> tried;
    DivisionInfo i = info.get();
    if (i != null && i.isLeader()) {
      tried = submit(batch, clientId, callId, RaftClientRequest.writeRequestType()).thenApply(Replicator::parseReplies);
    } else {
      RaftPeerId leader = i == null ? null : i.getLeaderId();
      // A leader that has just handed over (leader transfer) or stepped down may still name itself as leader for
      // a moment: never forward to this node itself (the leader side refuses its own client id), wait instead.
      String leaderRaft = leader == null || leader.equals(self) ? null : members.raftAddress(leader);
      if (leaderRaft == null) {
        tried = CompletableFuture.failedFuture(noQuorum("no leader is known"));
      } else {
        ForwardedBatch fb = forwarded(batch, callId);
        // a short try: a leader that went away (killed, cut off) must not hold this batch, and with it this
        // node's group commit, for the whole call; the retry carries the same call id, so it is applied once
        long left = Math.max(1, Math.min(FORWARD_TRY_MS, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        tried = forwarding.forward(leaderRaft, fb, left);
      }
    }
    tried.whenComplete((replies, error) -> {
      if (error == null) {
        result.complete(replies);
        return;
      }
      HaspError e = failure(error);
      if (e.code() == ErrorCode.NOT_LEADER || e.code() == ErrorCode.NO_QUORUM) {
        LOG.debug("batch {} will be retried: {}", callId, e.getMessage());
        retryLater(() -> attempt(batch, callId, deadline, result, e));
      } else {
        result.completeExceptionally(e);
      }
    });
  }

  /**
   * Leader side of {@link PeerForwarding}: appends a follower's batch as one entry under the follower's own
   * identity (so its retries hit the retry cache); completes with the serialized replies.
   */
  CompletableFuture<BatchReply> appendForwarded(ForwardedBatch fb) {
    ClientId from;
    try {
      from = ClientId.valueOf(org.apache.ratis.thirdparty.com.google.protobuf.ByteString.copyFrom(
          fb.getRaftClientId().toByteArray()));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(new HaspError(ErrorCode.INVALID_ARGUMENT, "bad raft_client_id"));
    }
    if (from.equals(clientId) || fb.getCallId() <= 0) {
      return CompletableFuture.failedFuture(new HaspError(ErrorCode.INVALID_ARGUMENT,
          "a forwarded batch needs the sending node's own client id and a call id"));
    }
    DivisionInfo i = info.get();
    if (i == null || !i.isLeader()) {
      return CompletableFuture.failedFuture(new HaspError(ErrorCode.NOT_LEADER, "this node is not the leader",
          leaderHint()));
    }
    CompletableFuture<BatchReply> result = new CompletableFuture<>();
    appendForwarded(fb.getBatch().toByteArray(), from, fb.getCallId(),
        System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FORWARD_HOLD_MS), result);
    return result;
  }

  /**
   * A leader that is not ready yet (its first entry of the term is not applied) holds a forwarded batch, up to
   * {@link #FORWARD_HOLD_MS}, and appends it when it is ready: the follower would otherwise hear NO_QUORUM and
   * send it again a retry delay later.
   */
  private void appendForwarded(byte[] batch, ClientId from, long callId, long holdUntil,
      CompletableFuture<BatchReply> result) {
    submit(batch, from, callId, RaftClientRequest.writeRequestType()).whenComplete((reply, error) -> {
      if (error == null) {
        result.complete(parseReplies(reply));
        return;
      }
      DivisionInfo i = info.get();
      if (Errors.unwrap(error) instanceof LeaderNotReadyException && i != null && i.isLeader()
          && System.nanoTime() - holdUntil < 0) {
        retryLater(() -> appendForwarded(batch, from, callId, holdUntil, result));
        return;
      }
      result.completeExceptionally(failure(error)); // a coded error for the follower, never a bare exception class
    });
  }

  /** A batch of this node's, as sent to the leader: under this node's Raft client id, with its call id. */
  private ForwardedBatch forwarded(byte[] batch, long callId) {
    return ForwardedBatch.newBuilder()
        .setRaftClientId(ByteString.copyFrom(clientId.toByteString().toByteArray()))
        .setCallId(callId)
        .setBatch(ByteString.copyFrom(batch))
        .build();
  }

  /**
   * Asks whoever leads to append an entry that changes nothing (sent to every other peer; only the leader
   * appends it). For a node that started with an empty Raft log: see {@code NoopCmd}.
   */
  void askForAnEntry() {
    byte[] batch = CommandBatch.newBuilder()
        .addCommands(Command.newBuilder().setNoop(io.hasp.proto.replicated.NoopCmd.getDefaultInstance()))
        .build().toByteArray();
    ForwardedBatch fb = forwarded(batch, callIds.incrementAndGet());
    for (Members.Member m : members.all()) {
      if (!m.id().equals(self.toString())) {
        forwarding.forward(m.raftAddress(), fb, 1_000)
            .whenComplete((r, error) -> LOG.debug("asked {} for an entry: {}", m.id(),
                error == null ? "appended" : error.getMessage()));
      }
    }
  }

  /**
   * The leader's own timer: proposes {@code command} as an entry of its own, only while this node leads, never
   * forwarded and never retried.
   */
  CompletableFuture<CommandReply> proposeAsLeader(Command command) {
    DivisionInfo i = info.get();
    if (i == null || !i.isLeader()) {
      return CompletableFuture.failedFuture(new HaspError(ErrorCode.NOT_LEADER, "this node is not the leader"));
    }
    byte[] batch = CommandBatch.newBuilder().addCommands(command).build().toByteArray();
    return submit(batch, clientId, callIds.incrementAndGet(), RaftClientRequest.writeRequestType())
        .thenApply(r -> parseReplies(r).getReplies(0));
  }

  /** A linearizable read (ReadIndex) answered by this node; completes with the serialized answer. */
  public CompletableFuture<byte[]> read(Query query) {
    CompletableFuture<byte[]> result = new CompletableFuture<>();
    attemptRead(query.toByteArray(), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MS), result, null);
    return result;
  }

  /** A stale read of this node's own applied state, no ReadIndex (only for the unsafe test mode). */
  public CompletableFuture<byte[]> readLocal(Query query) {
    return submit(query.toByteArray(), clientId, callIds.incrementAndGet(), RaftClientRequest.staleReadRequestType(0))
        .thenApply(reply -> reply.getMessage().getContent().toByteArray());
  }

  private void attemptRead(byte[] query, long deadline, CompletableFuture<byte[]> result, HaspError last) {
    if (System.nanoTime() - deadline > 0) {
      result.completeExceptionally(last != null ? last : noQuorum("timed out after " + CALL_TIMEOUT_MS + " ms"));
      return;
    }
    submit(query, clientId, callIds.incrementAndGet(), RaftClientRequest.readRequestType()).whenComplete((reply, error) -> {
      if (error == null) {
        result.complete(reply.getMessage().getContent().toByteArray());
        return;
      }
      HaspError e = failure(error);
      if (e.code() == ErrorCode.NOT_LEADER || e.code() == ErrorCode.NO_QUORUM) {
        retryLater(() -> attemptRead(query, deadline, result, e));
      } else {
        result.completeExceptionally(e);
      }
    });
  }

  private CompletableFuture<RaftClientReply> submit(byte[] payload, ClientId from, long callId,
      RaftClientRequest.Type type) {
    RaftClientRequest request = RaftClientRequest.newBuilder()
        .setClientId(from)
        .setServerId(self)
        .setGroupId(groupId)
        .setCallId(callId)
        .setMessage(Message.valueOf(UnsafeByteOperations.unsafeWrap(payload)))
        .setType(type)
        .setTimeoutMs(CALL_TIMEOUT_MS)
        .build();
    // Straight to the division: RaftServer.submitClientRequestAsync would hop to Ratis' client executor and
    // block this thread on join() until that hop returned.
    CompletableFuture<RaftClientReply> f;
    try {
      f = division().submitClientRequestAsync(request);
    } catch (IOException e) {
      f = CompletableFuture.failedFuture(e);
    }
    return f.orTimeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).thenApply(reply -> {
      if (!reply.isSuccess()) {
        RaftException e = reply.getException();
        if (e instanceof LeaderNotReadyException) {
          throw new java.util.concurrent.CompletionException(e); // kept as it is: a new leader may hold the batch
        }
        throw failure(e == null ? new IllegalStateException("request failed") : e);
      }
      return reply;
    });
  }

  private RaftClientAsynchronousProtocol division() throws IOException {
    RaftClientAsynchronousProtocol d = division;
    if (d == null) {
      d = (RaftClientAsynchronousProtocol) server.getDivision(groupId);
      division = d;
    }
    return d;
  }

  /**
   * Tries {@code r} again after {@link #RETRY_DELAY_MS}, or at once when leadership news comes first
   * ({@link #leadershipChanged}): a follower forwards to a new leader as soon as it hears of it, and a new leader
   * takes the batches it had to refuse as soon as it is ready, not at the next tick of a poll.
   */
  private void retryLater(Runnable r) {
    Parked p = new Parked(r);
    parked.add(p);
    try {
      retries.schedule(p, RETRY_DELAY_MS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      parked.remove(p); // closing: the caller's future is failed by the node's shutdown
    }
  }

  /** A new leader is known (or none), or this node became a ready leader: parked retries go now. */
  void leadershipChanged() {
    if (parked.isEmpty()) {
      return;
    }
    try {
      retries.execute(() -> {
        // those parked now, once each: a retry that fails again parks anew and waits for its delay
        for (Parked p : java.util.List.copyOf(parked)) {
          p.run();
        }
      });
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /** A retry that runs once: at its delay or at leadership news, whichever comes first. */
  private final class Parked implements Runnable {
    private final Runnable retry;
    private final java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();

    Parked(Runnable retry) {
      this.retry = retry;
    }

    @Override
    public void run() {
      if (ran.compareAndSet(false, true)) {
        parked.remove(this);
        retry.run();
      }
    }
  }

  private static BatchReply parseReplies(RaftClientReply reply) {
    try {
      return LockStateMachine.parseReplies(reply.getMessage());
    } catch (InvalidProtocolBufferException e) {
      throw new HaspError(ErrorCode.INTERNAL, "unreadable state machine reply");
    }
  }

  HaspError failure(Throwable t) {
    Throwable c = Errors.unwrap(t);
    if (c instanceof HaspError h) {
      return h;
    }
    if (c instanceof StateMachineException s) {
      if (s.getCause() instanceof IllegalArgumentException refused) {
        // the state machine's own refusal (startTransaction, a malformed query): a definite answer
        return new HaspError(ErrorCode.INVALID_ARGUMENT, "rejected by the leader: " + refused.getMessage());
      }
      // Anything else Ratis reports as a state machine failure (seen for a moment while nodes were killed or
      // started under chaos) says nothing about the request: its outcome is unknown and it is tried again. It
      // once came back as a definite INVALID_ARGUMENT for a release that had happened (a linearizability failure).
      LOG.warn("state machine failure, answered as NO_QUORUM: {}", s.toString());
      return noQuorum("the state machine could not take the request now: " + firstLine(String.valueOf(s.getMessage())));
    }
    if (c instanceof NotLeaderException nle) {
      String hint = nle.getSuggestedLeader() == null ? leaderHint() : apiAddress(nle.getSuggestedLeader().getId());
      return new HaspError(ErrorCode.NOT_LEADER, "this node is not the leader", hint);
    }
    if (c instanceof LeaderNotReadyException) {
      return noQuorum("the leader is not ready yet");
    }
    String why = c instanceof java.util.concurrent.TimeoutException ? "timed out after " + CALL_TIMEOUT_MS + " ms"
        : c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + firstLine(c.getMessage()));
    return noQuorum(why);
  }

  private HaspError noQuorum(String why) {
    return new HaspError(ErrorCode.NO_QUORUM, "no quorum reachable from this node (" + why + ")", leaderHint());
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private String apiAddress(RaftPeerId id) {
    return members.apiAddress(id);
  }

  /** The leader's API address when this node does not lead and knows who does, else null. */
  String leaderIfFollowing() {
    DivisionInfo i = info.get();
    return i == null || i.isLeader() || self.equals(i.getLeaderId()) ? null : leaderOf(i);
  }

  /** The API address of the leader this node knows of, or null. */
  public String leaderHint() {
    return leaderOf(info.get());
  }

  private String leaderOf(DivisionInfo i) {
    return i == null || i.getLeaderId() == null ? null : apiAddress(i.getLeaderId());
  }

  @Override
  public void close() {
    retries.shutdownNow();
    groupCommit.failAll(noQuorum("node shutting down"));
    forwarding.close();
  }
}
