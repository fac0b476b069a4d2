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
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code hasp lock NAME [options] -- CMD...}: like flock(1) or {@code etcdctl lock}. Opens a session kept alive
 * in the background, waits for the lock, runs CMD while holding it, then releases it and exits with CMD's
 * code. If the CLI dies the session expires and the lock is released; if the session is lost while CMD runs,
 * CMD is stopped (another process may hold the lock by then).
 *
 * <p>Without CMD it takes a hold with a lease and no session, prints its key and fencing token, and exits: the
 * hold outlives the CLI until {@code unlock NAME KEY} or the lease ends (rate limits work this way).
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
    long budget = wait == null ? Long.MAX_VALUE / 4 : wait.toMillis() + common.budgetMs();
    try (Endpoints endpoints = common.open()) {
      if (command.isEmpty()) {
        LockResponse r = acquire(endpoints, request.setHeader(common.header()).build(), budget);
        if (r == null) {
          return HaspCli.EXIT_NOT_ACQUIRED;
        }
        print(describe(r.getGrant()), r);
        return 0;
      }
      return runHolding(endpoints, request, budget);
    }
  }

  /** Null when the wait ran out. */
  private LockResponse acquire(Endpoints endpoints, LockRequest request, long budgetMs) {
    try {
      return endpoints.call(budgetMs, 0, s -> s.lock(request));
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

  private int runHolding(Endpoints endpoints, LockRequest.Builder request, long budget) throws Exception {
    long sessionId = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.openSession(
        OpenSessionRequest.newBuilder().setHeader(common.header()).setTtlMs(ttl.toMillis()).setOwner(defaultOwner())
            .build())).getSessionId();
    AtomicBoolean closed = new AtomicBoolean();
    Process[] child = new Process[1];
    Runnable closeSession = () -> {
      if (closed.compareAndSet(false, true)) {
        try {
          endpoints.call(2_000, 2_000, s -> s.closeSession(CloseSessionRequest.newBuilder()
              .setHeader(common.header()).setSessionId(sessionId).build()));
        } catch (RuntimeException e) {
          System.err.println("warning: could not close session " + sessionId + " (it expires in " + ttl.toMillis()
              + "ms): " + e.getMessage());
        }
      }
    };
    Thread hook = new Thread(() -> {
      if (child[0] != null) {
        child[0].destroy();
      }
      closeSession.run();
    }, "hasp-lock-release");
    Runtime.getRuntime().addShutdownHook(hook);
    Thread keepAlive = new Thread(() -> keepAlive(endpoints, sessionId, child, closed), "hasp-keepalive");
    keepAlive.setDaemon(true);
    keepAlive.start();
    try {
      LockResponse held = acquire(endpoints, request.setSessionId(sessionId).setHeader(common.header()).build(), budget);
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
    } finally {
      closeSession.run();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down
      }
    }
  }

  /** Keeps the session alive at a third of its TTL; if it is lost, stops CMD (the lock may be someone else's). */
  private void keepAlive(Endpoints endpoints, long sessionId, Process[] child, AtomicBoolean closed) {
    long period = Math.max(100, ttl.toMillis() / 3);
    while (!closed.get()) {
      try {
        Thread.sleep(period);
        endpoints.call(period, period, s -> s.keepAlive(KeepAliveRequest.newBuilder().setHeader(common.header())
            .setSessionId(sessionId).build()));
      } catch (InterruptedException e) {
        return;
      } catch (StatusRuntimeException e) {
        String code = e.getTrailers() == null ? null : e.getTrailers().get(Endpoints.ERROR_CODE);
        if ("SESSION_EXPIRED".equals(code) && !closed.get()) {
          System.err.println("error: SESSION_EXPIRED: session " + sessionId + " was lost; the lock '" + name
              + "' may be held by another process now; stopping the command");
          if (child[0] != null) {
            child[0].destroy();
          }
          return;
        }
      }
    }
  }
}
