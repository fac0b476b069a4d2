package io.hasp.client;

import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RequestHeader;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's session: opened on first use, kept alive in the background at a third of its TTL (each
 * keep-alive also tells the cluster precisely which of this client's requests are settled), and closed with
 * the client. Holds tied to it are registered here; when the session is lost (refused as expired, or no
 * keep-alive got through for a whole TTL) every one of them is reported lost, and the next call opens a new
 * session.
 */
final class ClientSession {
  private static final Logger LOG = LoggerFactory.getLogger(ClientSession.class);
  /** How long a lost session's {@link #release} is tried: an outage longer than this ends it with the TTL. */
  static final long RELEASE_BUDGET_MS = 10 * 60_000;

  /** The open session: its id and its secret key. */
  record Info(long id, String key) {}

  private final Transport transport;
  private final Requests requests;
  private final ScheduledExecutorService scheduler;
  private final Duration ttl;
  private final long attemptMs;
  private final BiConsumer<LockHandle, HaspException> lose;
  private final Set<LockHandle> holds = ConcurrentHashMap.newKeySet();
  private final Object lock = new Object();
  private CompletableFuture<Info> current;
  private volatile long lastKeepAliveNanos;
  private volatile boolean closed;

  ClientSession(Transport transport, Requests requests, ScheduledExecutorService scheduler, Duration ttl,
      long attemptMs, BiConsumer<LockHandle, HaspException> lose) {
    this.transport = transport;
    this.requests = requests;
    this.scheduler = scheduler;
    this.ttl = ttl;
    this.attemptMs = attemptMs;
    this.lose = lose;
  }

  /** The session, opening one if there is none (or the last one was lost). */
  CompletableFuture<Info> get() {
    synchronized (lock) {
      if (closed) {
        return CompletableFuture.failedFuture(new IllegalStateException("client is closed"));
      }
      if (current == null || current.isCompletedExceptionally()) {
        lastKeepAliveNanos = System.nanoTime();
        RequestHeader h = requests.begin();
        CompletableFuture<Info> opening = new CompletableFuture<>();
        current = opening;
        transport.call(HaspGrpc.getOpenSessionMethod(), n -> OpenSessionRequest.newBuilder().setHeader(h)
            .setTtlMs(ttl.toMillis()).setOwner(requests.clientId()).build(),
            new Transport.Plan(Budget.ofMillis(Math.max(attemptMs, ttl.toMillis())), attemptMs, false))
            .whenComplete((r, e) -> {
              requests.end(h.getRequestId());
              if (e != null) {
                opening.completeExceptionally(RetryPolicy.toException(HaspClient.unwrap(e)));
                return;
              }
              lastKeepAliveNanos = System.nanoTime();
              Info info = new Info(r.getSessionId(), r.getSessionKey());
              opening.complete(info);
              scheduleKeepAlive(info);
            });
      }
      return current;
    }
  }

  /** The open session, or null (none yet, lost, or still opening). */
  Info now() {
    synchronized (lock) {
      CompletableFuture<Info> c = current;
      return c != null && c.isDone() && !c.isCompletedExceptionally() ? c.join() : null;
    }
  }

  void register(LockHandle h) {
    holds.add(h);
  }

  void unregister(LockHandle h) {
    holds.remove(h);
  }

  Set<LockHandle> holds() {
    return holds;
  }

  private long periodMs() {
    return Math.max(100, ttl.toMillis() / 3);
  }

  private void scheduleKeepAlive(Info info) {
    schedule(() -> keepAlive(info), periodMs());
  }

