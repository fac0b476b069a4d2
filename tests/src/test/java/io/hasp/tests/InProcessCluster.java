package io.hasp.tests;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspGrpc;
import io.hasp.server.HaspNode;
import io.hasp.server.NodeConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Real nodes (Ratis, RocksDB, gRPC on 127.0.0.1) in this JVM, each on a clock the test moves by hand: leases,
 * sessions and wait timeouts end exactly when the test says, and nodes may disagree about the time, so a race
 * between a leader change and an expiry can be replayed step by step.
 */
final class InProcessCluster implements AutoCloseable {
  /** A node's wall clock, moved only by the test. */
  static final class ManualClock implements LongSupplier {
    private final AtomicLong now;

    ManualClock(long startMs) {
      this.now = new AtomicLong(startMs);
    }

    @Override
    public long getAsLong() {
      return now.get();
    }

    void advance(Duration d) {
      now.addAndGet(d.toMillis());
    }
  }

  static final long T0 = 1_800_000_000_000L;

  private final List<NodeConfig> configs = new ArrayList<>();
  private final List<ManualClock> clocks = new ArrayList<>();
  private final HaspNode[] nodes;
  private final ManagedChannel[] channels;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private InProcessCluster(int n) {
    this.nodes = new HaspNode[n];
    this.channels = new ManagedChannel[n];
  }

  static InProcessCluster start(int n, Path dir) throws IOException {
    InProcessCluster c = new InProcessCluster(n);
    int[] ports = FreePorts.loopback(3 * n);
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < n; i++) {
      peers.append(i == 0 ? "" : ",").append("n").append(i + 1).append("=127.0.0.1:").append(ports[2 * i + 1])
          .append("/127.0.0.1:").append(ports[2 * i]);
    }
    for (int i = 0; i < n; i++) {
      Map<String, String> cfg = new LinkedHashMap<>();
      cfg.put("node.id", "n" + (i + 1));
      cfg.put("peers", peers.toString());
      cfg.put("data.dir", dir.resolve("n" + (i + 1)).toString());
      // a free port of its own: the default (API port + 200) may belong to another process
      cfg.put("http.address", "127.0.0.1:" + ports[2 * n + i]);
      c.configs.add(NodeConfig.load(null, Map.of(), cfg));
      c.clocks.add(new ManualClock(T0));
    }
    try {
      for (int i = 0; i < n; i++) {
        c.startNode(i);
      }
      c.leaderIndex(Duration.ofSeconds(60));
    } catch (RuntimeException | IOException e) {
      c.close();
      throw e;
    }
    return c;
  }

  private void startNode(int i) throws IOException {
    nodes[i] = HaspNode.start(configs.get(i), clocks.get(i), () -> {
      throw new IllegalStateException("node n" + (i + 1) + " hit a fatal error");
    });
  }


  int size() {
    return nodes.length;
  }

  /** Node i's HTTP address (/metrics, /health, /ready). */
  String httpAddress(int i) {
    return configs.get(i).httpAddress().toString();
  }

  /** A GET of {@code path} on node i's HTTP address. */
  HttpResponse<String> httpGet(int i, String path) throws IOException, InterruptedException {
    HttpRequest r = HttpRequest.newBuilder(URI.create("http://" + httpAddress(i) + path))
        .timeout(Duration.ofSeconds(10)).GET().build();
    return http.send(r, HttpResponse.BodyHandlers.ofString());
  }

  /** The status of a GET of {@code path} on node i's HTTP address; -1 when it cannot be reached. */
  int httpStatus(int i, String path) {
    try {
      return httpGet(i, path).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  ManualClock clock(int i) {
    return clocks.get(i);
  }

  /** Moves every node's clock forward by {@code d}. */
  void advanceAll(Duration d) {
    for (ManualClock c : clocks) {
      c.advance(d);
    }
  }

  void stop(int i) {
    try {
      nodes[i].close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    nodes[i] = null;
  }

  void restart(int i) throws IOException {
    startNode(i);
  }

  List<String> endpoints() {
    List<String> e = new ArrayList<>();
    for (NodeConfig c : configs) {
      e.add(c.apiAddress().toString());
    }
    return e;
  }

  HaspGrpc.HaspBlockingStub stub(int i) {
    synchronized (channels) {
      if (channels[i] == null) {
        channels[i] = NettyChannelBuilder.forTarget(configs.get(i).apiAddress().toString()).usePlaintext().build();
      }
      return HaspGrpc.newBlockingStub(channels[i]).withDeadlineAfter(30, TimeUnit.SECONDS);
    }
  }

  HaspGrpc.HaspFutureStub futureStub(int i) {
    stub(i); // opens the channel
    synchronized (channels) {
      return HaspGrpc.newFutureStub(channels[i]).withDeadlineAfter(120, TimeUnit.SECONDS);
    }
  }

  ClusterStatusResponse status(int i) {
    return nodes[i] == null ? null : nodes[i].status();
  }

  /** The node every running node names as leader, once they agree and it is ready. */
  int leaderIndex(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      int leader = -1;
      for (int i = 0; i < size(); i++) {
        ClusterStatusResponse s = status(i);
        if (s != null && s.getRole().equals("LEADER")) {
          leader = i;
        }
      }
      boolean agreed = leader >= 0;
      for (int i = 0; i < size() && agreed; i++) {
        ClusterStatusResponse s = status(i);
        agreed = s == null || s.getLeaderId().equals("n" + (leader + 1));
      }
      if (agreed) {
        return leader;
      }
      ProcessCluster.sleep(50);
    }
    throw new IllegalStateException("no leader within " + timeout);
  }

  @Override
  public void close() {
    for (ManagedChannel ch : channels) {
      if (ch != null) {
        ch.shutdownNow();
      }
    }
    for (int i = 0; i < nodes.length; i++) {
      if (nodes[i] != null) {
        try {
          nodes[i].close();
        } catch (IOException | RuntimeException e) {
          // closing the rest matters more
        }
        nodes[i] = null;
      }
    }
  }
}
