package io.hasp.server.ldlm;

import io.grpc.Status;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.IsLockedResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import io.hasp.proto.ldlm.LockResponse;
import io.hasp.proto.ldlm.UnlockResponse;
import io.hasp.proto.replicated.AcquireReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.Query;
import io.hasp.server.Errors.HaspError;
import io.hasp.server.LockOps;
import io.hasp.server.ldlm.LdlmErrors.Op;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Limits;
import io.hasp.statemachine.core.Result;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LDLM's four operations on Hasp's replicated ones, for the gRPC service and the REST API alike. Every method
 * answers from futures (no thread waits), with LDLM's response messages; a failure of the node or cluster to
 * serve completes the future exceptionally with a gRPC status (see {@link LdlmErrors}).
 *
 * <ul>
 *   <li><b>Lock</b> / <b>TryLock</b>: an acquire in the caller's Hasp session (the hold is detached from the
 *       session with {@code no_clear_on_disconnect}); lock_timeout_seconds is the hold's lease;
 *       wait_timeout_seconds the waiter's timeout (0 or absent: forever, as in LDLM). A waiting Lock is a future in
 *       Hasp's waits, completed when this node applies the grant; if this node loses its leader meanwhile (the node
 *       then fails its waits so Hasp clients move elsewhere), the same request is sent again (same request id, next
 *       attempt) and re-attaches to its place in the queue. A call that ends before its answer (client deadline,
 *       cancel, disconnect) is abandoned: its waiter is removed, or the grant it won in the race released.
 *   <li><b>Unlock</b>: a release by key; LDLM's LockDoesNotExist / InvalidLockKey.
 *   <li><b>Renew</b>: a renew of the hold's lease; a hold taken without a timeout cannot be renewed
 *       (LockDoesNotExistOrInvalidKey), as in LDLM.
 * </ul>
 */
final class LdlmLocks {
  private static final Logger LOG = LoggerFactory.getLogger(LdlmLocks.class);
  /** Pause before a waiting Lock is sent again after its node lost the leader (or the write found none). */
  static final long REATTACH_DELAY_MS = 200;
  /** The longest lock_timeout_seconds Hasp takes (its lease bound). */
  static final long LOCK_TIMEOUT_SECONDS_MAX = Limits.LEASE_MS_MAX / 1000;

  private final LockOps ops;
  private final LdlmConfig config;
  private final ScheduledExecutorService timer;
  private final BooleanSupplier closing;

  LdlmLocks(LockOps ops, LdlmConfig config, ScheduledExecutorService timer, BooleanSupplier closing) {
    this.ops = ops;
    this.config = config;
    this.timer = timer;
    this.closing = closing;
  }

  /** A call in flight: cancelled when its client gave up (deadline, cancel, disconnect). */
  static final class Call {
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final java.util.List<Runnable> onCancel = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** A call that is never cancelled (REST: nothing in it waits). */
    static Call uncancellable() {
      return new Call();
    }

    void cancel() {
      if (cancelled.compareAndSet(false, true)) {
        onCancel.forEach(Runnable::run);
      }
    }

    boolean cancelled() {
      return cancelled.get();
    }

