package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.LockStateMachine;
import java.io.Closeable;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.protocol.exceptions.StateMachineException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.TimeDuration;

/**
 * How commands reach the Raft log and reads reach the applied state. Writes go through a Ratis client that
 * finds the leader by itself, so a follower forwards its clients' writes; reads are ReadIndex reads served by
 * this node. Ratis failures become {@link HaspError}s: NO_QUORUM (with the leader's API address when known).
 */
public final class Replicator implements Closeable {
  /** A write or read that has not completed after this long fails with NO_QUORUM. */
  static final long CALL_TIMEOUT_MS = 8_000;

  private final RaftClient client;
  private final RaftPeerId self;
  private final java.util.function.Supplier<DivisionInfo> info;
  private final Map<String, String> apiAddresses;

  Replicator(RaftGroup group, RaftPeerId self, java.util.function.Supplier<DivisionInfo> info,
      Map<String, String> apiAddresses) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(p, 4096);
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(2, TimeUnit.SECONDS));
    this.client = RaftClient.newBuilder()
        .setRaftGroup(group)
        .setProperties(p)
        .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(30, TimeDuration.valueOf(150, TimeUnit.MILLISECONDS)))
        .build();
    this.self = self;
    this.info = info;
    this.apiAddresses = apiAddresses;
  }

  /** Appends the command through the leader; completes with the state machine's reply. */
  public CompletableFuture<CommandReply> write(Command command) {
    Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(command.toByteArray()));
    return client.async().send(m)
        .orTimeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .handle((reply, error) -> {
          if (error != null) {
            throw failure(error);
          }
          checkReply(reply);
          try {
            return LockStateMachine.parseReply(reply.getMessage());
          } catch (InvalidProtocolBufferException e) {
            throw new HaspError(ErrorCode.INTERNAL, "unreadable state machine reply");
          }
        });
  }

  /** A linearizable read (ReadIndex) answered by this node; completes with the serialized answer. */
  public CompletableFuture<byte[]> read(Query query) {
    Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(query.toByteArray()));
    return client.async().sendReadOnly(m, self)
        .orTimeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .handle((reply, error) -> {
          if (error != null) {
            throw failure(error);
          }
          checkReply(reply);
          return reply.getMessage().getContent().toByteArray();
        });
  }

  private void checkReply(RaftClientReply reply) {
    if (reply.isSuccess()) {
      return;
    }
    RaftException e = reply.getException();
    throw failure(e == null ? new IOException("request failed") : e);
  }

  private HaspError failure(Throwable t) {
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
    String why = c instanceof TimeoutException ? "timed out after " + CALL_TIMEOUT_MS + " ms"
        : c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + firstLine(c.getMessage()));
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
  public void close() throws IOException {
    client.close();
  }
}
