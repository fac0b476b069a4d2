package io.hasp.server;

import io.grpc.stub.StreamObserver;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.HaspInternalGrpc;
import io.hasp.server.Errors.HaspError;

/** Node-to-node: the leader appends the groups its followers forward, each as one entry. Never forwards again. */
final class InternalService extends HaspInternalGrpc.HaspInternalImplBase {
  private final Replicator replicator;

  InternalService(Replicator replicator) {
    this.replicator = replicator;
  }

  @Override
  public void forwardBatch(CommandBatch batch, StreamObserver<BatchReply> observer) {
    for (Command c : batch.getCommandsList()) {
      if (c.getOpCase() == Command.OpCase.OP_NOT_SET) {
        observer.onError(Errors.toStatus(new HaspError(ErrorCode.INVALID_ARGUMENT, "command carries no operation")));
        return;
      }
    }
    if (batch.getCommandsCount() == 0 || batch.getCommandsCount() > GroupCommit.BATCH_COMMANDS_MAX) {
      observer.onError(Errors.toStatus(new HaspError(ErrorCode.INVALID_ARGUMENT,
          "a forwarded batch holds 1 to " + GroupCommit.BATCH_COMMANDS_MAX + " commands, got " + batch.getCommandsCount())));
      return;
    }
    replicator.appendBatch(batch).whenComplete((replies, error) -> {
      try {
        if (error != null) {
          observer.onError(Errors.toStatus(replicator.failure(error)));
        } else {
          observer.onNext(replies);
          observer.onCompleted();
        }
      } catch (RuntimeException e) {
        // the forwarding node left; it retries
      }
    });
  }
}