  private void schedule(Runnable r, long delayMs) {
    try {
      scheduler.schedule(r, delayMs, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // the client is closing
    }
  }

  private void keepAlive(Info info) {
    if (closed || now() != info) {
      return;
    }
    long period = periodMs();
    RequestHeader base = requests.begin();
    Requests.Precise mark = requests.precise();
    // short tries within two periods: a node that hangs (paused, cut off) must not use up the session's TTL
    transport.call(HaspGrpc.getKeepAliveMethod(), n -> KeepAliveRequest.newBuilder()
        .setHeader(base.toBuilder().setSettledUpTo(mark.upTo()))
        .setSessionId(info.id()).setSessionKey(info.key()).addAllUnsettledRequestIds(mark.unsettled()).build(),
        new Transport.Plan(Budget.ofMillis(2 * period), Math.max(100, period / 2), false))
        .whenComplete((r, e) -> {
          requests.end(base.getRequestId());
          if (e == null) {
            lastKeepAliveNanos = System.nanoTime();
            scheduleKeepAlive(info);
            return;
          }
          HaspException x = RetryPolicy.toException(HaspClient.unwrap(e));
          LOG.debug("keep-alive of session {} failed: {}", info.id(), x.getMessage());
          boolean refused = x.code() == ErrorCode.SESSION_EXPIRED || x.code() == ErrorCode.PERMISSION_DENIED;
          if (refused || System.nanoTime() - lastKeepAliveNanos > TimeUnit.MILLISECONDS.toNanos(ttl.toMillis())) {
            lost(info, x.code() == ErrorCode.SESSION_EXPIRED ? x
                : new HaspException.SessionExpiredException("no keep-alive succeeded for " + ttl.toMillis() + " ms"));
            if (!refused) {
              release(info);
            }
          } else {
            schedule(() -> keepAlive(info), Math.max(50, period / 4));
          }
        });
  }

  /**
   * Closes a session this client gave up on (no keep-alive got through for a whole TTL) as soon as the cluster
   * answers again, trying in the background for up to {@link #RELEASE_BUDGET_MS}. The cluster may well keep it:
   * after an outage of the whole cluster a new leader gives every session a full TTL again (it cannot know how
   * long its clients were away), and the holds tied to it would block their locks for that TTL although this
   * client already reported them lost. Closed, they pass to the next waiter at once.
   */
  private void release(Info info) {
    RequestHeader h = requests.begin();
    closeCall(info, h, new Transport.Plan(Budget.ofMillis(RELEASE_BUDGET_MS), attemptMs, false))
        .whenComplete((r, e) -> {
          requests.end(h.getRequestId());
          if (e != null) {
            LOG.debug("closing lost session {} failed (it expires after its TTL): {}", info.id(), e.toString());
          }
        });
  }

  /** Asks the cluster to close {@code info} (releasing what is tied to it) as request {@code h}. */
  private CompletableFuture<?> closeCall(Info info, RequestHeader h, Transport.Plan plan) {
    return transport.call(HaspGrpc.getCloseSessionMethod(), n -> CloseSessionRequest.newBuilder().setHeader(h)
        .setSessionId(info.id()).setSessionKey(info.key()).build(), plan);
  }

  /** The session is gone: every hold tied to it is reported lost; the next call opens a new one. */
  void lost(Info info, HaspException cause) {
    synchronized (lock) {
      if (now() == info) {
        current = null;
      }
    }
    for (LockHandle h : holds) {
      if (h.sessionId() == info.id()) {
        holds.remove(h);
        lose.accept(h, cause);
      }
    }
  }

  /**
   * Closes the session (releasing what is tied to it) within the budget; true when the cluster confirmed it, or
   * there was no session.
   */
  boolean close(Budget budget) {
    Info info;
    CompletableFuture<Info> opening;
    synchronized (lock) {
      closed = true;
      info = now();
      opening = current;
    }
    if (info == null && opening != null && !opening.isDone()) {
      try {
        info = opening.get(Math.max(1, budget.remainingMs()), TimeUnit.MILLISECONDS); // a session being opened
      } catch (Exception e) {
        return false;
      }
    }
    if (info == null) {
      return true;
    }
    Info s = info;
    RequestHeader h = requests.begin();
    try {
      closeCall(s, h, new Transport.Plan(budget, Math.min(1_000, Math.max(1, budget.remainingMs())), false))
          .get(Math.max(1, budget.remainingMs()) + 500, TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException e) {
      HaspException x = RetryPolicy.toException(HaspClient.unwrap(e));
      // an expired session released everything already
      return x.code() == ErrorCode.SESSION_EXPIRED;
    } catch (Exception e) {
      LOG.debug("closing session {} failed (it expires after its TTL): {}", s.id(), e.toString());
      return false;
    } finally {
      requests.end(h.getRequestId());
    }
  }
}
