package io.hasp.server;

import io.grpc.stub.StreamObserver;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.HaspInternalGrpc;
import io.hasp.server.Errors.HaspError;

/** Node-to-node: the leader appends commands its followers forward. Never forwards again (no loops). */
final class InternalService extends HaspInternalGrpc.HaspInternalImplBase {
  private final Replicator replicator;

  InternalService(Replicator replicator) {
    this.replicator = replicator;
  }

  @Override
  public void forward(Command command, StreamObserver<CommandReply> observer) {
    if (command.getOpCase() == Command.OpCase.OP_NOT_SET) {
      observer.onError(Errors.toStatus(new HaspError(ErrorCode.INVALID_ARGUMENT, "command carries no operation")));
      return;
    }
    replicator.writeLocal(command).whenComplete((reply, error) -> {
      try {
        if (error != null) {
          observer.onError(Errors.toStatus(replicator.failure(error)));
        } else {
          observer.onNext(reply);
          observer.onCompleted();
        }
      } catch (RuntimeException e) {
        // the forwarding node left; it retries
      }
    });
  }
}
