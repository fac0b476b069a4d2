package io.hasp.server.ops;

import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.dropwizard.DropwizardExports;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.PrometheusNaming;
import java.io.IOException;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.DoubleSupplier;
import java.util.function.IntConsumer;
import java.util.function.IntSupplier;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;

/**
 * One node's Prometheus registry (one per node, never the JVM-wide default: tests run several nodes in one JVM).
 * It holds:
 * <ul>
 *   <li>Hasp's own families, all {@code hasp_}: requests by method and code ({@code hasp_requests_total}), their
 *       latency ({@code hasp_request_duration_seconds}, a histogram per method), group-commit batch sizes, the
 *       applied state's sizes, lease expiries, Raft role/term/commit/applied index, readiness and the last
 *       snapshot;
 *   <li>the node's Dropwizard registry ({@code hasp.op.*} timers and meters) through the Prometheus Dropwizard
 *       bridge, leaving out any name a native family above already has;
 *   <li>Ratis' own metrics for this member ({@link RatisExports}, {@code ratis_});
 *   <li>the JVM's (memory, GC, threads, ...: {@code jvm_}, {@code process_}).
 * </ul>
 * Every value is read when scraped; nothing here runs on its own.
 */
public final class OpsMetrics implements RequestObserver {
  /** Buckets of request latency (seconds): a write costs a few ms; a waiting Lock may take its whole pulse. */
  static final double[] LATENCY_BUCKETS_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1, 2.5, 5, 10, 30, 60};
  /** Buckets of commands per group-commit batch (a batch holds at most 256). */
  static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Set<String> nativeNames = new HashSet<>();
  private final Counter requests;
  private final Histogram latency;
  private final Histogram batches;

  /**
   * @param peerId this node's id (selects its Ratis registries)
   * @param division this node's Raft division (may throw or answer null while it is not there)
   * @param pendingWaits Lock calls waiting on this node
   * @param dropwizard the node's Dropwizard registry
   */
  public OpsMetrics(String peerId, LockStateMachine stateMachine, Readiness.DivisionSource division,
      IntSupplier pendingWaits, Readiness readiness, com.codahale.metrics.MetricRegistry dropwizard) {
    requests = named(Counter.builder().name("hasp_requests")
        .help("API calls answered by this node, by method and code (OK or the Hasp error code)")
        .labelNames("method", "code").register(registry));
    latency = named(Histogram.builder().name("hasp_request_duration_seconds")
        .help("Time from an API call's arrival to its answer (a Lock's includes its wait)")
        .labelNames("method").classicOnly().classicUpperBounds(LATENCY_BUCKETS_SECONDS).register(registry));
    batches = named(Histogram.builder().name("hasp_group_commit_batch_commands")
        .help("Commands per group-commit batch this node sent to the Raft log (one entry each)")
        .classicOnly().classicUpperBounds(BATCH_BUCKETS).register(registry));

    gauge("hasp_locks", "Locks in the applied state (with holders or waiters)", () -> stateMachine.counts().locks());
    gauge("hasp_holders", "Holders in the applied state", () -> stateMachine.counts().holders());
    gauge("hasp_waiters", "Queued waiters in the applied state", () -> stateMachine.counts().waiters());
    gauge("hasp_sessions", "Open sessions in the applied state", () -> stateMachine.counts().sessions());
    gauge("hasp_outcomes", "Remembered request outcomes (the deduplication table)",
        () -> stateMachine.counts().outcomes());
    gauge("hasp_clients", "Clients with remembered outcomes", () -> stateMachine.counts().clients());
    gauge("hasp_pending_waits", "Lock calls waiting on this node", pendingWaits::getAsInt);
    named(CounterWithCallback.builder().name("hasp_lease_expiries")
        .help("Holders released because their lease ended (applied Expire entries), since this process started")
        .callback(cb -> cb.call(stateMachine.releasedHolders(ReleaseReason.LEASE_EXPIRED))).register(registry));
    named(CounterWithCallback.builder().name("hasp_holders_released")
        .help("Holders released by applied entries since this process started, by reason")
        .labelNames("reason").callback(cb -> {
          for (ReleaseReason r : ReleaseReason.values()) {
            cb.call(stateMachine.releasedHolders(r), r.name().toLowerCase(Locale.ROOT));
          }
        }).register(registry));
    named(CounterWithCallback.builder().name("hasp_applied_commands")
        .help("Commands this node's state machine applied since it started")
        .callback(cb -> cb.call(stateMachine.applyCost()[0])).register(registry));
    named(CounterWithCallback.builder().name("hasp_apply_seconds")
        .help("Time this node's state machine spent applying commands since it started")
        .callback(cb -> cb.call(stateMachine.applyCost()[1] / 1e9)).register(registry));

    named(GaugeWithCallback.builder().name("hasp_raft_role")
        .help("1 for this node's current Raft role, 0 for the others")
        .labelNames("role").callback(cb -> {
          DivisionInfo i = info(division);
          RaftPeerRole now = i == null ? null : i.getCurrentRole();
          for (RaftPeerRole r : new RaftPeerRole[] {RaftPeerRole.LEADER, RaftPeerRole.FOLLOWER, RaftPeerRole.CANDIDATE,
              RaftPeerRole.LISTENER}) {
            cb.call(r == now ? 1 : 0, r.name());
          }
        }).register(registry));
    raftGauge("hasp_raft_term", "This node's current Raft term", division, (d, i) -> i.getCurrentTerm());
    raftGauge("hasp_raft_commit_index", "The highest log index this node knows to be committed", division,
        (d, i) -> d.getRaftLog().getLastCommittedIndex());
    raftGauge("hasp_raft_applied_index", "The highest log index this node's state machine applied", division,
        (d, i) -> i.getLastAppliedIndex());
    raftGauge("hasp_raft_leader_known", "1 while this node knows a leader", division,
        (d, i) -> i.getLeaderId() == null ? 0 : 1);
    gauge("hasp_ready", "1 while /ready answers 200 (leader known, in touch, applied index within the bound)",
        () -> readiness.check().ready() ? 1 : 0);
    gauge("hasp_snapshot_last_index", "Log index of the newest snapshot this node took (0: none yet)",
        () -> stateMachine.lastSnapshotTaken().index());
    gauge("hasp_snapshot_last_size_bytes", "Size on disk of the newest snapshot this node took",
        () -> stateMachine.lastSnapshotTaken().bytes());
    gauge("hasp_snapshot_last_duration_seconds", "How long taking the newest snapshot took",
        () -> stateMachine.lastSnapshotTaken().millis() / 1e3);

    DropwizardExports.builder().dropwizardRegistry(dropwizard)
        .metricFilter((name, metric) -> !nativeNames.contains(legacyName(name)))
        .register(registry);
    registry.register(new RatisExports(peerId));
    JvmMetrics.builder().register(registry);
  }

  /** The registry to serve on /metrics. */
  public PrometheusRegistry registry() {
    return registry;
  }

  @Override
  public void answered(String method, String code, long nanos) {
    requests.labelValues(method, code).inc();
    latency.labelValues(method).observe(nanos / 1e9);
  }

  /** Where the group commit reports its batch sizes. */
  public IntConsumer batchSizes() {
    return batches::observe;
  }

  /**
   * The name a scraper sees in the text format: the Prometheus library keeps dots (UTF-8 names) and the text
   * format turns them into underscores, so {@code hasp.locks} is exposed as {@code hasp_locks}.
   */
  static String legacyName(String name) {
    return PrometheusNaming.prometheusName(PrometheusNaming.sanitizeMetricName(name));
  }

  private <T extends io.prometheus.metrics.core.metrics.MetricWithFixedMetadata> T named(T metric) {
    nativeNames.add(metric.getPrometheusName());
    return metric;
  }

  private void gauge(String name, String help, DoubleSupplier value) {
    named(GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsDouble()))
        .register(registry));
  }

  private interface RaftValue {
    double of(RaftServer.Division d, DivisionInfo i);
  }

  /** A gauge over the division, absent from a scrape while there is none. */
  private void raftGauge(String name, String help, Readiness.DivisionSource division, RaftValue value) {
    named(GaugeWithCallback.builder().name(name).help(help).callback(cb -> {
      RaftServer.Division d = division(division);
      if (d != null) {
        cb.call(value.of(d, d.getInfo()));
      }
    }).register(registry));
  }

  private static RaftServer.Division division(Readiness.DivisionSource source) {
    try {
      return source.get();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static DivisionInfo info(Readiness.DivisionSource source) {
    RaftServer.Division d = division(source);
    return d == null ? null : d.getInfo();
  }
}
