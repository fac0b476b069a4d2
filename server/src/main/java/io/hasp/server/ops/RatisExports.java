package io.hasp.server.ops;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.ArrayList;
import org.apache.ratis.metrics.MetricRegistries;
import org.apache.ratis.metrics.MetricRegistryInfo;
import org.apache.ratis.metrics.RatisMetricRegistry;
import org.apache.ratis.metrics.impl.RatisMetricRegistryImpl;
import org.apache.ratis.thirdparty.com.codahale.metrics.Counter;
import org.apache.ratis.thirdparty.com.codahale.metrics.Gauge;
import org.apache.ratis.thirdparty.com.codahale.metrics.Histogram;
import org.apache.ratis.thirdparty.com.codahale.metrics.Meter;
import org.apache.ratis.thirdparty.com.codahale.metrics.Metric;
import org.apache.ratis.thirdparty.com.codahale.metrics.Snapshot;
import org.apache.ratis.thirdparty.com.codahale.metrics.Timer;

/**
 * Ratis' own metrics for this node, as Prometheus families: the log worker (flushTime, syncTime: the log fsync),
 * the server, leader election, the log appenders and the state machine updater, each a registry in
 * {@link MetricRegistries#global()} named after this node's group member ({@code n1@group-...}).
 *
 * <p>Ratis keeps them in its shaded copy of Dropwizard Metrics ({@code org.apache.ratis.thirdparty...}), which
 * the Prometheus Dropwizard bridge cannot read, so this maps them onto Prometheus' data model the same way that
 * bridge does: a Dropwizard counter and a gauge become a gauge, a meter a counter, a histogram a summary, and a
 * timer a summary in seconds (name suffix {@code _seconds}). Names are {@code <application>_<component>_<metric>}
 * sanitized ({@code ratis_log_worker_flushTime_seconds}); the member id is left out, since one node is one
 * member. Several nodes in one JVM (tests) each export only their own registries.
 */
final class RatisExports implements MultiCollector {
  private final String memberPrefix;

  /** @param peerId this node's Raft peer id: its registries' prefix starts with {@code peerId@} */
  RatisExports(String peerId) {
    this.memberPrefix = peerId + "@";
  }

  @Override
  public MetricSnapshots collect() {
    List<MetricSnapshot> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (RatisMetricRegistry r : MetricRegistries.global().getMetricRegistries()) {
      MetricRegistryInfo info = r.getMetricRegistryInfo();
      if (info.getPrefix() == null || !info.getPrefix().startsWith(memberPrefix)
          || !(r instanceof RatisMetricRegistryImpl impl)) {
        continue;
      }
      String registryName = info.getApplicationName() + "." + info.getMetricsComponentName() + "." + info.getPrefix()
          + ".";
      String family = info.getApplicationName() + "_" + info.getMetricsComponentName() + "_";
      for (Map.Entry<String, Metric> e : impl.getDropWizardMetricRegistry().getMetrics().entrySet()) {
        String shortName = e.getKey().startsWith(registryName) ? e.getKey().substring(registryName.length()) : e.getKey();
        MetricSnapshot s;
        try {
          s = snapshot(family + shortName, e.getValue(), e.getKey());
        } catch (RuntimeException ex) {
          continue; // a gauge that cannot answer now is left out of this scrape
        }
        if (s != null && names.add(s.getMetadata().getPrometheusName())) {
          out.add(s);
        }
      }
    }
    return new MetricSnapshots(out);
  }

  private static MetricSnapshot snapshot(String rawName, Metric m, String ratisName) {
    String help = "Ratis metric " + ratisName;
    if (m instanceof Gauge<?> g) {
      Object v = g.getValue();
      double d;
      if (v instanceof Number n) {
        d = n.doubleValue();
      } else if (v instanceof Boolean b) {
        d = b ? 1 : 0;
      } else {
        return null;
      }
      return GaugeSnapshot.builder().name(name(rawName)).help(help)
          .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(d).build()).build();
    }
    if (m instanceof Counter c) {
      return GaugeSnapshot.builder().name(name(rawName)).help(help)
          .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(c.getCount()).build()).build();
    }
    if (m instanceof Meter meter) {
      return CounterSnapshot.builder().name(name(rawName)).help(help)
          .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(meter.getCount()).build()).build();
    }
    if (m instanceof Timer t) {
      return summary(name(rawName + "_seconds"), help, t.getSnapshot(), t.getCount(), 1e-9);
    }
    if (m instanceof Histogram h) {
      return summary(name(rawName), help, h.getSnapshot(), h.getCount(), 1);
    }
    return null;
  }

  private static MetricSnapshot summary(String name, String help, Snapshot s, long count, double factor) {
    Quantiles q = Quantiles.builder()
        .quantile(0.5, s.getMedian() * factor)
        .quantile(0.75, s.get75thPercentile() * factor)
        .quantile(0.95, s.get95thPercentile() * factor)
        .quantile(0.99, s.get99thPercentile() * factor)
        .quantile(0.999, s.get999thPercentile() * factor)
        .build();
    return SummarySnapshot.builder().name(name).help(help)
        .dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder().quantiles(q).count(count).build()).build();
  }

  /** A valid (legacy: [a-zA-Z_:][a-zA-Z0-9_:]*) name; a counter's {@code _total} is added by the text format. */
  private static String name(String raw) {
    return OpsMetrics.legacyName(raw);
  }
}
