package io.hasp.server.cli;

import io.grpc.StatusRuntimeException;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockGrant;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.UnlockRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code hasp lock NAME [options] -- CMD...}: like flock(1) or {@code etcdctl lock}. Opens a session kept alive
 * in the background, waits for the lock, runs CMD while holding it, then releases it and exits with CMD's
 * code. If the CLI dies the session expires and the lock is released; if the session is lost while CMD runs,
 * CMD is stopped (another process may hold the lock by then).
 *
 * <p>Without CMD it waits in a session too, but takes a hold detached from it (with a lease), prints its key and
 * fencing token, and exits: the hold outlives the CLI until {@code unlock NAME KEY} or the lease ends (rate limits
 * work this way).
 */
@Command(name = "lock", mixinStandardHelpOptions = true,
    description = {"Wait for the lock and run CMD while holding it:  hasp lock NAME -- CMD [ARGS...]",
        "Without CMD, --lease is required: take a hold that outlives the CLI and print its key and token."})
final class LockCommand extends HaspCli.Base {
  @Parameters(index = "0", description = "Lock name") String name;
  @Parameters(index = "1..*", arity = "0..*", paramLabel = "CMD", description = "Command to run while holding the lock")
  List<String> command = new ArrayList<>();
  @Option(names = "--size", defaultValue = "1", description = "Lock size (semaphore); default 1") long size;
  @Option(names = "--lease", converter = Durations.class, description = "Lease of the hold, e.g. 30s") Duration lease;
  @Option(names = "--wait", converter = Durations.class, description = "Give up after waiting this long (default: forever)")
  Duration wait;
  @Option(names = "--owner", defaultValue = "", description = "Label shown in get (default: host/pid)") String owner;
  @Option(names = "--ttl", converter = Durations.class, defaultValue = "10s",
      description = "Session TTL while CMD runs (default 10s)") Duration ttl;

