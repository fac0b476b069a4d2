package io.hasp.client;

import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.RequestHeader;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * One lock or tryLock in progress, as the future the caller holds. Cancelling it (directly, through an
 * interrupt of a blocking call, or by closing the client) cancels the call on the wire <i>and</i> tells the
 * cluster: an abandon removes the waiter, or releases the hold if the grant won the race, so nothing is left
 * behind. The same happens when the call ends with an unknown outcome (no node answered within its budget).
 * The request stays in flight (its outcome kept by the cluster) until that abandon is settled.
 *
 * <p>A wait whose session expires (the client could not keep it alive, e.g. cut off from a quorum for longer
 * than the TTL) lost its place, not its purpose: while its wait time lasts it is sent again, as a new request in
 * a new session, as Curator does after a ZooKeeper session expiry. A tryLock or a granted hold is not retried.
 *
 * @param <T> what the caller gets: the handle (lock) or an optional handle (tryLock)
 */
final class Acquisition<T> extends CompletableFuture<T> {
  /** Pause before a wait whose session expired is sent again in a new session. */
  static final long REQUEUE_PAUSE_MS = 100;
  /** Between two tries of a waiting acquire to open a session when none could be opened. */
  static final long SESSION_RETRY_PAUSE_MS = 500;
  private final HaspClient client;
  private final String name;
  private final LockOptions options;
  private final boolean tryOnly;
  private final long threadId;
  private final Function<Optional<LockHandle>, T> shape;
  /** Where answers are handled and this future completes: the answering thread for a blocking caller, the
   *  client's callback threads for an {@code ...Async} caller (whose callbacks may block). */
  private final java.util.concurrent.Executor answers;
  private final boolean sessionBound;
  private final boolean autoRenew;
  /** The caller's wait time (forever without a wait timeout), kept across re-sends in new sessions. */
  private final Budget waitBudget;
  private RequestHeader header;
  private Transport.Call<LockResponse> call;
  private boolean abandoning;
  /** Completes when the request is settled: answered, or its abandon confirmed (or given up on). */
  private final CompletableFuture<Void> settled = new CompletableFuture<>();

  Acquisition(HaspClient client, String name, LockOptions options, boolean tryOnly, long threadId,
      boolean autoRenew, java.util.concurrent.Executor answers, Function<Optional<LockHandle>, T> shape) {
    this.answers = answers;
    this.client = client;
    this.name = name;
    this.options = options;
    this.tryOnly = tryOnly;
    this.threadId = threadId;
    this.shape = shape;
    this.autoRenew = autoRenew;
    // auto-renew on, or no lease: the hold ends with the session; else it stands alone once granted
    this.sessionBound = autoRenew || options.lease == null;
    this.waitBudget = options.waitTimeout == null ? Budget.forever() : Budget.of(options.waitTimeout);
  }

  /** Starts once the session is known (every wait is tied to it, even for a hold that then stands alone). */
  void start() {
    client.session().get().whenCompleteAsync((info, e) -> {
      if (e == null) {
        send(info);
        return;
      }
      HaspException x = RetryPolicy.toException(HaspClient.unwrap(e));
      // No session could be opened in the session call's own budget (no quorum for that long: every node
      // restarting, say). A wait that has time left tries again; a refusal (or the client's own close) ends it.
      boolean noAnswer = x.code() == ErrorCode.NO_QUORUM || x.code() == ErrorCode.NOT_LEADER;
      if (noAnswer && waits() && !waitBudget.spent() && !isDone()) {
        client.schedule(this::start, SESSION_RETRY_PAUSE_MS);
        return;
      }
      completeExceptionally(x);
    }, answers);
  }

