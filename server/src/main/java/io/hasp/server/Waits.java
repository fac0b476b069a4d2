package io.hasp.server;

import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.StateListener;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Waiter;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lock calls waiting in the queue, keyed by request (client id, request id). No thread waits: each call holds
 * a future that this node completes when it applies the entry that grants the waiter or removes it (timeout,
 * cancel, session end). Every node applies every entry, so the node the client talks to learns of the grant
 * itself, leader or not.
 *
 * <p>A call registers before its Acquire is proposed, so an event applied before the proposal's reply arrives
 * is not missed. Several calls may wait on the same request (a client that re-attached); all are answered.
 */
final class Waits implements StateListener {
  record Key(String clientId, long requestId) {}

  private final Map<Key, CompletableFuture<Result>> pending = new ConcurrentHashMap<>();
  private final LockStateMachine stateMachine;

  Waits(LockStateMachine stateMachine) {
    this.stateMachine = stateMachine;
  }

  /** The future of this request's final outcome (Granted or Failure); shared by every call on it. */
  CompletableFuture<Result> register(Key key) {
    return pending.computeIfAbsent(key, k -> new CompletableFuture<>());
  }

  /** Drops the entry when it is this future and no event completed it (the call ended another way). */
  void unregister(Key key, CompletableFuture<Result> future) {
    pending.remove(key, future);
  }

  int size() {
    return pending.size();
  }

  @Override
  public void waiterGranted(Waiter waiter, Holder holder, long size) {
    complete(new Key(waiter.clientId(), waiter.requestId()), new Result.Granted(holder, size));
  }

  @Override
  public void waiterRemoved(Waiter waiter, ErrorCode reason) {
    Result outcome = stateMachine.localOutcome(waiter.clientId(), waiter.requestId());
    complete(new Key(waiter.clientId(), waiter.requestId()),
        outcome instanceof Result.Failure ? outcome : Result.fail(reason, "wait ended: " + reason));
  }

  /** After a snapshot install some events were never seen here: settle every wait from the new state. */
  @Override
  public void reloaded() {
    for (Key key : pending.keySet()) {
      if (stateMachine.localWaiter(key.clientId(), key.requestId()) != null) {
        continue;
      }
      Result outcome = stateMachine.localOutcome(key.clientId(), key.requestId());
      if (outcome instanceof Result.Granted || outcome instanceof Result.Failure) {
        complete(key, outcome);
      }
    }
  }

  private void complete(Key key, Result result) {
    CompletableFuture<Result> f = pending.remove(key);
    if (f != null) {
      f.complete(result);
    }
  }

  /** Fails every wait (node shutting down): clients retry on another node and re-attach. */
  void failAll(RuntimeException error) {
    for (Key key : pending.keySet()) {
      CompletableFuture<Result> f = pending.remove(key);
      if (f != null) {
        f.completeExceptionally(error);
      }
    }
  }
}
