package io.hasp.server.ops;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether this node is ready to serve, and why not. Ready means all of:
 * <ul>
 *   <li>its state is loaded (a node loads it in the background at start: it votes and replicates meanwhile);
 *   <li>a leader is known (and, on the leader itself, its first entry of the term is applied);
 *   <li>this node is in touch: as leader it heard a majority, as follower its leader, within
 *       {@link #contactMs} (the same measure that sends waiting Lock calls elsewhere);
 *   <li>its applied index is at most {@link #appliedLagMax} entries behind the commit index it knows.
 * </ul>
 * The verdict is computed on each call from Ratis' live view. {@link #start} keeps the standard gRPC health
 * service ({@code ""} and the Hasp service) at SERVING or NOT_SERVING to match, checking every
 * {@link #HEALTH_INTERVAL_MS}.
 */
public final class Readiness implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);
  static final long HEALTH_INTERVAL_MS = 250;

  /** The verdict and a one-line reason for people (and probes) to read. */
  public record Verdict(boolean ready, String reason) {}

  /** This node's Raft division, or null while it is not there (starting, closed). */
  public interface DivisionSource {
    RaftServer.Division get() throws IOException;
  }

  private final DivisionSource division;
  private final java.util.function.BooleanSupplier stateLoaded;
  private final LongSupplier silenceMs;
  private final long contactMs;
  private final long appliedLagMax;
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-readiness");
    t.setDaemon(true);
    return t;
  });
  private volatile Verdict last = new Verdict(false, "not checked yet");
  private volatile HealthStatusManager health;

  /**
   * @param silenceMs how long this node has been out of touch with its leader (or, as leader, a majority)
   * @param contactMs the silence up to which it still counts as in touch
   * @param appliedLagMax ready.applied.lag.max
   */
  public Readiness(DivisionSource division, java.util.function.BooleanSupplier stateLoaded, LongSupplier silenceMs,
      long contactMs, long appliedLagMax) {
    this.division = division;
    this.stateLoaded = stateLoaded;
    this.silenceMs = silenceMs;
    this.contactMs = contactMs;
    this.appliedLagMax = appliedLagMax;
  }

  /** The verdict now. */
  public Verdict check() {
    Verdict v;
    try {
      v = evaluate();
    } catch (IOException | RuntimeException e) {
      v = new Verdict(false, "the Raft server is not available: " + e.getMessage());
    }
    last = v;
    return v;
  }

  /** The verdict of the most recent check (for the gauge; no new check). */
  public Verdict last() {
    return last;
  }

  private Verdict evaluate() throws IOException {
    RaftServer.Division d = division.get();
    if (d == null) {
      return new Verdict(false, "the Raft server is not running");
    }
    DivisionInfo i = d.getInfo();
    if (!i.isAlive()) {
      return new Verdict(false, "the Raft division stopped");
    }
    if (!stateLoaded.getAsBoolean()) {
      return new Verdict(false, "loading its state (it votes and replicates meanwhile, but serves nothing)");
    }
    String role = i.getCurrentRole().name();
    long term = i.getCurrentTerm();
    if (i.getLeaderId() == null) {
      return new Verdict(false, "no leader known (" + role + ", term " + term + ")");
    }
    if (i.isLeader() && !i.isLeaderReady()) {
      return new Verdict(false, "leader of term " + term + ", not ready yet (its first entry is not applied)");
    }
    long silence = silenceMs.getAsLong();
    if (silence >= contactMs) {
      return new Verdict(false, i.isLeader()
          ? "leader of term " + term + " has not heard from a majority for " + silence + " ms"
          : "no contact with leader " + i.getLeaderId() + " for " + silence + " ms");
    }
    long commit = d.getRaftLog().getLastCommittedIndex();
    long applied = i.getLastAppliedIndex();
    if (commit - applied > appliedLagMax) {
      return new Verdict(false, "applied index " + applied + " trails commit index " + commit + " by "
          + (commit - applied) + " entries (ready.applied.lag.max=" + appliedLagMax + ")");
    }
    return new Verdict(true, "ready: " + role + ", leader " + i.getLeaderId() + ", term " + term + ", applied "
        + applied + " of " + commit);
  }

  /** Keeps {@code health}'s status for {@code services} in step with the verdict until {@link #close}. */
  public void start(HealthStatusManager health, String... services) {
    this.health = health;
    executor.scheduleWithFixedDelay(() -> {
      boolean was = last.ready();
      Verdict v = check();
      ServingStatus status = v.ready() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      for (String s : services) {
        health.setStatus(s, status);
      }
      if (was != v.ready()) {
        LOG.info("Readiness: {}", v.reason());
      }
    }, 0, HEALTH_INTERVAL_MS, TimeUnit.MILLISECONDS);
  }

  /** Stops the checks; the health service answers NOT_SERVING from now on. */
  @Override
  public void close() {
    executor.shutdownNow();
    HealthStatusManager h = health;
    if (h != null) {
      h.enterTerminalState();
    }
    last = new Verdict(false, "node shutting down");
  }
}