  private void send(ClientSession.Info session) {
    RequestHeader h;
    synchronized (this) {
      if (isDone()) {
        return; // cancelled before anything was sent
      }
      h = client.requests().begin();
      header = h;
    }
    LockRequest.Builder r = LockRequest.newBuilder().setHeader(h).setName(name).setSize(options.size)
        .setOwner(options.owner).setSessionId(session.id()).setSessionKey(session.key()).setDetached(!sessionBound)
        .setThreadId(threadId);
    if (waits()) {
      r.setWaitPulseMs((int) Math.min(Integer.MAX_VALUE, client.waitPulseMs()));
    }
    long perTry = client.waitPulseMs() + 1_000;
    if (options.lease != null) {
      r.setLeaseMs(options.lease.toMillis());
    }
    if (options.waitTimeout != null && !tryOnly) {
      r.setWaitTimeoutMs(waitBudget.remainingMs());
    }
    Transport.Plan plan;
    if (tryOnly || (options.waitTimeout != null && options.waitTimeout.isZero())) {
      plan = new Transport.Plan(Budget.of(client.callTimeout()), client.attemptMs(), false);
    } else if (options.waitTimeout != null) {
      plan = new Transport.Plan(Budget.ofMillis(waitBudget.remainingMs() + client.callTimeout().toMillis()),
          perTry, true);
    } else {
      plan = new Transport.Plan(Budget.forever(), perTry, true);
    }
    Instant sent = Instant.now();
    Transport.Call<LockResponse> c = client.transport().call(tryOnly ? HaspGrpc.getTryLockMethod()
        : HaspGrpc.getLockMethod(), n -> r.setAttempt(n).build(), plan);
    synchronized (this) {
      call = c;
      if (isCancelled()) {
        c.cancel(true);
      }
    }
    c.whenCompleteAsync((resp, error) -> {
      if (error != null) {
        failed(session, RetryPolicy.toException(HaspClient.unwrap(error)));
      } else {
        answered(session, resp, sent);
      }
    }, answers);
  }

  private void answered(ClientSession.Info session, LockResponse resp, Instant sent) {
    if (!resp.getLocked()) {
      finish(Optional.empty());
      return;
    }
    long sessionId = sessionBound ? session.id() : 0;
    LockHandle handle = new LockHandle(client, name, resp.getGrant().getKey(), resp.getGrant().getToken(),
        resp.getGrant().getSize(), sessionId, options.lease == null ? null : sent.plus(options.lease));
    T value;
    try {
      value = shape.apply(Optional.of(handle));
    } catch (RuntimeException e) {
      completeExceptionally(e);
      return;
    }
    if (complete(value)) {
      if (sessionId != 0) {
        client.session().register(handle);
      }
      if (autoRenew && options.lease != null) {
        client.renewer().start(handle, options.lease);
      }
      settle();
    }
    // else the caller cancelled meanwhile: its abandon releases this grant on the cluster
  }

  private void failed(ClientSession.Info session, HaspException e) {
    if (e.code() == ErrorCode.SESSION_EXPIRED) {
      client.session().lost(session, e);
      if (waits() && !waitBudget.spent() && requeue()) {
        return;
      }
    }
    if (RetryPolicy.definite(e)) {
      // the cluster decided (timed out, refused): nothing to undo
      if (completeExceptionally(e)) {
        settle();
      }
      return;
    }
    // unknown: the request may still be granted or queued; undo it before telling the caller
    abandon();
    completeExceptionally(e);
  }

  private boolean waits() {
    return !tryOnly && (options.waitTimeout == null || !options.waitTimeout.isZero());
  }

  /**
   * Settles the request that died with its session and sends the wait again in a new one, after a short pause
   * (a cluster that expires every new session at once must not be hammered). False when cancelled meanwhile.
   */
  private boolean requeue() {
    synchronized (this) {
      if (isDone()) {
        return false;
      }
      if (header != null) {
        client.requests().end(header.getRequestId());
      }
      header = null;
      call = null;
    }
    client.schedule(this::start, REQUEUE_PAUSE_MS);
    return true;
  }

  private void finish(Optional<LockHandle> none) {
    try {
      if (complete(shape.apply(none))) {
        settle();
      }
    } catch (RuntimeException e) {
      if (completeExceptionally(e)) {
        settle();
      }
    }
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    boolean cancelled = super.cancel(mayInterruptIfRunning);
    if (cancelled) {
      Transport.Call<LockResponse> c;
      boolean sent;
      synchronized (this) {
        c = call;
        sent = header != null;
      }
      if (c != null) {
        c.cancel(true);
      }
      if (sent) {
        abandon();
      } else {
        settled.complete(null);
      }
    }
    return cancelled;
  }

  /** Sends the abandon once (if the request was sent at all); the request is settled when the abandon is. */
  private void abandon() {
    RequestHeader h;
    synchronized (this) {
      if (header == null || abandoning) {
        return;
      }
      abandoning = true;
      h = header;
    }
    client.abandon(h.getRequestId()).whenComplete((r, e) -> settle());
  }

  private void settle() {
    RequestHeader h;
    synchronized (this) {
      h = header;
    }
    if (h != null) {
      client.requests().end(h.getRequestId());
    }
    settled.complete(null);
  }

  /** Completes when the request is settled on the cluster (for close: wait for the abandons). */
  CompletableFuture<Void> settledFuture() {
    return settled;
  }
}
