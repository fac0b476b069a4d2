package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.HaspInternalGrpc;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.LockStateMachine;
import java.io.Closeable;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
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
 *   <li>Writes are grouped ({@link GroupCommit}): on the leader a group is submitted straight to the local
 *       Ratis server as one entry; on a follower it is forwarded whole to the leader's API port
 *       ({@code HaspInternal.ForwardBatch}), which appends it as one entry.
 *   <li>Reads are ReadIndex reads on this node (Ratis asks the leader for the read index when this node follows).
 *   <li>While there is no leader (election, partition) a call is retried every {@link #RETRY_DELAY_MS} until
 *       {@link #CALL_TIMEOUT_MS} passes, then fails with NO_QUORUM. Retrying a command is safe: its
 *       (client id, request id) is deduplicated by the state machine.
 * </ul>
 */
public final class Replicator implements Closeable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Replicator.class);
  static final long CALL_TIMEOUT_MS = 8_000;
  static final long RETRY_DELAY_MS = 100;

  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftPeerId self;
  private final Supplier<DivisionInfo> info;
  private final Map<String, String> apiAddresses;
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final GroupCommit groupCommit = new GroupCommit(this::sendBatch);
  private final java.util.concurrent.ExecutorService submitter = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "hasp-submit");
    t.setDaemon(true);
    return t;
  });
  private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-retry");
    t.setDaemon(true);
    return t;
  });

  Replicator(RaftServer server, RaftGroupId groupId, RaftPeerId self, Supplier<DivisionInfo> info,
      Map<String, String> apiAddresses) {
    this.server = server;
    this.groupId = groupId;
    this.self = self;
    this.info = info;
    this.apiAddresses = apiAddresses;
  }

  /** Appends the command through the leader (forwarding when this node follows); completes with the reply. */
  public CompletableFuture<CommandReply> write(Command command) {
    CompletableFuture<CommandReply> result = new CompletableFuture<>();
    attemptWrite(command, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MS), result, null);
    return result;
  }

  /**
   * One try: the command joins this node's current group; the group goes to the Raft log when this node leads,
   * or to the leader in one ForwardBatch call otherwise. Used as is by the leader's own timer.
   */
  public CompletableFuture<CommandReply> writeLocal(Command command) {
    return groupCommit.submit(command);
  }

  /** Where a group goes: appended here as one entry when leading, else forwarded whole to the leader. */
  private CompletableFuture<BatchReply> sendBatch(CommandBatch batch) {
    DivisionInfo i = info.get();
    if (i != null && i.isLeader()) {
      return appendBatch(batch);
    }
    RaftPeerId leader = i == null ? null : i.getLeaderId();
    if (leader == null || !apiAddresses.containsKey(leader.toString())) {
      return CompletableFuture.failedFuture(noQuorum("no leader is known"));
    }
    return forward(apiAddresses.get(leader.toString()), batch);
  }

  /** Leader only (ForwardBatch): appends a follower's group as one entry, or fails with NOT_LEADER. */
  CompletableFuture<BatchReply> appendBatch(CommandBatch batch) {
    return submit(batch.toByteArray(), RaftClientRequest.writeRequestType()).thenApply(Replicator::parseReplies);
  }

  private void attemptWrite(Command command, long deadline, CompletableFuture<CommandReply> result, HaspError last) {
    if (System.nanoTime() - deadline > 0) { // monotonic: a wall-clock step must not end or stretch a call
      result.completeExceptionally(last != null ? last : noQuorum("timed out after " + CALL_TIMEOUT_MS + " ms"));
      return;
    }
    writeLocal(command).whenComplete((reply, error) -> {
      if (error == null) {
        result.complete(reply);
        return;
      }
      HaspError e = failure(error);
      if (e.code() == ErrorCode.NOT_LEADER || e.code() == ErrorCode.NO_QUORUM) {
        LOG.debug("write {} will be retried: {}", command.getOpCase(), e.getMessage());
        retryLater(() -> attemptWrite(command, deadline, result, e));
      } else {
        result.completeExceptionally(e);
      }
    });
  }

  /** A linearizable read (ReadIndex) answered by this node; completes with the serialized answer. */
  public CompletableFuture<byte[]> read(Query query) {
    CompletableFuture<byte[]> result = new CompletableFuture<>();
    attemptRead(query.toByteArray(), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CALL_TIMEOUT_MS), result, null);
    return result;
  }

  /** A stale read of this node's own applied state, no ReadIndex (only for the unsafe test mode). */
  public CompletableFuture<byte[]> readLocal(Query query) {
    return submit(query.toByteArray(), RaftClientRequest.staleReadRequestType(0))
        .thenApply(reply -> reply.getMessage().getContent().toByteArray());
  }

  private void attemptRead(byte[] query, long deadline, CompletableFuture<byte[]> result, HaspError last) {
    if (System.nanoTime() - deadline > 0) { // monotonic: a wall-clock step must not end or stretch a call
      result.completeExceptionally(last != null ? last : noQuorum("timed out after " + CALL_TIMEOUT_MS + " ms"));
      return;
    }
    submit(query, RaftClientRequest.readRequestType()).whenComplete((reply, error) -> {
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

  private CompletableFuture<RaftClientReply> submit(byte[] payload, RaftClientRequest.Type type) {
    RaftClientRequest request = RaftClientRequest.newBuilder()
        .setClientId(clientId)
        .setServerId(self)
        .setGroupId(groupId)
        .setCallId(callIds.incrementAndGet())
        .setMessage(Message.valueOf(UnsafeByteOperations.unsafeWrap(payload)))
        .setType(type)
        .setTimeoutMs(CALL_TIMEOUT_MS)
        .build();
    // Ratis may block briefly inside submit (a server-wide monitor); never on a gRPC I/O thread.
    CompletableFuture<RaftClientReply> f = CompletableFuture.supplyAsync(() -> {
      try {
        return server.submitClientRequestAsync(request);
      } catch (java.io.IOException e) {
        return CompletableFuture.<RaftClientReply>failedFuture(e);
      }
    }, submitter).thenCompose(x -> x);
    return f.orTimeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).thenApply(reply -> {
      if (!reply.isSuccess()) {
        RaftException e = reply.getException();
        throw failure(e == null ? new IllegalStateException("request failed") : e);
      }
      return reply;
    });
  }

  private CompletableFuture<BatchReply> forward(String address, CommandBatch batch) {
    CompletableFuture<BatchReply> f = new CompletableFuture<>();
    // From the root context: a group serves many client calls, and the call whose thread happens to send it
    // must not cancel it by completing (gRPC propagates cancellation through the current Context).
    io.grpc.Context.ROOT.run(() -> HaspInternalGrpc.newStub(channel(address))
        .withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .forwardBatch(batch, new StreamObserver<>() {
          @Override
          public void onNext(BatchReply reply) {
            f.complete(reply);
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(fromForwardError(t, address));
          }

          @Override
          public void onCompleted() {}
        }));
    return f;
  }

  private HaspError fromForwardError(Throwable t, String address) {
    if (t instanceof StatusRuntimeException s && s.getTrailers() != null) {
      String code = s.getTrailers().get(Errors.ERROR_CODE);
      if (code != null) {
        ErrorCode c = ErrorCode.valueOf(code);
        return new HaspError(c, s.getStatus().getDescription(), s.getTrailers().get(Errors.LEADER));
      }
    }
    Status st = Status.fromThrowable(t);
    return noQuorum("leader at " + address + " unreachable: " + st.getCode());
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a).usePlaintext().directExecutor().build());
  }

  private void retryLater(Runnable r) {
    try {
      retries.schedule(r, RETRY_DELAY_MS, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing: the caller's future is failed by the node's shutdown
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
      Throwable cause = s.getCause() != null ? s.getCause() : s;
      return new HaspError(ErrorCode.INVALID_ARGUMENT, "rejected by the leader: " + cause.getMessage());
    }
    if (c instanceof NotLeaderException nle) {
      String hint = nle.getSuggestedLeader() == null ? leaderHint() : apiAddresses.get(nle.getSuggestedLeader().getId().toString());
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

  /** The API address of the leader this node knows of, or null. */
  public String leaderHint() {
    DivisionInfo i = info.get();
    if (i == null || i.getLeaderId() == null) {
      return null;
    }
    return apiAddresses.get(i.getLeaderId().toString());
  }

  @Override
  public void close() {
    retries.shutdownNow();
    submitter.shutdownNow();
    groupCommit.failAll(noQuorum("node shutting down"));
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
  }
}
