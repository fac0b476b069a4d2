package io.hasp.server.cli;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.CallFrame;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspAdminGrpc;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.LockResponse;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.OpenSessionResponse;
import io.hasp.proto.ReplyFrame;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.TakeSnapshotRequest;
import io.hasp.proto.UnlockRequest;
import io.hasp.server.HaspNode;
import io.hasp.server.NodeClock;
import io.hasp.server.NodeConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The training run of the class-data-sharing archive (target/hasp.jsa) that {@code ./hasp} starts its nodes and
 * its CLI with. The build runs it with {@code -XX:ArchiveClassesAtExit}: the JVM writes every class it loaded here
 * to the archive when it exits, and a JVM started with {@code -XX:SharedArchiveFile} maps them instead of reading,
 * parsing and verifying ~7,000 classes from the jars: a node is ready ~1 s sooner, which is most of a restarted
 * member's time to serve again. It runs what a node does after its start: a 3-node cluster in this JVM (RocksDB in a
 * temporary directory, Raft and the API on free loopback ports), locks, waits, sessions, tryLocks and reads through
 * the leader and a follower, the streaming call channel, a snapshot, and one node's restart from its state.
 */
public final class StartupTraining {
  private static final int NODES = 3;
  private static final long BOUND_S = 300;
  private static final int ATTEMPTS = 3;

  private StartupTraining() {}

  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(TimeUnit.SECONDS.toMillis(BOUND_S));
        System.err.println("error: the startup training did not finish in " + BOUND_S + " s");
        Runtime.getRuntime().halt(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "hasp-training-bound");
    watchdog.setDaemon(true);
    watchdog.start();
    // a free port found here can be taken by another process before a node binds it: a few tries
    for (int attempt = 1; ; attempt++) {
      Path dir = Files.createTempDirectory("hasp-training");
      try {
        new StartupTraining().run(dir);
        break;
      } catch (Exception e) {
        if (attempt == ATTEMPTS) {
          throw e;
        }
        System.err.println("startup training attempt " + attempt + " failed, trying again: " + e);
      } finally {
        try (Stream<Path> s = Files.walk(dir)) {
          s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
    System.out.println("startup training done");
    // the archive is written as the JVM exits
    System.exit(0);
  }

  private final List<NodeConfig> configs = new ArrayList<>();
  private final HaspNode[] nodes = new HaspNode[NODES];
  private final ManagedChannel[] channels = new ManagedChannel[NODES];
  private final AtomicLong requestIds = new AtomicLong();

  private void run(Path dir) throws Exception {
    int[] ports = freePorts(5 * NODES);
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < NODES; i++) {
      peers.append(i == 0 ? "" : ",").append("n").append(i + 1).append("=127.0.0.1:").append(ports[5 * i + 1])
          .append("/127.0.0.1:").append(ports[5 * i]);
    }
    for (int i = 0; i < NODES; i++) {
      Map<String, String> cfg = new LinkedHashMap<>();
      cfg.put("node.id", "n" + (i + 1));
      cfg.put("peers", peers.toString());
      cfg.put("data.dir", dir.resolve("n" + (i + 1)).toString());
      cfg.put("http.address", "127.0.0.1:" + ports[5 * i + 2]);
      cfg.put("ldlm.address", "127.0.0.1:" + ports[5 * i + 3]);
      cfg.put("ldlm.rest.address", "127.0.0.1:" + ports[5 * i + 4]);
      configs.add(NodeConfig.load(null, Map.of(), cfg));
    }
    try {
      for (int i = 0; i < NODES; i++) {
        start(i);
        channels[i] = NettyChannelBuilder.forTarget(configs.get(i).apiAddress().toString()).usePlaintext().build();
      }
      int leader = awaitLeader(-1);
      int follower = (leader + 1) % NODES;
      exercise(leader);
      exercise(follower);
      HaspAdminGrpc.newBlockingStub(channels[leader]).withDeadlineAfter(60, TimeUnit.SECONDS)
          .takeSnapshot(TakeSnapshotRequest.getDefaultInstance());
      // a member's restart: its state loaded from RocksDB, the log after it replayed, then caught up
      int restarted = (leader + 2) % NODES;
      nodes[restarted].close();
      nodes[restarted] = null;
      exercise(leader);
      start(restarted);
      awaitLeader(restarted);
      exercise(restarted);
    } finally {
      for (ManagedChannel c : channels) {
        if (c != null) {
          c.shutdownNow();
        }
      }
      for (HaspNode n : nodes) {
        if (n != null) {
          n.close();
        }
      }
    }
  }

  private void start(int i) throws IOException {
    nodes[i] = HaspNode.start(configs.get(i), NodeClock.steady(), () -> {
      System.err.println("error: training node n" + (i + 1) + " hit a fatal error");
      Runtime.getRuntime().halt(1);
    });
  }

  /** The index of the leader once node {@code asked} (or any node, for -1) knows it. */
  private int awaitLeader(int asked) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < NODES; i++) {
        if (asked >= 0 && i != asked) {
          continue;
        }
        try {
          ClusterStatusResponse s = HaspGrpc.newBlockingStub(channels[i]).withDeadlineAfter(2, TimeUnit.SECONDS)
              .clusterStatus(ClusterStatusRequest.getDefaultInstance());
          if (!s.getLeaderId().isEmpty() && (s.getRole().equals("LEADER") || s.getRole().equals("FOLLOWER"))) {
            return Integer.parseInt(s.getLeaderId().substring(1)) - 1;
          }
        } catch (RuntimeException e) {
          // not serving yet
        }
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("no leader within 90 s");
  }