  static String defaultOwner() {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = "localhost";
    }
    return "cli@" + host + "/" + ProcessHandle.current().pid();
  }

  static String describe(LockGrant g) {
    StringBuilder b = new StringBuilder();
    b.append("name:  ").append(g.getName()).append('\n');
    b.append("key:   ").append(g.getKey()).append('\n');
    b.append("token: ").append(g.getToken());
    if (g.getExpiresAtMs() > 0) {
      b.append('\n').append("lease: ").append(g.getLeaseMs()).append("ms (until ")
          .append(Instant.ofEpochMilli(g.getExpiresAtMs())).append(')');
    }
    return b.toString();
  }

  /** Per-try deadline of a waiting Lock: the same request is re-sent after it (re-attaching to its place). */
  static final long WAIT_RESEND_MS = 10_000;

  @Override
  public Integer call() throws Exception {
    if (size < 1) {
      throw new IllegalArgumentException("--size must be at least 1, got " + size);
    }
    if (lease != null && lease.isZero()) {
      throw new IllegalArgumentException("--lease must be positive");
    }
    if (command.isEmpty() && lease == null) {
      throw new IllegalArgumentException("without a command, --lease is required (the hold outlives the CLI)");
    }
    LockRequest.Builder request = LockRequest.newBuilder().setName(name).setSize(size)
        .setOwner(owner.isEmpty() ? defaultOwner() : owner);
    if (lease != null) {
      request.setLeaseMs(lease.toMillis());
    }
    if (wait != null) {
      request.setWaitTimeoutMs(wait.toMillis());
    }
    long budget = wait == null ? Endpoints.FOREVER : wait.toMillis() + common.budgetMs();
    try (Endpoints endpoints = common.open()) {
      // The wait is always tied to a session, kept alive while the CLI runs: if the CLI dies, its waiter goes with
      // the session. Without a command the hold is detached from it and outlives the CLI (until its lease ends).
      Session session = Session.open(endpoints, common, ttl);
      Thread hook = new Thread(session::close, "hasp-lock-release");
      Runtime.getRuntime().addShutdownHook(hook);
      try {
        if (command.isEmpty()) {
          request.setDetached(true);
          LockResponse r = acquire(endpoints, session, request.setHeader(common.header()), budget);
          if (r == null) {
            return HaspCli.EXIT_NOT_ACQUIRED;
          }
          print(describe(r.getGrant()), r);
          return 0;
        }
        return runHolding(endpoints, session, request, budget);
      } finally {
        session.close();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // already shutting down
        }
      }
    }
  }

  /**
   * Waits for the lock in the session; null when the wait ran out. Each try has a deadline, after which the same
   * request is sent again (to whichever node answers): it re-attaches to its waiter or finds its grant.
   */
  private LockResponse acquire(Endpoints endpoints, Session session, LockRequest.Builder request, long budgetMs) {
    request.setSessionId(session.id).setSessionKey(session.key);
    AtomicInteger attempts = new AtomicInteger();
    try {
      return endpoints.call(budgetMs, WAIT_RESEND_MS,
          s -> s.lock(request.setAttempt(attempts.incrementAndGet()).build()));
    } catch (StatusRuntimeException e) {
      String code = e.getTrailers() == null ? null : e.getTrailers().get(Endpoints.ERROR_CODE);
      if ("LOCK_WAIT_TIMEOUT".equals(code)) {
        if (common.json) {
          out().println("{\"locked\":false,\"reason\":\"LOCK_WAIT_TIMEOUT\"}");
        } else {
          System.err.println("not acquired: timed out after waiting " + wait.toMillis() + "ms for '" + name + "'");
        }
        return null;
      }
      throw e;
    }
  }

  private int runHolding(Endpoints endpoints, Session session, LockRequest.Builder request, long budget)
      throws Exception {
    Process[] child = new Process[1];
    session.onLost = () -> {
      System.err.println("error: SESSION_EXPIRED: session " + session.id + " was lost; the lock '" + name
          + "' may be held by another process now; stopping the command");
      if (child[0] != null) {
        child[0].destroy();
      }
    };
    session.onClose = () -> {
      if (child[0] != null) {
        child[0].destroy();
      }
    };
    LockResponse held = acquire(endpoints, session, request.setHeader(common.header()), budget);
    if (held == null) {
      return HaspCli.EXIT_NOT_ACQUIRED;
    }
    child[0] = new ProcessBuilder(command).inheritIO().start();
    int code = child[0].waitFor();
    try {
      endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.unlock(UnlockRequest.newBuilder()
          .setHeader(common.header()).setName(name).setKey(held.getGrant().getKey()).build()));
    } catch (StatusRuntimeException e) {
      System.err.println("warning: unlock failed (" + e.getStatus().getDescription() + "); closing the session releases it");
    }
    return code;
  }

  /** The CLI's session: opened at start, kept alive at a third of its TTL, closed at the end (also on a signal). */
  private static final class Session {
    final long id;
    final String key;
    private final Endpoints endpoints;
    private final HaspCli.Common common;
    private final Duration ttl;
    private final AtomicBoolean closed = new AtomicBoolean();
    volatile Runnable onLost = () -> {};
    volatile Runnable onClose = () -> {};

    private Session(Endpoints endpoints, HaspCli.Common common, Duration ttl, long id, String key) {
      this.endpoints = endpoints;
      this.common = common;
      this.ttl = ttl;
      this.id = id;
      this.key = key;
    }

    static Session open(Endpoints endpoints, HaspCli.Common common, Duration ttl) {
      var r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.openSession(
          OpenSessionRequest.newBuilder().setHeader(common.header()).setTtlMs(ttl.toMillis()).setOwner(defaultOwner())
              .build()));
      Session session = new Session(endpoints, common, ttl, r.getSessionId(), r.getSessionKey());
      Thread keepAlive = new Thread(session::keepAlive, "hasp-keepalive");
      keepAlive.setDaemon(true);
      keepAlive.start();
      return session;
    }

    /** Keeps the session alive at a third of its TTL; if it is lost, says so (the lock may be someone else's). */
    private void keepAlive() {
      long period = Math.max(100, ttl.toMillis() / 3);
      while (!closed.get()) {
        try {
          Thread.sleep(period);
          endpoints.call(period, period, s -> s.keepAlive(KeepAliveRequest.newBuilder().setHeader(common.header())
              .setSessionId(id).setSessionKey(key).build()));
        } catch (InterruptedException e) {
          return;
        } catch (StatusRuntimeException e) {
          String code = e.getTrailers() == null ? null : e.getTrailers().get(Endpoints.ERROR_CODE);
          if ("SESSION_EXPIRED".equals(code) && !closed.get()) {
            onLost.run();
            return;
          }
        }
      }
    }

    void close() {
      if (closed.compareAndSet(false, true)) {
        onClose.run();
        try {
          endpoints.call(2_000, 2_000, s -> s.closeSession(CloseSessionRequest.newBuilder()
              .setHeader(common.header()).setSessionId(id).setSessionKey(key).build()));
        } catch (RuntimeException e) {
          System.err.println("warning: could not close session " + id + " (it expires in " + ttl.toMillis()
              + "ms): " + e.getMessage());
        }
      }
    }
  }
}
