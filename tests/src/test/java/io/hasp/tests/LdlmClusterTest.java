package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.NodeStats;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the LDLM test classes: one real 3-node cluster of node processes per class, every node serving LDLM's
 * gRPC service and REST API on ports of its own, with a short LDLM session TTL ({@link #TTL}) so that a killed node's
 * clients lose their locks soon. Clients made by {@link #client} are closed after each test; lock names are unique
 * per test.
 */
abstract class LdlmClusterTest {
  /** ldlm.session.ttl of these clusters. */
  static final Duration TTL = Duration.ofSeconds(3);

  @TempDir static Path dir;
  static ProcessCluster cluster;
  static final List<String> ldlm = new ArrayList<>();
  static final List<String> rest = new ArrayList<>();
  private final List<LdlmWireClient> clients = new ArrayList<>();

  /** Starts the class's cluster with {@code extra} node keys on top of the LDLM ones. */
  static void startCluster(Map<String, String> extra) throws IOException {
    int[] ports = FreePorts.loopback(6);
    ldlm.clear();
    rest.clear();
    for (int i = 0; i < 3; i++) {
      ldlm.add("127.0.0.1:" + ports[i]);
      rest.add("127.0.0.1:" + ports[3 + i]);
    }
    cluster = ProcessCluster.start(3, dir, i -> {
      Map<String, String> cfg = new LinkedHashMap<>();
      cfg.put("ldlm.address", ldlm.get(i));
      cfg.put("ldlm.rest.address", rest.get(i));
      cfg.put("ldlm.session.ttl", TTL.toMillis() + "ms");
      cfg.putAll(extra);
      return cfg;
    });
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }

  @AfterEach
  void closeClients() {
    synchronized (clients) {
      clients.forEach(LdlmWireClient::close);
      clients.clear();
    }
  }

  /** A new LDLM connection to node i (closed after the test). */
  LdlmWireClient client(int i) {
    LdlmWireClient c = LdlmWireClient.plaintext(ldlm.get(i));
    synchronized (clients) {
      clients.add(c);
    }
    return c;
  }

  /** Hasp's own view of a lock, read through a running node's Hasp API (linearizable). */
  static GetLockResponse get(String name) {
    for (int i = 0; i < cluster.size(); i++) {
      if (cluster.isRunning(i)) {
        try {
          return cluster.stub(i).getLock(GetLockRequest.newBuilder().setName(name).build());
        } catch (RuntimeException e) {
          // try the next node
        }
      }
    }
    throw new IllegalStateException("no node answered GetLock " + name);
  }

  static int holders(String name) {
    GetLockResponse g = get(name);
    return g.getExists() ? g.getLock().getHolderCount() : 0;
  }

  static int waiters(String name) {
    GetLockResponse g = get(name);
    return g.getExists() ? g.getLock().getWaiters() : 0;
  }

  /** Locks, holders, waiters and sessions of every running node, once their applied state agrees. */
  static NodeStats stats() {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      List<NodeStats> all = new ArrayList<>();
      long applied = -1;
      boolean same = true;
      for (int i = 0; i < cluster.size(); i++) {
        ClusterStatusResponse s = cluster.status(i);
        if (s == null) {
          continue;
        }
        same &= applied < 0 || applied == s.getAppliedIndex();
        applied = s.getAppliedIndex();
        all.add(s.getStats());
      }
      NodeStats first = all.isEmpty() ? null : all.get(0);
      boolean agree = first != null && same && all.stream().allMatch(s -> s.getLocks() == first.getLocks()
          && s.getHolders() == first.getHolders() && s.getWaiters() == first.getWaiters()
          && s.getSessions() == first.getSessions());
      if (agree) {
        return NodeStats.newBuilder().setLocks(first.getLocks()).setHolders(first.getHolders())
            .setWaiters(first.getWaiters()).setSessions(first.getSessions()).build();
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("nodes do not agree: " + all);
      }
      ProcessCluster.sleep(50);
    }
  }

  /** Waits (polling every 20 ms) until {@code condition} holds; fails naming {@code what} after {@code timeout}. */
  static void await(Duration timeout, String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not within " + timeout + ": " + what);
      ProcessCluster.sleep(20);
    }
  }

  /** A unique lock name for this test. */
  static String name(String base) {
    return base + "-" + java.util.UUID.randomUUID().toString().substring(0, 8);
  }
}
