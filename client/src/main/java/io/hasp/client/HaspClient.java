package io.hasp.client;

import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.LockSummary;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A thread-safe client of a Hasp cluster. Give it every node's API address; it prefers the leader, fails over
 * on unreachable nodes, and re-sends a failed request with the same request id, so a retried acquire or
 * release is applied once and a waiting {@code lock} re-attaches to its place in the queue.
 *
 * <p>A session is opened on first use and kept alive in the background. Holds taken with auto-renew (the
 * default) are tied to it: if this process dies they are released after the session TTL. If the session is
 * lost (e.g. this client was cut off longer than the TTL), every such hold is reported to the
 * {@link LockLostListener} and later calls open a new session.
 *
 * <p>Blocking calls throw {@link HaspException} (unchecked) with the server's error code; their
 * {@code ...Async} twins complete exceptionally with it. Bad arguments are rejected before anything is sent.
 */
public final class HaspClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HaspClient.class);

  private final Transport transport;
  private final ScheduledExecutorService scheduler;
  private final String clientId;
  private final AtomicLong requestIds = new AtomicLong();
  private final Duration sessionTtl;
  private final Duration callTimeout;
  private final boolean autoRenewDefault;
  private final LockLostListener listener;
  private final Set<LockHandle> sessionHolds = ConcurrentHashMap.newKeySet();
  private final Object sessionLock = new Object();
  private CompletableFuture<Long> session;
  private volatile long lastKeepAliveNanos;
  private volatile boolean closed;

  private HaspClient(Builder b) {
    this.scheduler = Executors.newScheduledThreadPool(2, r -> {
      Thread t = new Thread(r, "hasp-client");
      t.setDaemon(true);
      return t;
    });
    this.transport = new Transport(b.endpoints, scheduler);
    this.clientId = b.clientId != null ? b.clientId : UUID.randomUUID().toString();
    this.sessionTtl = b.sessionTtl;
    this.callTimeout = b.callTimeout;
    this.autoRenewDefault = b.autoRenew;
    this.listener = b.listener;
    transport.findLeader();
  }

  /**
   * One try's deadline for calls that do not wait: short, so that a node that accepts connections but does not
   * answer (paused, partitioned away from the leader) costs one try, not the whole call (the retry carries the
   * same request id, so it is safe).
   */
  private long attemptMs() {
    return Math.min(callTimeout.toMillis(), 2_000);
  }

  /** Starts a client configuration; {@link Builder#endpoints} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Client settings. Endpoints are required. */
  public static final class Builder {
    private final List<String> endpoints = new ArrayList<>();
    private String clientId;
    private Duration sessionTtl = Duration.ofSeconds(10);
    private Duration callTimeout = Duration.ofSeconds(10);
    private boolean autoRenew = true;
    private LockLostListener listener = (h, e) -> LOG.warn("Lock lost: {} ({})", h, e.getMessage());

    /** host:port of every node's API. */
    public Builder endpoints(String... endpoints) {
      for (String e : endpoints) {
        Objects.requireNonNull(e, "endpoint");
        if (e.lastIndexOf(':') <= 0) {
          throw new IllegalArgumentException("endpoint '" + e + "' is not host:port");
        }
        this.endpoints.add(e.trim());
      }
      return this;
    }

    /** host:port of every node's API, as a list. */
    public Builder endpoints(List<String> endpoints) {
      return endpoints(endpoints.toArray(new String[0]));
    }

    /** For tests and tools: a fixed client id. It must be unique per process. */
    public Builder clientId(String clientId) {
      this.clientId = Objects.requireNonNull(clientId);
      return this;
    }

    /** How long the cluster keeps this client's holds after its last keep-alive (default 10 s). */
    public Builder sessionTtl(Duration ttl) {
      if (ttl.toMillis() < 500 || ttl.toMillis() > 3_600_000) {
        throw new IllegalArgumentException("session TTL must be between 500 ms and 1 h, got " + ttl);
      }
      this.sessionTtl = ttl;
      return this;
    }

    /** Time budget of one call, retries and failover included (a waiting lock uses its wait timeout on top). */
    public Builder callTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("call timeout must be positive, got " + timeout);
      }
      this.callTimeout = timeout;
      return this;
    }

    /** Default for every lock call (default on); see {@link LockOptions}. */
    public Builder autoRenew(boolean autoRenew) {
      this.autoRenew = autoRenew;
      return this;
    }

    /** Told of every hold lost without being released (default: a warning in the log). */
    public Builder lockLostListener(LockLostListener listener) {
      this.listener = Objects.requireNonNull(listener);
      return this;
    }

    /** Connects (lazily) and asks the endpoints who leads. Throws when no endpoint was given. */
    public HaspClient build() {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("at least one endpoint is needed");
      }
      return new HaspClient(this);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Locks
  // ------------------------------------------------------------------------------------------------

  /** Waits (FIFO) until granted; throws {@link HaspException.LockWaitTimeoutException} when the wait runs out. */
  public LockHandle lock(String name) {
    return lock(name, LockOptions.DEFAULT);
  }

  /** Waits (FIFO) with these options; throws {@link HaspException} (e.g. LOCK_SIZE_MISMATCH, LOCK_WAIT_TIMEOUT). */
  public LockHandle lock(String name, LockOptions options) {
    return join(lockAsync(name, options));
  }

  /** Cancelling the future cancels the wait (the server removes the waiter). */
  public CompletableFuture<LockHandle> lockAsync(String name, LockOptions options) {
    return acquire(name, options, false).thenApply(h -> h.orElseThrow(() ->
        new HaspException.LockWaitTimeoutException("lock '" + name + "' was not granted")));
  }

  /** Grants at once or returns empty; never waits and never jumps the queue. */
  public Optional<LockHandle> tryLock(String name) {
    return tryLock(name, LockOptions.DEFAULT);
  }

  /** {@link #tryLock(String)} with options (size, lease, owner, auto-renew; the wait timeout is ignored). */
  public Optional<LockHandle> tryLock(String name, LockOptions options) {
    return join(tryLockAsync(name, options));
  }

  /** Async twin of {@link #tryLock(String, LockOptions)}. */
  public CompletableFuture<Optional<LockHandle>> tryLockAsync(String name, LockOptions options) {
    return acquire(name, options, true);
  }

  private CompletableFuture<Optional<LockHandle>> acquire(String name, LockOptions options, boolean tryOnly) {
    checkName(name);
    Objects.requireNonNull(options, "options");
    checkOpen();
    boolean autoRenew = options.autoRenew != null ? options.autoRenew : autoRenewDefault;
    boolean sessionBound = autoRenew || options.lease == null;
    CompletableFuture<Long> sessionId = sessionBound ? session() : CompletableFuture.completedFuture(0L);
    return sessionId.thenCompose(sid -> {
      LockRequest.Builder r = LockRequest.newBuilder().setHeader(header()).setName(name).setSize(options.size)
          .setOwner(options.owner).setSessionId(sid);
      if (options.lease != null) {
        r.setLeaseMs(options.lease.toMillis());
      }
      if (options.waitTimeout != null && !tryOnly) {
        r.setWaitTimeoutMs(options.waitTimeout.toMillis());
      }
      long budget = tryOnly || options.waitTimeout == null ? callTimeout.toMillis()
          : callTimeout.toMillis() + options.waitTimeout.toMillis();
      if (!tryOnly && options.waitTimeout == null) {
        budget = Long.MAX_VALUE / 4;
      }
      Instant sent = Instant.now();
      CompletableFuture<LockResponse> call = transport.call(
          tryOnly ? HaspGrpc.getTryLockMethod() : HaspGrpc.getLockMethod(), r.build(), budget,
          tryOnly ? attemptMs() : options.waitTimeout != null ? options.waitTimeout.toMillis() + attemptMs() : 0);
      return call.thenApply(resp -> {
        if (!resp.getLocked()) {
          return Optional.<LockHandle>empty();
        }
        LockHandle h = new LockHandle(this, name, resp.getGrant().getKey(), resp.getGrant().getToken(),
            resp.getGrant().getSize(), sid, options.lease == null ? null : sent.plus(options.lease));
        if (sid != 0) {
          sessionHolds.add(h);
        }
        if (autoRenew && options.lease != null) {
          scheduleRenewal(h, options.lease);
        }
        return Optional.of(h);
      });
    });
  }

  /** Releases a hold by name and key (a hold taken elsewhere, e.g. printed by the CLI). */
  public void unlock(String name, String key) {
    join(unlockAsync(name, key));
  }

  /** Async twin of {@link #unlock(String, String)}: INVALID_KEY / LOCK_NOT_FOUND when that hold is gone. */
  public CompletableFuture<Void> unlockAsync(String name, String key) {
    checkName(name);
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
    return transport.call(HaspGrpc.getUnlockMethod(), UnlockRequest.newBuilder().setHeader(header()).setName(name)
        .setKey(key).build(), callTimeout.toMillis(), attemptMs()).thenApply(r -> null);
  }

  /** Same as {@code handle.close()}. */
  public void unlock(LockHandle handle) {
    handle.close();
  }

  void release(LockHandle h) {
    sessionHolds.remove(h);
    try {
      unlock(h.name(), h.key());
    } catch (HaspException e) {
      if (e.code() != ErrorCode.INVALID_KEY && e.code() != ErrorCode.LOCK_NOT_FOUND) {
        throw e;
      }
    }
  }

  /** Sets the lease to now + {@code lease}. Throws (and marks the handle lost) when the hold is gone. */
  public void renew(LockHandle handle, Duration lease) {
    join(renewAsync(handle, lease));
  }

  /** Async twin of {@link #renew}. */
  public CompletableFuture<Void> renewAsync(LockHandle handle, Duration lease) {
    Objects.requireNonNull(handle, "handle");
    if (lease == null || lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive, got " + lease);
    }
    Instant sent = Instant.now();
    return transport.call(HaspGrpc.getRenewMethod(), RenewRequest.newBuilder().setHeader(header())
        .setName(handle.name()).setKey(handle.key()).setLeaseMs(lease.toMillis()).build(),
        callTimeout.toMillis(), attemptMs())
        .handle((r, e) -> {
          if (e != null) {
            HaspException h = Transport.toException(unwrap(e));
            if (h.code() == ErrorCode.INVALID_KEY || h.code() == ErrorCode.LOCK_NOT_FOUND
                || h.code() == ErrorCode.SESSION_EXPIRED) {
              lose(handle, h);
            }
            throw h;
          }
          handle.leaseRenewed(sent.plus(lease));
          return null;
        });
  }

  private void scheduleRenewal(LockHandle h, Duration lease) {
    long period = Math.max(50, lease.toMillis() / 3);
    h.renewal = scheduler.scheduleWithFixedDelay(() -> {
      if (!h.isValid()) {
        return;
      }
      renewAsync(h, lease).exceptionally(e -> {
        HaspException x = Transport.toException(unwrap(e));
        if (h.leaseDeadline() != null && Instant.now().isAfter(h.leaseDeadline())) {
          lose(h, x);
        }
        return null;
      });
    }, period, period, TimeUnit.MILLISECONDS);
  }

  private void lose(LockHandle h, HaspException cause) {
    sessionHolds.remove(h);
    if (h.markLost()) {
      try {
        listener.lockLost(h, cause);
      } catch (RuntimeException e) {
        LOG.warn("LockLostListener failed", e);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Reads and admin
  // ------------------------------------------------------------------------------------------------

  /** Linearizable: true when the lock has at least one holder. */
  public boolean isLocked(String name) {
    return join(isLockedAsync(name));
  }

  /** Async twin of {@link #isLocked}. */
  public CompletableFuture<Boolean> isLockedAsync(String name) {
    checkName(name);
    return transport.call(HaspGrpc.getIsLockedMethod(), IsLockedRequest.newBuilder().setName(name).build(),
        callTimeout.toMillis(), attemptMs()).thenApply(r -> r.getLocked());
  }

  /** Linearizable: size, holders (token, owner, lease left) and waiter count; empty when the lock does not exist. */
  public Optional<io.hasp.proto.LockInfo> getLock(String name) {
    return join(getLockAsync(name));
  }

  /** Async twin of {@link #getLock}. */
  public CompletableFuture<Optional<io.hasp.proto.LockInfo>> getLockAsync(String name) {
    checkName(name);
    return transport.call(HaspGrpc.getGetLockMethod(), GetLockRequest.newBuilder().setName(name).build(),
        callTimeout.toMillis(), attemptMs())
        .thenApply(r -> r.getExists() ? Optional.of(r.getLock()) : Optional.<io.hasp.proto.LockInfo>empty());
  }

  /** Every lock whose name starts with {@code prefix}, all pages. */
  public List<LockSummary> listLocks(String prefix) {
    return join(listLocksAsync(prefix));
  }

  /** Async twin of {@link #listLocks}: pages through the names one call after another. */
  public CompletableFuture<List<LockSummary>> listLocksAsync(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return listPage(prefix, "", new ArrayList<>());
  }

  private CompletableFuture<List<LockSummary>> listPage(String prefix, String token, List<LockSummary> all) {
    return transport.call(HaspGrpc.getListLocksMethod(), ListLocksRequest.newBuilder().setPrefix(prefix)
        .setPageToken(token).setLimit(1000).build(), callTimeout.toMillis(), attemptMs())
        .thenCompose((ListLocksResponse r) -> {
          all.addAll(r.getLocksList());
          return r.getNextPageToken().isEmpty() ? CompletableFuture.completedFuture(all)
              : listPage(prefix, r.getNextPageToken(), all);
        });
  }

  /** Admin: force-releases every holder of the named locks (all locks when none is named); returns the names released. */
  public Set<String> flushLocks(String... names) {
    return join(flushLocksAsync(names));
  }

  /** Async twin of {@link #flushLocks}. */
  public CompletableFuture<Set<String>> flushLocksAsync(String... names) {
    for (String n : names) {
      checkName(n);
    }
    return transport.call(HaspGrpc.getFlushLocksMethod(), FlushLocksRequest.newBuilder().setHeader(header())
        .addAllNames(List.of(names)).build(), callTimeout.toMillis(), attemptMs())
        .thenApply(r -> new LinkedHashSet<>(r.getReleasedList()));
  }

  /** A {@link Lock} view of one named mutex with per-thread, reentrant ownership and a readable fence. */
  public FencedLock newLock(String name) {
    checkName(name);
    return new FencedLock(this, name);
  }

  /** A task lock (try-with-resources, wrap, isLocked, clear) that never waits: {@link TaskLockedException} when taken. */
  public TaskLock lockTask(String name) {
    checkName(name);
    return new TaskLock(this, name);
  }

  // ------------------------------------------------------------------------------------------------
  // Session
  // ------------------------------------------------------------------------------------------------

  private CompletableFuture<Long> session() {
    synchronized (sessionLock) {
      if (session == null || session.isCompletedExceptionally()) {
        lastKeepAliveNanos = System.nanoTime();
        session = transport.call(HaspGrpc.getOpenSessionMethod(), OpenSessionRequest.newBuilder().setHeader(header())
            .setTtlMs(sessionTtl.toMillis()).setOwner(clientId).build(), callTimeout.toMillis(), attemptMs())
            .thenApply(r -> {
              lastKeepAliveNanos = System.nanoTime();
              scheduleKeepAlive(r.getSessionId());
              return r.getSessionId();
            });
      }
      return session;
    }
  }

  private void scheduleKeepAlive(long sessionId) {
    long period = Math.max(100, sessionTtl.toMillis() / 3);
    scheduler.schedule(() -> keepAlive(sessionId), period, TimeUnit.MILLISECONDS);
  }

  private void keepAlive(long sessionId) {
    if (closed) {
      return;
    }
    long period = Math.max(100, sessionTtl.toMillis() / 3);
    // Short tries within two periods: a node that hangs (paused, cut off) must not use up the session's TTL.
    transport.call(HaspGrpc.getKeepAliveMethod(), KeepAliveRequest.newBuilder().setHeader(header())
        .setSessionId(sessionId).build(), 2 * period, Math.max(100, period / 2)).whenComplete((r, e) -> {
          if (e == null) {
            lastKeepAliveNanos = System.nanoTime();
            scheduleKeepAlive(sessionId);
            return;
          }
          HaspException x = Transport.toException(unwrap(e));
          LOG.debug("keep-alive of session {} failed: {}", sessionId, x.getMessage());
          boolean expired = x.code() == ErrorCode.SESSION_EXPIRED
              || System.nanoTime() - lastKeepAliveNanos > TimeUnit.MILLISECONDS.toNanos(sessionTtl.toMillis());
          if (expired) {
            sessionLost(sessionId, x.code() == ErrorCode.SESSION_EXPIRED ? x
                : new HaspException.SessionExpiredException("no keep-alive succeeded for " + sessionTtl.toMillis() + " ms"));
          } else {
            scheduler.schedule(() -> keepAlive(sessionId), Math.max(50, period / 4), TimeUnit.MILLISECONDS);
          }
        });
  }

  private void sessionLost(long sessionId, HaspException cause) {
    synchronized (sessionLock) {
      if (session != null && session.isDone() && !session.isCompletedExceptionally() && session.join() == sessionId) {
        session = null;
      }
    }
    for (LockHandle h : sessionHolds) {
      if (h.sessionId() == sessionId) {
        lose(h, cause);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Plumbing
  // ------------------------------------------------------------------------------------------------

  private RequestHeader header() {
    return RequestHeader.newBuilder().setClientId(clientId).setRequestId(requestIds.incrementAndGet()).build();
  }

  static void checkName(String name) {
    Objects.requireNonNull(name, "lock name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("lock name must not be empty");
    }
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > 512) {
      throw new IllegalArgumentException("lock name is " + bytes + " bytes; at most 512 UTF-8 bytes allowed");
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        throw new IllegalArgumentException("lock name must not contain control characters");
      }
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("client is closed");
    }
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new HaspException(ErrorCode.WAIT_CANCELLED, "interrupted");
    } catch (ExecutionException e) {
      throw Transport.toException(unwrap(e));
    }
  }

  /** Closes the session (releasing its holds) and the connections. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    CompletableFuture<Long> s;
    synchronized (sessionLock) {
      s = session;
    }
    for (LockHandle h : sessionHolds) {
      h.cancelRenewal();
    }
    if (s != null && s.isDone() && !s.isCompletedExceptionally()) {
      try {
        transport.call(HaspGrpc.getCloseSessionMethod(), CloseSessionRequest.newBuilder().setHeader(header())
            .setSessionId(s.join()).build(), 2_000, 2_000).get(3, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.debug("closing session failed: {}", e.toString());
      }
    }
    scheduler.shutdownNow();
    transport.close();
  }
}
