package io.hasp.server;

import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.StateListener;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Waiter;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lock calls waiting in the queue, keyed by request (client id, request id). No thread waits: each call holds
 * a future that this node completes when it applies the entry that grants the waiter or removes it (timeout,
 * abandon, supersede, session end). Every node applies every entry, so the node the client talks to learns of
 * the grant itself, leader or not.
 *
 * <p>A call registers before its Acquire is proposed, so an event applied before the proposal's reply arrives
 * is not missed. Several calls may wait on the same request (a client that re-sent it to this node); each has
 * its own future, all are completed by the event, and a call that ends removes only its own.
 */
final class Waits implements StateListener {
  record Key(String clientId, long requestId) {}

  private final Map<Key, Set<CompletableFuture<Result>>> pending = new ConcurrentHashMap<>();
  private final LockStateMachine stateMachine;

  Waits(LockStateMachine stateMachine) {
    this.stateMachine = stateMachine;
  }

  /** A new future for one call on this request, completed with its final outcome (Granted or Failure). */
  CompletableFuture<Result> register(Key key) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    pending.compute(key, (k, set) -> {
      Set<CompletableFuture<Result>> s = set != null ? set : ConcurrentHashMap.newKeySet();
      s.add(f);
      return s;
    });
    return f;
  }

  /** The call ended another way: forget its future (the other calls on the request keep theirs). */
  void unregister(Key key, CompletableFuture<Result> future) {
    pending.computeIfPresent(key, (k, set) -> {
      set.remove(future);
      return set.isEmpty() ? null : set;
    });
  }

  /** Calls waiting on this node (for the gauges). */
  int size() {
    int n = 0;
    for (Set<CompletableFuture<Result>> s : pending.values()) {
      n += s.size();
    }
    return n;
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
      Holder h = stateMachine.localHolder(key.clientId(), key.requestId());
      if (h != null) {
        complete(key, new Result.Granted(h, stateMachine.localSize(h.name())));
        continue;
      }
      Result outcome = stateMachine.localOutcome(key.clientId(), key.requestId());
      if (outcome instanceof Result.Granted || outcome instanceof Result.Failure) {
        complete(key, outcome);
      }
    }
  }

  private void complete(Key key, Result result) {
    Set<CompletableFuture<Result>> calls = pending.remove(key);
    if (calls != null) {
      for (CompletableFuture<Result> f : calls) {
        f.complete(result);
      }
    }
  }

  /** Fails every wait (node shutting down): clients retry on another node and re-attach. */
  void failAll(RuntimeException error) {
    for (Key key : pending.keySet()) {
      Set<CompletableFuture<Result>> calls = pending.remove(key);
      if (calls != null) {
        for (CompletableFuture<Result> f : calls) {
          f.completeExceptionally(error);
        }
      }
    }
  }
}