  private RequestHeader header() {
    return RequestHeader.newBuilder().setClientId("training").setRequestId(requestIds.incrementAndGet()).build();
  }

  /** Locks, a wait and its hand-off, a session, tryLocks and reads, unary and streamed, through node {@code i}. */
  private void exercise(int i) throws Exception {
    HaspGrpc.HaspBlockingStub stub = HaspGrpc.newBlockingStub(channels[i]).withDeadlineAfter(60, TimeUnit.SECONDS);
    String name = "training-" + i + "-" + requestIds.get();
    OpenSessionResponse session = stub.openSession(OpenSessionRequest.newBuilder().setHeader(header())
        .setTtlMs(10_000).setOwner("training").build());
    LockRequest.Builder inSession = LockRequest.newBuilder().setName(name).setSessionId(session.getSessionId())
        .setSessionKey(session.getSessionKey()).setOwner("training");
    LockResponse held = stub.lock(inSession.clone().setHeader(header()).build());
    stub.isLocked(IsLockedRequest.newBuilder().setName(name).build());
    stub.tryLock(LockRequest.newBuilder().setHeader(header()).setName(name).setLeaseMs(30_000).build());
    Future<LockResponse> waiter = HaspGrpc.newFutureStub(channels[i]).withDeadlineAfter(60, TimeUnit.SECONDS)
        .lock(LockRequest.newBuilder().setHeader(header()).setName(name).setLeaseMs(30_000).build());
    stub.keepAlive(KeepAliveRequest.newBuilder().setHeader(header()).setSessionId(session.getSessionId())
        .setSessionKey(session.getSessionKey()).build());
    stub.unlock(UnlockRequest.newBuilder().setHeader(header()).setName(name).setKey(held.getGrant().getKey()).build());
    LockResponse handedOff = waiter.get(60, TimeUnit.SECONDS);
    stub.unlock(UnlockRequest.newBuilder().setHeader(header()).setName(name).setKey(handedOff.getGrant().getKey())
        .build());
    LockResponse permit = stub.tryLock(LockRequest.newBuilder().setHeader(header()).setName(name + "-limit")
        .setSize(3).setLeaseMs(30_000).build());
    stub.unlock(UnlockRequest.newBuilder().setHeader(header()).setName(name + "-limit")
        .setKey(permit.getGrant().getKey()).build());
    streamed(i, name + "-stream");
  }

  /** A lock, a read and an unlock over the streaming call channel (what the Java client uses). */
  private void streamed(int i, String name) throws InterruptedException {
    CountDownLatch done = new CountDownLatch(1);
    List<ReplyFrame> replies = new ArrayList<>();
    AtomicReference<StreamObserver<CallFrame>> calls = new AtomicReference<>();
    calls.set(HaspGrpc.newStub(channels[i]).calls(new StreamObserver<>() {
      @Override
      public void onNext(ReplyFrame r) {
        synchronized (replies) {
          replies.add(r);
        }
        if (r.hasLock()) {
          calls.get().onNext(CallFrame.newBuilder().setCallId(2)
              .setIsLocked(IsLockedRequest.newBuilder().setName(name)).build());
        } else if (r.hasIsLocked()) {
          calls.get().onNext(CallFrame.newBuilder().setCallId(3).setUnlock(UnlockRequest.newBuilder()
              .setHeader(header()).setName(name).setKey(replies.get(0).getLock().getGrant().getKey())).build());
        } else {
          calls.get().onCompleted();
          done.countDown();
        }
      }

      @Override
      public void onError(Throwable t) {
        done.countDown();
      }

      @Override
      public void onCompleted() {
        done.countDown();
      }
    }));
    calls.get().onNext(CallFrame.newBuilder().setCallId(1).setLock(LockRequest.newBuilder().setHeader(header())
        .setName(name).setLeaseMs(30_000)).build());
    if (!done.await(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the streamed calls got no answer within 60 s");
    }
  }

  /** Free loopback ports, all held open until each is known, so that none is handed out twice. */
  private static int[] freePorts(int n) throws IOException {
    List<ServerSocket> open = new ArrayList<>();
    try {
      int[] ports = new int[n];
      for (int k = 0; k < n; k++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        open.add(s);
        ports[k] = s.getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket s : open) {
        s.close();
      }
    }
  }
}
