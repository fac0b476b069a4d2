package io.hasp.server;

import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;

/**
 * Keeps a heartbeat that proves nothing about this follower's log from committing its first entry.
 *
 * <p>Ratis 3.3.0 lets a follower commit up to {@code min(leaderCommit, previous.index + entries)}, taking index 0 for
 * a request without a previous entry ({@code ServerImplUtils.effectiveCommitIndex}). A heartbeat without a previous
 * entry (the leader's next index for this follower is 0) thus commits this follower's entry at index 0 whatever it
 * is, though nothing checked it against the leader's. On a fresh cluster that entry can be another leader's: a node
 * elected first (its configuration entry at index 0, term 2, replicated to no one) loses to a node whose index 0 is
 * its own term-1 entry. The first node then "commits" and applies its own index 0, refuses every append that would
 * replace a committed entry ("the first entry already exists"), while entries from index 1 do not match its index
 * 0: the leader's appender flips between next index 0 and 1 for good, and the follower never gets another entry
 * (peers harness 2026-12-07: n2 at commit 0 while the others passed 16,900; its reads hung, W7 could not start).
 * Such a heartbeat's leader commit is set to -1 here, before Ratis reads it: a follower commits only entries a
 * request checked (an append from index 0 carries them and commits them then).
 */
final class HeartbeatCommitGuard {
  private HeartbeatCommitGuard() {}

  /** The request as this follower should act on it: unchanged unless it is a heartbeat without a previous entry. */
  static AppendEntriesRequestProto guard(AppendEntriesRequestProto request) {
    if (request.getEntriesCount() > 0 || request.hasPreviousLog() || request.getLeaderCommit() == -1L) {
      return request;
    }
    return request.toBuilder().setLeaderCommit(-1L).build();
  }

  /** For the Raft port's services: applies {@link #guard} to every append-entries message. */
  static ServerInterceptor interceptor() {
    return AppendEntriesCalls.intercept(new AppendEntriesCalls.Wrapper() {
      @Override
      public <Q> ServerCall.Listener<Q> wrap(ServerCall.Listener<Q> listener) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
          @Override
          @SuppressWarnings("unchecked")
          public void onMessage(Q message) {
            super.onMessage(message instanceof AppendEntriesRequestProto r ? (Q) guard(r) : message);
          }
        };
      }
    });
  }
}
