package io.hasp.server;

import io.hasp.proto.AbandonRequest;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Result;
import java.util.concurrent.CompletableFuture;

/**
 * The node's own lock operations, for front ends served by this process beside Hasp's gRPC API (the
 * LDLM-compatible server, {@code io.hasp.server.ldlm}). They take exactly the path of Hasp's API calls, not a
 * network loopback: requests are checked and turned into replicated commands by the same {@link Commands}, proposed
 * through the same {@link Replicator} (group commit; a follower forwards to the leader under one identity, so a
 * retried batch is applied once), and a waiting acquire is a future in the same {@link Waits}, completed when this
 * node applies the entry that grants or removes the waiter. Every method answers from futures; none blocks.
 *
 * <p>The {@code build*} methods throw {@link HaspError} (INVALID_ARGUMENT, INVALID_SIZE) for a request that must
 * not be proposed.
 */
public final class LockOps {
  private final Replicator replicator;
  private final Waits waits;
  private final Commands commands;
  private final LockStateMachine stateMachine;
  private final String nodeId;

  LockOps(Replicator replicator, Waits waits, Commands commands, LockStateMachine stateMachine, String nodeId) {
    this.replicator = replicator;
    this.waits = waits;
    this.commands = commands;
    this.stateMachine = stateMachine;
    this.nodeId = nodeId;
  }

  public String nodeId() {
    return nodeId;
  }

  /** Appends the command through the leader; completes with the state machine's reply (which may carry an error). */
  public CompletableFuture<CommandReply> write(Command command) {
    return replicator.write(command);
  }

  /** A linearizable (ReadIndex) read of this node's applied state. */
  public CompletableFuture<byte[]> read(Query query) {
    return replicator.read(query);
  }

  /**
   * True when this TryLock command (from {@link #buildLock}) would be answered "not acquired" without changing
   * anything, as a linearizable read of the applied state says (see {@code LockTable.tryLockFailsNow}): it may then
   * be answered so without a log entry. False when it may be granted, or cannot be told.
   */
  public CompletableFuture<Boolean> tryLockFailsNow(Command tryLock) {
    return replicator.read(io.hasp.proto.replicated.Query.newBuilder().setTryLock(tryLock).build()).handle((b, e) -> {
      try {
        return e == null && io.hasp.proto.replicated.TryLockProbe.parseFrom(b).getFails();
      } catch (com.google.protobuf.InvalidProtocolBufferException x) {
        return false;
      }
    });
  }

  public Command buildLock(LockRequest r, RequestHeader header, boolean tryOnly) {
    return commands.lock(r, header, tryOnly);
  }

  public Command buildUnlock(UnlockRequest r) {
    return commands.unlock(r);
  }

  public Command buildRenew(RenewRequest r) {
    return commands.renew(r);
  }

  public Command buildOpenSession(OpenSessionRequest r) {
    return commands.openSession(r);
  }

  public Command buildKeepAlive(KeepAliveRequest r) {
    return commands.keepAlive(r);
  }

  public Command buildCloseSession(CloseSessionRequest r) {
    return commands.closeSession(r);
  }

  /** The client's own abandon of its request {@code target} (unconditional), sent as request {@code header}. */
  public Command buildAbandon(RequestHeader header, long target) {
    return commands.abandon(AbandonRequest.newBuilder().setHeader(header).setRequestId(target).build());
  }

  /** Checks a lock name as every API does (1-512 bytes of UTF-8, no control characters). */
  public static void checkName(String name) {
    Commands.name(name);
  }

  /** A future completed with the final outcome (Granted or Failure) of this request's waiter. */
  public CompletableFuture<Result> registerWait(String clientId, long requestId) {
    return waits.register(new Waits.Key(clientId, requestId));
  }

  public void unregisterWait(String clientId, long requestId, CompletableFuture<Result> future) {
    waits.unregister(new Waits.Key(clientId, requestId), future);
  }

  /** This node's (possibly stale) view of the hold of lock {@code name} with {@code key}, or null. */
  public Holder localHolder(String name, String key) {
    return stateMachine.localHolder(name, key);
  }

  /** A reply's error as a HaspError (the reply must carry one). */
  public static HaspError replyError(CommandReply reply) {
    return AcquireFlow.replyError(reply);
  }

  /** Any failure of a write or read as a coded HaspError (unknown causes are NO_QUORUM: the outcome is unknown). */
  public HaspError failure(Throwable t) {
    return replicator.failure(t);
  }
}
