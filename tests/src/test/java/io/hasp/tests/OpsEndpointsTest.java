package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.hasp.proto.LockResponse;
import io.hasp.tests.PrometheusText.Family;
import io.hasp.tests.PrometheusText.Sample;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's operations endpoints on a real in-process 3-node cluster: /metrics over HTTP, read by the Prometheus
 * project's own text parser; /health and /ready; and the standard gRPC health service on the API port, which
 * follows readiness.
 */
class OpsEndpointsTest {
  @TempDir Path dir;
  private InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void metricsAreValidPrometheusTextWithHaspRatisAndJvmFamilies() throws Exception {
    PrometheusText.assumeParser();
    cluster = InProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    Rpc client = new Rpc();
    // traffic on the leader: two held locks (leased, no session), a refused try, a lock taken and released, an
    // unlock of nothing
    for (String name : List.of("ops-a", "ops-b")) {
      LockResponse r = cluster.stub(leader).tryLock(client.lock(name).setLeaseMs(600_000).build());
      assertTrue(r.getLocked(), name);
    }
    assertFalse(cluster.stub(leader).tryLock(new Rpc().lock("ops-a").setLeaseMs(1_000).build()).getLocked());
    // a grant released: its outcome is remembered until its client settles it
    LockResponse released = cluster.stub(leader).tryLock(client.lock("ops-c").build());
    cluster.stub(leader).unlock(client.unlock("ops-c", released.getGrant().getKey()));
    Rpc.assertError(Status.Code.NOT_FOUND, "LOCK_NOT_FOUND",
        () -> cluster.stub(leader).unlock(client.unlock("ops-none", "no-key")));

    HttpResponse<String> response = cluster.httpGet(leader, "/metrics");
    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
        () -> "content type " + response.headers());
    Map<String, Family> families = PrometheusText.parse(response.body());

