package io.hasp.client;

import io.hasp.proto.AbandonRequest;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockSummary;
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
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A thread-safe client of a Hasp cluster. Give it every node's API address; it prefers the leader, fails over
 * on unreachable nodes, and re-sends a failed request with the same request id, so a retried acquire or release
 * is applied once and a waiting {@code lock} re-attaches to its place in the queue wherever the client now talks.
 *
 * <p>A session is opened on first use and kept alive in the background ({@link ClientSession}). Every wait is
 * tied to it, and holds taken with auto-renew (the default) too: if this process dies they are released after
 * the session TTL. If the session is lost (e.g. this client was cut off longer than the TTL), every such hold is
 * reported to the {@link LockLostListener} and later calls open a new session.
 *
 * <p>{@code lock} without a wait timeout waits as long as it takes, through the death of any node and leader
 * changes. Cancelling a pending acquire (its future, an interrupt of a blocking call, or {@link #close()})
 * removes its waiter on the cluster, or releases the hold if the grant won the race.
 *
 * <p>Blocking calls throw {@link HaspException} (unchecked) with the server's error code; their
 * {@code ...Async} twins complete exceptionally with it. Bad arguments are rejected before anything is sent.
 */
public final class HaspClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HaspClient.class);

  private final Transport transport;
  private final ScheduledExecutorService scheduler;
  /**
   * Where the futures of the {@code ...Async} methods complete and the {@link LockLostListener} runs: never on a
   * connection's I/O thread, so a caller's callback may block (or call this client) without stalling replies.
   * Blocking calls skip this hand-off: the reply wakes the waiting thread directly.
   */
  private final java.util.concurrent.ExecutorService callbacks;
  private final Requests requests;
  private final ClientSession session;
  private final LeaseRenewer renewer;
  private final Duration callTimeout;
  private final long waitPulseMs;
  private final boolean autoRenewDefault;
  private final LockLostListener listener;
  private final Set<Acquisition<?>> pending = ConcurrentHashMap.newKeySet();
  /** Acquires given up on whose abandon the cluster has not confirmed yet. */
  private final Set<Acquisition<?>> abandoning = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private HaspClient(Builder b) {
    java.util.concurrent.ScheduledThreadPoolExecutor timers = new java.util.concurrent.ScheduledThreadPoolExecutor(2,
        r -> {
          Thread t = new Thread(r, "hasp-client");
          t.setDaemon(true);
          return t;
        });
    timers.setRemoveOnCancelPolicy(true); // every try has a deadline timer, almost always cancelled
    this.scheduler = timers;
    this.callbacks = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "hasp-client-callback");
      t.setDaemon(true);
      return t;
    });
    this.transport = new Transport(b.endpoints, scheduler, b.builtSecurity, b.callStream);
    this.requests = new Requests(b.clientId != null ? b.clientId : UUID.randomUUID().toString());
    this.callTimeout = b.callTimeout;
    this.waitPulseMs = b.waitPulse.toMillis();
    this.autoRenewDefault = b.autoRenew;
    this.listener = b.listener;
    this.session = new ClientSession(transport, requests, scheduler, b.sessionTtl, attemptMs(), this::lose);
    this.renewer = new LeaseRenewer(scheduler, this::renewCall, this::lose);
    transport.findLeader();
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
    private Duration waitPulse = Duration.ofSeconds(1);
    private boolean autoRenew = true;
    private LockLostListener listener = (h, e) -> LOG.warn("Lock lost: {} ({})", h, e.getMessage());
    private boolean tls;
    private java.nio.file.Path tlsCa;
    private java.nio.file.Path tlsCert;
    private java.nio.file.Path tlsKey;
    private String token;
    private ChannelSecurity builtSecurity;
    private boolean callStream = !Boolean.getBoolean("hasp.client.unary");

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

    /** How long the cluster keeps this client's holds after its last keep-alive (default 10 s, 1 s to 1 h). */
    public Builder sessionTtl(Duration ttl) {
      if (ttl.toMillis() < 1_000 || ttl.toMillis() > 3_600_000) {
        throw new IllegalArgumentException("session TTL must be between 1 s and 1 h, got " + ttl);
      }
      this.sessionTtl = ttl;
      return this;
    }

    /**
     * Time budget of one call that does not wait, retries and failover included (default 10 s); a lock with a
     * wait timeout gets it on top of the wait. A lock without a wait timeout has no budget at all.
     */
    public Builder callTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("call timeout must be positive, got " + timeout);
      }
      this.callTimeout = timeout;
      return this;
    }

    /**
     * How often a waiting lock checks in with its node (default 1 s): the node ends the call after this long with
     * "still waiting" and the client sends the same request again (it re-attaches to its place, at the cost of a
     * read, no log entry). A try with no answer within this plus a second means the node is not answering (frozen,
     * cut off) and the wait moves to another node: the bound on how long a grant stays unseen.
     */
    public Builder waitPulse(Duration interval) {
      if (interval.toMillis() < 500) {
        throw new IllegalArgumentException("waitPulse must be at least 500 ms, got " + interval);
      }
      this.waitPulse = interval;
      return this;
    }

    /**
     * Sends the calls of locks, sessions and reads on one long-lived stream per node (default on), rather than a
     * gRPC call each: the same requests and answers, less work per call on both sides. Off (or the system property
     * {@code hasp.client.unary=true}): one unary call each, e.g. for a proxy that does not pass streams.
     */
    public Builder callStream(boolean on) {
      this.callStream = on;
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

    /**
     * Speaks TLS, trusting the CA certificates of this PEM file (the cluster's {@code tls.cert} must be signed by one
     * of them and name the endpoint's host or IP).
     */
    public Builder tls(java.nio.file.Path caPem) {
      this.tls = true;
      this.tlsCa = Objects.requireNonNull(caPem, "caPem");
      return this;
    }

    /** Speaks TLS, trusting the JVM's default CA certificates (for node certificates from a public CA). */
    public Builder tls() {
      this.tls = true;
      return this;
    }

    /**
     * Presents this certificate (PEM chain) and PKCS#8 key (PEM) to the cluster: needed when the nodes set
     * {@code tls.client.ca} (mTLS). Turns TLS on (with the JVM's default trust unless {@link #tls(java.nio.file.Path)}).
     */
    public Builder tlsClientCert(java.nio.file.Path certPem, java.nio.file.Path keyPem) {
      this.tls = true;
      this.tlsCert = Objects.requireNonNull(certPem, "certPem");
      this.tlsKey = Objects.requireNonNull(keyPem, "keyPem");
      return this;
    }

    /** Sends {@code authorization: Bearer <token>} with every call (clusters with {@code auth.tokens.file}). */
    public Builder token(String token) {
      this.token = ChannelSecurity.checkToken(token);
      return this;
    }

    /**
     * TLS and token from the environment, as the CLI reads them: {@code HASP_TLS_CA} (TLS on, trusting that CA
     * file), {@code HASP_TLS_CERT} + {@code HASP_TLS_KEY} (client certificate), {@code HASP_TOKEN}; unset or empty
     * variables change nothing. For tools and examples; applications usually pass their settings explicitly.
     */
    public Builder securityFromEnvironment() {
      String ca = env("HASP_TLS_CA");
      String cert = env("HASP_TLS_CERT");
      String key = env("HASP_TLS_KEY");
      String t = env("HASP_TOKEN");
      if (ca != null) {
        tls(java.nio.file.Path.of(ca));
      }
      if (cert != null || key != null) {
        if (cert == null || key == null) {
          throw new IllegalArgumentException("HASP_TLS_CERT and HASP_TLS_KEY go together");
        }
        tlsClientCert(java.nio.file.Path.of(cert), java.nio.file.Path.of(key));
      }
      if (t != null) {
        token(t);
      }
      return this;
    }

    private static String env(String name) {
      String v = System.getenv(name);
      return v == null || v.isBlank() ? null : v.trim();
    }

    ChannelSecurity security() {
      return ChannelSecurity.of(tls, tlsCa, tlsCert, tlsKey, token);
    }

    /**
     * Connects (lazily) and asks the endpoints who leads. Throws when no endpoint was given, or when a TLS file
     * cannot be used (IllegalArgumentException naming it).
     */
    public HaspClient build() {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("at least one endpoint is needed");
      }
      builtSecurity = security(); // fails here, on the caller's thread, for a TLS file that cannot be used
      return new HaspClient(this);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Locks
  // ------------------------------------------------------------------------------------------------

  /**
   * Waits (FIFO) until granted, as long as it takes; interruptible (the wait is then abandoned on the cluster
   * and {@link HaspException} WAIT_CANCELLED is thrown with the interrupt flag set).
   */
  public LockHandle lock(String name) {
    return lock(name, LockOptions.DEFAULT);
  }

  /** Waits (FIFO) with these options; throws {@link HaspException} (e.g. LOCK_SIZE_MISMATCH, LOCK_WAIT_TIMEOUT). */
  public LockHandle lock(String name, LockOptions options) {
    return join(acquire(name, options, false, Thread.currentThread().getId(), true, HaspClient::granted));
  }

  /** Cancelling the future cancels the wait: the cluster removes the waiter or releases a grant that raced it. */
  public CompletableFuture<LockHandle> lockAsync(String name, LockOptions options) {
    return acquire(name, options, false, 0, false, HaspClient::granted);
  }

  /** {@link #lockAsync} for a caller that only blocks on the future (no hand-off to the callback threads). */
  CompletableFuture<LockHandle> lockAwaited(String name, LockOptions options) {
    return acquire(name, options, false, 0, true, HaspClient::granted);
  }

  /** Grants at once or returns empty; never waits and never jumps the queue. */
  public Optional<LockHandle> tryLock(String name) {
    return tryLock(name, LockOptions.DEFAULT);
  }

  /** {@link #tryLock(String)} with options (size, lease, owner, auto-renew; the wait timeout is ignored). */
  public Optional<LockHandle> tryLock(String name, LockOptions options) {
    return join(acquire(name, options, true, 0, true, h -> h));
  }

  /** Async twin of {@link #tryLock(String, LockOptions)}; cancelling it releases a grant that raced the cancel. */
  public CompletableFuture<Optional<LockHandle>> tryLockAsync(String name, LockOptions options) {
    return acquire(name, options, true, 0, false, h -> h);
  }

  private static LockHandle granted(Optional<LockHandle> h) {
    return h.orElseThrow(() -> new HaspException.LockWaitTimeoutException("lock was not granted within its wait"));
  }

  /** @param awaited only a blocking caller waits on it: it completes on whichever thread the answer arrives */
  private <T> Acquisition<T> acquire(String name, LockOptions options, boolean tryOnly, long threadId,
      boolean awaited, java.util.function.Function<Optional<LockHandle>, T> shape) {
    checkName(name);
    Objects.requireNonNull(options, "options");
    checkOpen();
    boolean autoRenew = options.autoRenew != null ? options.autoRenew : autoRenewDefault;
    Acquisition<T> a = new Acquisition<>(this, name, options, tryOnly, threadId, autoRenew,
        awaited ? Runnable::run : callbacks, shape);
    pending.add(a);
    abandoning.add(a);
    a.whenComplete((v, e) -> pending.remove(a));
    a.settledFuture().whenComplete((v, e) -> abandoning.remove(a));
    a.start();
    return a;
  }

  /**
   * Completes once the cluster has settled this acquire (a future returned by {@link #lockAsync} or
   * {@link #tryLockAsync}): it was answered, or, after it was cancelled, its abandon was confirmed: its waiter
   * is gone or the hold it won in the race released. Completes at once for any other future. Never fails.
   */
  public static CompletableFuture<Void> settled(CompletableFuture<?> acquire) {
    if (acquire instanceof Acquisition<?> a) {
      return a.settledFuture();
    }
    return acquire.handle((v, e) -> null);
  }

  /**
   * Waits until every acquire of this client that ended without a hold (cancelled, interrupted, timed out with
   * an unknown outcome) is settled on the cluster: its waiter removed, a grant that raced the cancel released.
   * Returns false when that did not happen within {@code timeout} (the session's end settles them anyway).
   */
  public boolean awaitSettled(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    CompletableFuture<?>[] all = abandoning.stream().filter(CompletableFuture::isDone).map(Acquisition::settledFuture)
        .toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(all).get(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException e) {
      return true; // settled futures never fail
    }
  }

  /** Releases a hold by name and key (a hold taken elsewhere, e.g. printed by the CLI). */
  public void unlock(String name, String key) {
    join(unlockCall(name, key));
  }

  /** Async twin of {@link #unlock(String, String)}: INVALID_KEY / LOCK_NOT_FOUND when that hold is gone. */
  public CompletableFuture<Void> unlockAsync(String name, String key) {
    return onCallbacks(unlockCall(name, key));
  }

  private CompletableFuture<Void> unlockCall(String name, String key) {
    checkName(name);
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("key must not be empty");
    }
    RequestHeader h = requests.begin();
    return settled(h, transport.call(HaspGrpc.getUnlockMethod(),
        n -> UnlockRequest.newBuilder().setHeader(h).setName(name).setKey(key).build(), plan())).thenApply(r -> null);
  }

  /** Same as {@code handle.close()}. */
  public void unlock(LockHandle handle) {
    handle.close();
  }

  void release(LockHandle h) {
    session.unregister(h);
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
    join(renewCall(handle, lease));
  }

  /** Async twin of {@link #renew}. */
  public CompletableFuture<Void> renewAsync(LockHandle handle, Duration lease) {
    return onCallbacks(renewCall(handle, lease));
  }

  /** The renew itself (auto-renew calls it: no hand-off, only the listener runs on the callback threads). */
  CompletableFuture<Void> renewCall(LockHandle handle, Duration lease) {
    Objects.requireNonNull(handle, "handle");
    if (lease == null || lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive, got " + lease);
    }
    Instant sent = Instant.now();
    RequestHeader h = requests.begin();
    return settled(h, transport.call(HaspGrpc.getRenewMethod(), n -> RenewRequest.newBuilder().setHeader(h)
        .setName(handle.name()).setKey(handle.key()).setLeaseMs(lease.toMillis()).build(), plan()))
        .handle((r, e) -> {
          if (e != null) {
            HaspException x = RetryPolicy.toException(unwrap(e));
            if (x.code() == ErrorCode.INVALID_KEY || x.code() == ErrorCode.LOCK_NOT_FOUND
                || x.code() == ErrorCode.SESSION_EXPIRED) {
              lose(handle, x);
            }
            throw x;
          }
          handle.leaseRenewed(sent.plus(lease));
          return null;
        });
  }

  private void lose(LockHandle h, HaspException cause) {
    session.unregister(h);
    if (h.markLost()) {
      Runnable tell = () -> {
        try {
          listener.lockLost(h, cause);
        } catch (RuntimeException e) {
          LOG.warn("LockLostListener failed", e);
        }
      };
      try {
        callbacks.execute(tell);
      } catch (RejectedExecutionException e) {
        tell.run(); // closing: tell it here
      }
    }
  }

  /**
   * Tells the cluster this client gave up on request {@code requestId}; retried until the cluster settles it,
   * the session is lost (which ends every hold and wait of it), or the client is closed. Never fails.
   */
  CompletableFuture<Void> abandon(long requestId) {
    RequestHeader h = requests.begin();
    CompletableFuture<Void> done = new CompletableFuture<>();
    // a generous budget: long enough to outlast an election or a short partition; after it the session
    // (tied to every wait) expires anyway
    Budget budget = Budget.ofMillis(Math.max(callTimeout.toMillis(), 30_000));
    transport.call(HaspGrpc.getAbandonMethod(),
        n -> AbandonRequest.newBuilder().setHeader(h).setRequestId(requestId).build(),
        new Transport.Plan(budget, attemptMs(), false))
        .whenComplete((r, e) -> {
          requests.end(h.getRequestId());
          if (e != null) {
            LOG.debug("abandon of request {} not confirmed: {}", requestId, e.toString());
          }
          done.complete(null);
        });
    return done;
  }

  // ------------------------------------------------------------------------------------------------
  // Reads and admin
  // ------------------------------------------------------------------------------------------------

  /** Linearizable: true when the lock has at least one holder. */
  public boolean isLocked(String name) {
    return join(isLockedCall(name));
  }

  /** Async twin of {@link #isLocked}. */
  public CompletableFuture<Boolean> isLockedAsync(String name) {
    return onCallbacks(isLockedCall(name));
  }

  private CompletableFuture<Boolean> isLockedCall(String name) {
    checkName(name);
    return transport.call(HaspGrpc.getIsLockedMethod(), n -> IsLockedRequest.newBuilder().setName(name).build(), plan())
        .thenApply(r -> r.getLocked());
  }

  /**
   * Linearizable: size, holders (token, owner, lease left; at most 1,000 listed, {@code holder_count} counts all)
   * and waiter count; empty when the lock does not exist.
   */
  public Optional<io.hasp.proto.LockInfo> getLock(String name) {
    return join(getLockCall(name));
  }

  /** Async twin of {@link #getLock}. */
  public CompletableFuture<Optional<io.hasp.proto.LockInfo>> getLockAsync(String name) {
    return onCallbacks(getLockCall(name));
  }

  private CompletableFuture<Optional<io.hasp.proto.LockInfo>> getLockCall(String name) {
    checkName(name);
    return transport.call(HaspGrpc.getGetLockMethod(), n -> GetLockRequest.newBuilder().setName(name).build(), plan())
        .thenApply(r -> r.getExists() ? Optional.of(r.getLock()) : Optional.<io.hasp.proto.LockInfo>empty());
  }

  /** Every lock whose name starts with {@code prefix}, all pages. */
  public List<LockSummary> listLocks(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return join(listPage(prefix, "", new ArrayList<>()));
  }

  /** Async twin of {@link #listLocks}: pages through the names one call after another. */
  public CompletableFuture<List<LockSummary>> listLocksAsync(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return onCallbacks(listPage(prefix, "", new ArrayList<>()));
  }

  private CompletableFuture<List<LockSummary>> listPage(String prefix, String token, List<LockSummary> all) {
    return transport.call(HaspGrpc.getListLocksMethod(), n -> ListLocksRequest.newBuilder().setPrefix(prefix)
        .setPageToken(token).setLimit(1000).build(), plan())
        .thenCompose((ListLocksResponse r) -> {
          all.addAll(r.getLocksList());
          return r.getNextPageToken().isEmpty() ? CompletableFuture.completedFuture(all)
              : listPage(prefix, r.getNextPageToken(), all);
        });
  }

  /**
   * Admin: force-releases every holder of the named locks (all locks when none is named); returns the names
   * released (at most 1,000 of them; the server counts all).
   */
  public Set<String> flushLocks(String... names) {
    return join(flushLocksCall(names));
  }

  /** Async twin of {@link #flushLocks}. */
  public CompletableFuture<Set<String>> flushLocksAsync(String... names) {
    return onCallbacks(flushLocksCall(names));
  }

  private CompletableFuture<Set<String>> flushLocksCall(String... names) {
    for (String n : names) {
      checkName(n);
    }
    RequestHeader h = requests.begin();
    return settled(h, transport.call(HaspGrpc.getFlushLocksMethod(), n -> FlushLocksRequest.newBuilder().setHeader(h)
        .addAllNames(List.of(names)).build(), plan()))
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
  // Plumbing
  // ------------------------------------------------------------------------------------------------

  Transport transport() {
    return transport;
  }

  Requests requests() {
    return requests;
  }

  ClientSession session() {
    return session;
  }

  LeaseRenewer renewer() {
    return renewer;
  }

  Duration callTimeout() {
    return callTimeout;
  }

  long waitPulseMs() {
    return waitPulseMs;
  }

  /** Runs later on the client's scheduler; dropped when the client is closing. */
  void schedule(Runnable r, long delayMs) {
    try {
      scheduler.schedule(r, delayMs, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closing: the acquisition is cancelled by close()
    }
  }

  /**
   * One try's deadline for calls that do not wait: short, so that a node that accepts connections but does not
   * answer (paused, partitioned away from the leader) costs one try, not the whole call (the retry carries the
   * same request id, so it is safe).
   */
  long attemptMs() {
    return Math.min(callTimeout.toMillis(), 2_000);
  }

  private Transport.Plan plan() {
    return new Transport.Plan(Budget.of(callTimeout), attemptMs(), false);
  }

  /** The same outcome, delivered on the callback threads (for the futures the ...Async methods return). */
  private <R> CompletableFuture<R> onCallbacks(CompletableFuture<R> f) {
    CompletableFuture<R> out = new CompletableFuture<>();
    f.whenComplete((v, e) -> {
      try {
        callbacks.execute(() -> {
          if (e != null) {
            out.completeExceptionally(e);
          } else {
            out.complete(v);
          }
        });
      } catch (RejectedExecutionException closing) {
        if (e != null) {
          out.completeExceptionally(e);
        } else {
          out.complete(v);
        }
      }
    });
    return out;
  }

  /** The request is settled (no longer in flight) once its call ended, however it ended. */
  private <R> CompletableFuture<R> settled(RequestHeader h, CompletableFuture<R> call) {
    return call.whenComplete((r, e) -> requests.end(h.getRequestId()));
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

  /** Waits for a call; an interrupt cancels it (abandoning what it would have got) and keeps the flag set. */
  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new HaspException(ErrorCode.WAIT_CANCELLED, "interrupted");
    } catch (ExecutionException e) {
      throw RetryPolicy.toException(unwrap(e));
    } catch (java.util.concurrent.CancellationException e) {
      throw new HaspException(ErrorCode.WAIT_CANCELLED, "cancelled");
    }
  }

  /**
   * Closes the client: pending acquires are cancelled (and abandoned on the cluster), the session is closed
   * (releasing its holds and waits), then the connections. Waits at most {@link #CLOSE_TIMEOUT} for the cluster;
   * what it could not confirm by then ends with the session's TTL. Use {@link #close(Duration)} to know.
   */
  @Override
  public void close() {
    close(CLOSE_TIMEOUT);
  }

  /** How long {@link #close()} waits for the cluster to confirm. */
  public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  /**
   * Closes the client as {@link #close()} does, waiting at most {@code timeout}; returns true when the cluster
   * confirmed that everything this client held or waited for is released (its session closed, every given-up
   * acquire settled). False means some of it ends only when the session's TTL runs out (or a lease ends).
   */
  public boolean close(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (closed) {
      return true;
    }
    closed = true;
    Budget budget = Budget.of(timeout);
    for (LockHandle h : session.holds()) {
      h.cancelRenewal();
    }
    List<CompletableFuture<Void>> abandons = new ArrayList<>();
    for (Acquisition<?> a : pending) {
      if (a.cancel(true)) {
        abandons.add(a.settledFuture());
      }
    }
    for (Acquisition<?> a : abandoning) {
      abandons.add(a.settledFuture()); // earlier give-ups still being settled
    }
    boolean confirmed = session.close(budget);
    try {
      CompletableFuture.allOf(abandons.toArray(new CompletableFuture<?>[0]))
          .get(Math.max(1, budget.remainingMs()), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      confirmed = false;
      LOG.debug("abandons at close not all confirmed: {}", e.toString());
    }
    scheduler.shutdownNow();
    transport.close();
    callbacks.shutdown(); // callbacks already handed over still run
    return confirmed;
  }
}