    /** Runs {@code r} when the call is cancelled (at once if it is already). */
    void onCancel(Runnable r) {
      onCancel.add(r);
      if (cancelled.get() && onCancel.remove(r)) {
        r.run();
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Sessions
  // ------------------------------------------------------------------------------------------------

  /** The client's session, opened through the log on first use (TTL: ldlm.session.ttl). */
  CompletableFuture<LdlmSession.Ref> session(LdlmSession s) {
    return s.session(() -> open(s, config.sessionTtl().toMillis()));
  }

  /** Opens a Hasp session for {@code s} with this TTL. */
  CompletableFuture<LdlmSession.Ref> open(LdlmSession s, long ttlMs) {
    RequestHeader h = s.next();
    Command c;
    try {
      c = ops.buildOpenSession(OpenSessionRequest.newBuilder().setHeader(h).setTtlMs(ttlMs).setOwner(s.owner()).build());
    } catch (HaspError e) {
      s.settle(h.getRequestId());
      return CompletableFuture.failedFuture(e);
    }
    return ops.write(c).handle((reply, error) -> {
      s.settle(h.getRequestId());
      if (error != null) {
        throw ops.failure(error);
      }
      if (reply.getErrorCode() != 0) {
        throw LockOps.replyError(reply);
      }
      return new LdlmSession.Ref(reply.getSession().getSessionId(), reply.getSession().getKey());
    });
  }

  /** Closes the session through the log: its holds released (but detached ones), its waiters removed, in one entry. */
  CompletableFuture<CommandReply> close(LdlmSession s, LdlmSession.Ref ref) {
    RequestHeader h = s.next();
    Command c = ops.buildCloseSession(CloseSessionRequest.newBuilder().setHeader(h).setSessionId(ref.id())
        .setSessionKey(ref.key()).build());
    return ops.write(c).whenComplete((reply, error) -> s.settle(h.getRequestId()));
  }

  /** Keeps {@code ref} alive now (and settles the client's answered requests); null when one is in flight. */
  CompletableFuture<CommandReply> keepAlive(LdlmSession s, LdlmSession.Ref ref) {
    io.hasp.proto.KeepAliveRequest r = s.keepAlive(ref);
    if (r == null) {
      return null;
    }
    long id = r.getHeader().getRequestId();
    Command c;
    try {
      c = ops.buildKeepAlive(r);
    } catch (HaspError e) {
      s.keepAliveDone(id);
      return CompletableFuture.failedFuture(e);
    }
    return ops.write(c).whenComplete((reply, error) -> s.keepAliveDone(id));
  }

  // ------------------------------------------------------------------------------------------------
  // Lock and TryLock
  // ------------------------------------------------------------------------------------------------

  /**
   * Lock (tryOnly false) or TryLock. Null arguments are absent fields. The answer carries the name asked for and
   * the key of the hold (or of the attempt, when not locked, as LDLM does).
   */
  CompletableFuture<LockResponse> lock(LdlmSession s, String name, Integer waitTimeoutSeconds,
      Integer lockTimeoutSeconds, Integer size, boolean tryOnly, Call call) {
    LockResponse.Builder answer = LockResponse.newBuilder().setName(name).setLocked(false);
    if (lockTimeoutSeconds != null && lockTimeoutSeconds < 0) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, LdlmErrors.INVALID_LOCK_TIMEOUT);
    }
    if (!tryOnly && waitTimeoutSeconds != null && waitTimeoutSeconds < 0) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, LdlmErrors.INVALID_WAIT_TIMEOUT);
    }
    if (name.isEmpty()) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, LdlmErrors.EMPTY_NAME);
    }
    long lockSize = size == null ? 1 : size;
    if (lockSize <= 0) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.InvalidLockSize, LdlmErrors.INVALID_SIZE);
    }
    if (lockSize > Limits.LOCK_SIZE_MAX) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.InvalidLockSize, "lock size must be at most "
          + Limits.LOCK_SIZE_MAX + " (Hasp's bound), got " + lockSize);
    }
    if (lockTimeoutSeconds != null && lockTimeoutSeconds > LOCK_TIMEOUT_SECONDS_MAX) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, "lock timeout must be at most "
          + LOCK_TIMEOUT_SECONDS_MAX + " seconds (Hasp's lease bound), got " + lockTimeoutSeconds);
    }
    if (!tryOnly && waitTimeoutSeconds != null && waitTimeoutSeconds > Limits.WAIT_TIMEOUT_MS_MAX / 1000) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, "wait timeout must be at most "
          + Limits.WAIT_TIMEOUT_MS_MAX / 1000 + " seconds, got " + waitTimeoutSeconds);
    }
    try {
      LockOps.checkName(name);
    } catch (HaspError e) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, e.getMessage());
    }
    io.hasp.proto.LockRequest.Builder request = io.hasp.proto.LockRequest.newBuilder()
        .setName(name)
        .setSize(lockSize)
        .setOwner(s.owner())
        .setDetached(config.noClearOnDisconnect())
        .setAttempt(1);
    if (lockTimeoutSeconds != null && lockTimeoutSeconds > 0) {
      request.setLeaseMs(lockTimeoutSeconds * 1000L);
    }
    if (!tryOnly && waitTimeoutSeconds != null && waitTimeoutSeconds > 0) {
      request.setWaitTimeoutMs(waitTimeoutSeconds * 1000L);
    }
    CompletableFuture<LockResponse> result = new CompletableFuture<>();
    session(s).whenComplete((ref, error) -> {
      if (error != null) {
        complete(result, answer, error, Op.LOCK);
        return;
      }
      if (call.cancelled()) {
        result.cancel(false);
        return;
      }
      request.setSessionId(ref.id()).setSessionKey(ref.key());
      new Acquire(s, ref, request, tryOnly, call, answer, result).start();
    });
    return result;
  }

  /** One acquire: proposed, then re-sent (same request, next attempt) while its node cannot see the grant. */
  private final class Acquire {
    private final LdlmSession s;
    private final LdlmSession.Ref ref;
    private final boolean tryOnly;
    private final Call call;
    private final LockResponse.Builder answer;
    private final CompletableFuture<LockResponse> result;
    private final RequestHeader header;
    private final Command first;
    private volatile CompletableFuture<Result> waiting;
    private final AtomicBoolean settled = new AtomicBoolean();
    private int attempt = 1;

    Acquire(LdlmSession s, LdlmSession.Ref ref, io.hasp.proto.LockRequest.Builder request, boolean tryOnly, Call call,
        LockResponse.Builder answer, CompletableFuture<LockResponse> result) {
      this.s = s;
      this.ref = ref;
      this.tryOnly = tryOnly;
      this.call = call;
      this.answer = answer;
      this.result = result;
      this.header = s.next();
      Command c;
      try {
        c = ops.buildLock(request.build(), header, tryOnly);
      } catch (HaspError e) {
        c = null;
        settle();
        complete(result, answer, e, Op.LOCK);
      }
      this.first = c;
      if (c != null) {
        answer.setKey(c.getAcquire().getKey());
      }
    }

    void start() {
      if (first == null) {
        return;
      }
      call.onCancel(this::cancelled);
      if (tryOnly) {
        // a TryLock on a full lock: "not acquired" from a linearizable read, no log entry (as Hasp's TryLock)
        ops.tryLockFailsNow(first).whenComplete((fails, e) -> {
          if (e == null && fails) {
            settle();
            result.complete(answer.setLocked(false).build());
          } else {
            round();
          }
        });
        return;
      }
      round();
    }

    private void round() {
      if (result.isDone()) {
        return;
      }
      if (closing.getAsBoolean()) {
        fail(LdlmErrors.unavailable("node shutting down"));
        return;
      }
      Command c = attempt == 1 ? first : first.toBuilder()
          .setAcquire(first.getAcquire().toBuilder().setAttempt(attempt)).build();
      CompletableFuture<Result> w = tryOnly ? null : ops.registerWait(header.getClientId(), header.getRequestId());
      waiting = w;
      ops.write(c).whenComplete((reply, error) -> {
        if (error != null) {
          unregister(w);
          HaspError e = ops.failure(error);
          if (!tryOnly && retriable(e)) {
            later(); // the outcome is unknown: the same request again re-attaches (or finds its grant)
          } else {
            abandonThenFail(e); // a TryLock may have been granted: release that grant
          }
          return;
        }
        if (reply.getErrorCode() != 0) {
          unregister(w);
          settle();
          complete(result, answer, LockOps.replyError(reply), Op.LOCK);
          return;
        }
        AcquireReply a = reply.getAcquire();
        switch (a.getStatus()) {
          case GRANTED -> {
            unregister(w);
            deliver(answer.setLocked(true).setKey(a.getGrant().getKey()).build());
          }
          case NOT_ACQUIRED -> {
            unregister(w);
            settle();
            result.complete(answer.setLocked(false).build());
          }
          case QUEUED -> {
            if (w == null) {
              settle();
              fail(new HaspError(ErrorCode.INTERNAL, "a TryLock was queued"));
              return;
            }
            w.whenComplete(this::waited);
          }
          default -> {
            unregister(w);
            abandonThenFail(new HaspError(ErrorCode.INTERNAL, "unexpected acquire status " + a.getStatus()));
          }
        }
      });
    }

    private void waited(Result outcome, Throwable error) {
      if (error != null) {
        HaspError e = ops.failure(error);
        if (retriable(e)) {
          later(); // this node lost its leader: the wait goes on in the cluster; look again
        } else {
          abandonThenFail(e);
        }
      } else if (outcome instanceof Result.Granted g) {
        deliver(answer.setLocked(true).setKey(g.holder().key()).build());
      } else if (outcome instanceof Result.Failure f) {
        settle();
        if (f.code() == io.hasp.statemachine.core.ErrorCode.SESSION_EXPIRED && s.lost(ref)) {
          LOG.warn("LDLM client {}: its session {} ended in the cluster (this node was cut off for longer than "
              + "ldlm.session.ttl?); its locks were released", s.owner(), ref.id());
        }
        complete(result, answer, new HaspError(ErrorCode.valueOf(f.code().name()), f.message()), Op.LOCK);
      } else {
        abandonThenFail(new HaspError(ErrorCode.INTERNAL, "unexpected wait outcome " + outcome));
      }
    }

    private boolean retriable(HaspError e) {
      return (e.code() == ErrorCode.NO_QUORUM || e.code() == ErrorCode.NOT_LEADER) && !call.cancelled()
          && !closing.getAsBoolean();
    }

    private void later() {
      attempt++;
      try {
        timer.schedule(this::round, REATTACH_DELAY_MS, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        fail(LdlmErrors.unavailable("node shutting down"));
      }
    }

    /** The client gave up: nobody is answered; the request is abandoned (waiter removed or grant released). */
    private void cancelled() {
      if (!result.cancel(false)) {
        return; // answered already
      }
      unregister(waiting);
      abandon();
    }

    private void abandonThenFail(HaspError e) {
      abandon();
      fail(e);
    }

    private void fail(Throwable e) {
      if (!result.isDone()) {
        complete(result, answer, e, Op.LOCK);
      }
    }

    private void abandon() {
      if (settled.get()) {
        return;
      }
      RequestHeader h = s.next();
      Command c;
      try {
        c = ops.buildAbandon(h, header.getRequestId());
      } catch (HaspError e) {
        s.settle(h.getRequestId());
        return;
      }
      ops.write(c).whenComplete((reply, error) -> {
        s.settle(h.getRequestId());
        if (error == null && reply.getErrorCode() == 0) {
          settle();
        } else {
          // the abandon's own outcome is unknown: the request stays unsettled; the session's end (or its hold's
          // lease) ends what it may still hold
          LOG.debug("LDLM abandon of {}/{} failed: {}", header.getClientId(), header.getRequestId(),
              error != null ? error.toString() : reply.getErrorMessage());
        }
      });
    }

    /**
     * Answers a grant. When the call was cancelled first, the grant is not settled here: the cancel's abandon
     * (proposed when it was cancelled) releases it, whichever of the two the log applies first.
     */
    private void deliver(LockResponse granted) {
      if (result.complete(granted)) {
        settle();
      }
    }

    private void settle() {
      if (settled.compareAndSet(false, true)) {
        s.settle(header.getRequestId());
      }
    }

    private void unregister(CompletableFuture<Result> w) {
      if (w != null) {
        ops.unregisterWait(header.getClientId(), header.getRequestId(), w);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Unlock and Renew
  // ------------------------------------------------------------------------------------------------

  CompletableFuture<UnlockResponse> unlock(LdlmSession s, String name, String key) {
    UnlockResponse.Builder answer = UnlockResponse.newBuilder().setName(name).setUnlocked(false);
    if (!validName(name)) {
      return CompletableFuture.completedFuture(answer.setError(LdlmErrors.error(
          io.hasp.proto.ldlm.ErrorCode.LockDoesNotExist, LdlmErrors.DOES_NOT_EXIST)).build());
    }
    if (!validKey(key)) {
      // no hold has such a key: whether the lock exists decides between LDLM's two answers
      return ops.read(Query.newBuilder().setIsLocked(name).build()).handle((bytes, error) -> {
        if (error != null) {
          throw LdlmErrors.unavailable(ops.failure(error).getMessage());
        }
        boolean exists;
        try {
          exists = IsLockedResponse.parseFrom(bytes).getLocked();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          throw Status.INTERNAL.withDescription("unreadable answer").asRuntimeException();
        }
        return answer.setError(exists
            ? LdlmErrors.error(io.hasp.proto.ldlm.ErrorCode.InvalidLockKey, LdlmErrors.INVALID_KEY)
            : LdlmErrors.error(io.hasp.proto.ldlm.ErrorCode.LockDoesNotExist, LdlmErrors.DOES_NOT_EXIST)).build();
      });
    }
    RequestHeader h = s.next();
    Command c = ops.buildUnlock(UnlockRequest.newBuilder().setHeader(h).setName(name).setKey(key).build());
    CompletableFuture<UnlockResponse> result = new CompletableFuture<>();
    ops.write(c).whenComplete((reply, error) -> {
      s.settle(h.getRequestId());
      if (error != null) {
        complete(result, answer, ops.failure(error), Op.UNLOCK);
      } else if (reply.getErrorCode() != 0) {
        complete(result, answer, LockOps.replyError(reply), Op.UNLOCK);
      } else {
        result.complete(answer.setUnlocked(true).build());
      }
    });
    return result;
  }

  CompletableFuture<LockResponse> renew(LdlmSession s, String name, String key, int lockTimeoutSeconds) {
    LockResponse.Builder answer = LockResponse.newBuilder().setName(name).setKey(key).setLocked(false);
    if (lockTimeoutSeconds <= 0) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, LdlmErrors.INVALID_LOCK_TIMEOUT);
    }
    if (lockTimeoutSeconds > LOCK_TIMEOUT_SECONDS_MAX) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.Unknown, "lock timeout must be at most "
          + LOCK_TIMEOUT_SECONDS_MAX + " seconds (Hasp's lease bound), got " + lockTimeoutSeconds);
    }
    if (!validName(name) || !validKey(key)) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.LockDoesNotExistOrInvalidKey,
          LdlmErrors.DOES_NOT_EXIST_OR_INVALID_KEY);
    }
    Holder local = ops.localHolder(name, key);
    if (local != null) {
      return renewHeld(s, local, name, key, lockTimeoutSeconds, answer);
    }
    // not (yet) seen here: after a linearizable read this node has applied every entry committed before it
    return ops.read(Query.newBuilder().setIsLocked(name).build()).handle((bytes, error) -> {
      if (error != null) {
        throw LdlmErrors.unavailable(ops.failure(error).getMessage());
      }
      return ops.localHolder(name, key);
    }).thenCompose(h -> h != null ? renewHeld(s, h, name, key, lockTimeoutSeconds, answer)
        : failed(answer, io.hasp.proto.ldlm.ErrorCode.LockDoesNotExistOrInvalidKey,
            LdlmErrors.DOES_NOT_EXIST_OR_INVALID_KEY));
  }

  /**
   * A hold that was taken without a timeout never gets one (only a renew could give it one), so LDLM's "a lock
   * without a timeout cannot be renewed" is decided from this node's own state, with no log entry.
   */
  private CompletableFuture<LockResponse> renewHeld(LdlmSession s, Holder h, String name, String key,
      int lockTimeoutSeconds, LockResponse.Builder answer) {
    if (!h.hasLease()) {
      return failed(answer, io.hasp.proto.ldlm.ErrorCode.LockDoesNotExistOrInvalidKey,
          LdlmErrors.DOES_NOT_EXIST_OR_INVALID_KEY + " (the lock was taken without lock_timeout_seconds, so it has "
          + "no timeout to renew)");
    }
    RequestHeader header = s.next();
    Command c = ops.buildRenew(RenewRequest.newBuilder().setHeader(header).setName(name).setKey(key)
        .setLeaseMs(lockTimeoutSeconds * 1000L).build());
    CompletableFuture<LockResponse> result = new CompletableFuture<>();
    ops.write(c).whenComplete((reply, error) -> {
      s.settle(header.getRequestId());
      if (error != null) {
        complete(result, answer, ops.failure(error), Op.RENEW);
      } else if (reply.getErrorCode() != 0) {
        complete(result, answer, LockOps.replyError(reply), Op.RENEW);
      } else {
        result.complete(answer.setLocked(true).build());
      }
    });
    return result;
  }

  // ------------------------------------------------------------------------------------------------
  // Plumbing
  // ------------------------------------------------------------------------------------------------

  static boolean validName(String name) {
    try {
      LockOps.checkName(name);
      return true;
    } catch (HaspError e) {
      return false;
    }
  }

  static boolean validKey(String key) {
    return !key.isEmpty() && key.getBytes(StandardCharsets.UTF_8).length <= Limits.KEY_BYTES_MAX;
  }

  private static CompletableFuture<LockResponse> failed(LockResponse.Builder answer,
      io.hasp.proto.ldlm.ErrorCode code, String message) {
    return CompletableFuture.completedFuture(answer.setLocked(false).setError(LdlmErrors.error(code, message)).build());
  }

  /** Answers {@code error}: inside the response, or as the future's failure when it is the node's (a status). */
  private static void complete(CompletableFuture<LockResponse> result, LockResponse.Builder answer, Throwable error,
      Op op) {
    try {
      result.complete(answer.setLocked(false).setError(LdlmErrors.of(error, op)).build());
    } catch (RuntimeException status) {
      result.completeExceptionally(status);
    }
  }

  private static void complete(CompletableFuture<UnlockResponse> result, UnlockResponse.Builder answer,
      Throwable error, Op op) {
    try {
      result.complete(answer.setUnlocked(false).setError(LdlmErrors.of(error, op)).build());
    } catch (RuntimeException status) {
      result.completeExceptionally(status);
    }
  }
}