    // requests by method and code
    Family requests = family(families, "hasp_requests", "counter");
    assertTrue(value(requests, "hasp_requests_total", Map.of("method", "try_lock", "code", "OK")) >= 3, requests::toString);
    assertEquals(1, value(requests, "hasp_requests_total", Map.of("method", "unlock", "code", "LOCK_NOT_FOUND")));
    // latency histogram per method, buckets in seconds, the +Inf bucket counting every call
    Family latency = family(families, "hasp_request_duration_seconds", "histogram");
    double tries = value(latency, "hasp_request_duration_seconds_count", Map.of("method", "try_lock"));
    assertTrue(tries >= 3, latency::toString);
    assertEquals(tries, value(latency, "hasp_request_duration_seconds_bucket", Map.of("method", "try_lock", "le", "+Inf")));
    assertTrue(value(latency, "hasp_request_duration_seconds_sum", Map.of("method", "try_lock")) > 0);
    // group commit: the five writes above (three grants, two unlocks) went out in batches of at least one command;
    // the refused try was answered from a read
    Family batches = family(families, "hasp_group_commit_batch_commands", "histogram");
    assertTrue(value(batches, "hasp_group_commit_batch_commands_count", Map.of()) >= 5, batches::toString);
    assertTrue(single(families, "hasp_op_try_lock_by_read", "counter") >= 1, "the refused try answered from a read");
    // the applied state
    assertEquals(2, single(families, "hasp_locks", "gauge"));
    assertEquals(2, single(families, "hasp_holders", "gauge"));
    assertEquals(0, single(families, "hasp_waiters", "gauge"));
    assertEquals(0, single(families, "hasp_sessions", "gauge"));
    double outcomes = single(families, "hasp_outcomes", "gauge");
    assertTrue(outcomes >= 1, "the released grant's outcome is remembered: " + outcomes);
    assertTrue(single(families, "hasp_lease_expiries", "counter") >= 0);
    // Raft
    assertTrue(single(families, "hasp_raft_term", "gauge") >= 1);
    Family role = family(families, "hasp_raft_role", "gauge");
    assertEquals(1, value(role, "hasp_raft_role", Map.of("role", "LEADER")), role::toString);
    assertEquals(0, value(role, "hasp_raft_role", Map.of("role", "FOLLOWER")), role::toString);
    double commit = single(families, "hasp_raft_commit_index", "gauge");
    double applied = single(families, "hasp_raft_applied_index", "gauge");
    assertTrue(commit >= 4 && applied >= 4 && applied <= commit + 1, commit + " / " + applied);
    assertEquals(1, single(families, "hasp_ready", "gauge"));
    for (String s : List.of("hasp_snapshot_last_index", "hasp_snapshot_last_size_bytes",
        "hasp_snapshot_last_duration_seconds")) {
      assertTrue(single(families, s, "gauge") >= 0, s);
    }
    // the Dropwizard timers of every operation, bridged
    assertTrue(value(family(families, "hasp_op_try_lock", "summary"), "hasp_op_try_lock_count", Map.of()) >= 3);
    // Ratis' own: the log worker's flush (fsync) timer, and the leader's election count
    Family flush = family(families, "ratis_log_worker_flushTime_seconds", "summary");
    assertTrue(value(flush, "ratis_log_worker_flushTime_seconds_count", Map.of()) >= 1, flush::toString);
    assertTrue(single(families, "ratis_leader_election_electionCount", "gauge") >= 0);
    // the JVM's
    Family heap = family(families, "jvm_memory_used_bytes", "gauge");
    assertTrue(value(heap, "jvm_memory_used_bytes", Map.of("area", "heap")) > 0, heap::toString);
    assertNotNull(families.get("jvm_gc_collection_seconds"), "GC family");
    assertNotNull(families.get("jvm_threads_current"), "threads family");
    // every series the Grafana dashboard queries is exported
    Set<String> exported = new HashSet<>(families.keySet());
    families.values().forEach(f -> f.samples().forEach(s -> exported.add(s.name())));
    String dashboard = Files.readString(Path.of("..", "deploy", "grafana", "hasp-dashboard.json"));
    Matcher m = Pattern.compile("\\b((?:hasp|ratis|jvm)_[A-Za-z0-9_]+)").matcher(dashboard);
    int queried = 0;
    while (m.find()) {
      String name = m.group(1);
      assertTrue(exported.contains(name), () -> "the dashboard queries " + name + ", which is not exported");
      queried++;
    }
    assertTrue(queried >= 20, "dashboard queries: " + queried);
    // a follower exports its own view: same families, FOLLOWER role, the same leader's term
    int follower = (leader + 1) % 3;
    Map<String, Family> followerFamilies = PrometheusText.parse(cluster.httpGet(follower, "/metrics").body());
    assertEquals(1, value(family(followerFamilies, "hasp_raft_role", "gauge"), "hasp_raft_role",
        Map.of("role", "FOLLOWER")));
    assertTrue(single(followerFamilies, "hasp_raft_term", "gauge") >= single(families, "hasp_raft_term", "gauge"));
  }

  @Test
  void readyAndGrpcHealthFollowTheQuorum() throws Exception {
    cluster = InProcessCluster.start(3, dir);
    int leader = cluster.leaderIndex(Duration.ofSeconds(60));
    for (int i = 0; i < 3; i++) {
      int node = i;
      awaitCondition("node " + node + " ready", Duration.ofSeconds(60),
          () -> cluster.httpStatus(node, "/ready") == 200);
      assertEquals("ok\n", cluster.httpGet(node, "/health").body());
      awaitCondition("node " + node + " SERVING", Duration.ofSeconds(30),
          () -> health(node, "") == ServingStatus.SERVING && health(node, "hasp.v1.Hasp") == ServingStatus.SERVING);
    }
    assertTrue(cluster.httpGet(leader, "/ready").body().startsWith("ready: LEADER"), () -> body(leader, "/ready"));
    StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> healthStub(leader)
        .check(HealthCheckRequest.newBuilder().setService("no.such.Service").build()));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
    assertEquals(404, cluster.httpStatus(leader, "/nothing"));

    // the leader alone: it hears no majority, so it is not ready, though it still lives
    int a = (leader + 1) % 3;
    int b = (leader + 2) % 3;
    cluster.stop(a);
    cluster.stop(b);
    awaitCondition("lone leader not ready", Duration.ofSeconds(30), () -> cluster.httpStatus(leader, "/ready") == 503);
    String reason = body(leader, "/ready");
    assertTrue(reason.contains("majority") || reason.contains("no leader") || reason.contains("no contact"), reason);
    assertEquals(200, cluster.httpStatus(leader, "/health"));
    awaitCondition("lone leader NOT_SERVING", Duration.ofSeconds(30),
        () -> health(leader, "") == ServingStatus.NOT_SERVING
            && health(leader, "hasp.v1.Hasp") == ServingStatus.NOT_SERVING);

    // the others come back: a leader is elected and every node is ready again
    cluster.restart(a);
    cluster.restart(b);
    cluster.leaderIndex(Duration.ofSeconds(90));
    for (int i = 0; i < 3; i++) {
      int node = i;
      awaitCondition("node " + node + " ready again", Duration.ofSeconds(90),
          () -> cluster.httpStatus(node, "/ready") == 200);
      awaitCondition("node " + node + " SERVING again", Duration.ofSeconds(30),
          () -> health(node, "") == ServingStatus.SERVING);
    }
  }

  private String body(int node, String path) {
    try {
      return cluster.httpGet(node, path).body();
    } catch (IOException e) {
      return "(" + e + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private final ManagedChannel[] channels = new ManagedChannel[3];

  private HealthGrpc.HealthBlockingStub healthStub(int node) {
    synchronized (channels) {
      if (channels[node] == null) {
        channels[node] = NettyChannelBuilder.forTarget(cluster.endpoints().get(node)).usePlaintext().build();
      }
      return HealthGrpc.newBlockingStub(channels[node]).withDeadlineAfter(5, TimeUnit.SECONDS);
    }
  }

  @AfterEach
  void closeChannels() {
    for (ManagedChannel c : channels) {
      if (c != null) {
        c.shutdownNow();
      }
    }
  }

  private ServingStatus health(int node, String service) {
    try {
      return healthStub(node).check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    } catch (StatusRuntimeException e) {
      return null;
    }
  }

  private static void awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + ": not within " + timeout);
      }
      ProcessCluster.sleep(100);
    }
  }

  private static Family family(Map<String, Family> families, String name, String type) {
    Family f = families.get(name);
    assertNotNull(f, () -> "no family " + name + " in " + families.keySet());
    assertEquals(type, f.type(), () -> "type of " + name);
    return f;
  }

  /** The value of the one sample of a family without labels. */
  private static double single(Map<String, Family> families, String name, String type) {
    Family f = family(families, name, type);
    assertEquals(1, f.samples().size(), f::toString);
    return f.samples().get(0).value();
  }

  /** The value of the sample with this name whose labels include {@code labels}. */
  private static double value(Family f, String sample, Map<String, String> labels) {
    for (Sample s : f.samples()) {
      if (s.name().equals(sample) && s.labels().entrySet().containsAll(labels.entrySet())) {
        return s.value();
      }
    }
    throw new AssertionError("no sample " + sample + labels + " in " + f);
  }
}
