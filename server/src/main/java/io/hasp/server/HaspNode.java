package io.hasp.server;

import com.codahale.metrics.MetricRegistry;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.PeerInfo;
import io.hasp.statemachine.LockStateMachine;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Hasp node: a member of the Raft group (Ratis server + the lock state machine) and the public gRPC API.
 * Data layout under {@code data.dir}: {@code raft/} (Ratis log and metadata), {@code state/db} (RocksDB),
 * {@code state/snapshots} (checkpoints).
 */
public final class HaspNode implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(HaspNode.class);
  /** How long a node being added may stay silent before the leader drops the change (see the Ratis settings). */
  static final long STAGING_TIMEOUT_S = 15;
  /** I/O threads of the channels to the other nodes, apart from those serving the node's own Raft port. */
  static final int PEER_CLIENT_IO_THREADS = 2;
  /** {@link LeaderLoss}: an election as soon as the leader's process is gone; -Dhasp.leader.loss=false turns it off. */
  static final boolean LEADER_LOSS_ENABLED = !"false".equals(System.getProperty("hasp.leader.loss"));

  private final NodeConfig config;
  private final RaftGroup group;
  private final RaftPeerId selfId;
  private final LockStateMachine stateMachine;
  private final RaftServer raftServer;
  private final Replicator replicator;
  private final Waits waits;
  private final LeaderTicker ticker;
  private final LeaderLoss leaderLoss;
  private final Server apiServer;
  private final io.hasp.server.security.NodeSecurity security;
  private final Members members;
  private final AdminService admin;
  private final Map<String, NodeConfig.Peer> peers = new LinkedHashMap<>();
  private final MetricRegistry metrics = new MetricRegistry();
  private volatile boolean closed;
  /** Set once when the Raft division stopped under this node: the reaction to it runs once. */
  private final java.util.concurrent.atomic.AtomicBoolean divisionEnded = new java.util.concurrent.atomic.AtomicBoolean();
  private final AcquireFlow acquires;
  /** Metrics, health and readiness (io.hasp.server.ops); http is null with http.address=off. */
  private final io.hasp.server.ops.Readiness readiness;
  private final io.hasp.server.ops.OpsMetrics ops;
  private final io.hasp.server.ops.OpsHttpServer http;
  /** The LDLM-compatible front end (io.hasp.server.ldlm); null with ldlm.address off. */
  private final io.hasp.server.ldlm.LdlmServer ldlm;
  /** Asks for an entry while this node, started with an empty Raft log, has none (see {@link #askUntilAnEntry}). */
  private final java.util.concurrent.ScheduledExecutorService rejoin =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hasp-rejoin");
        t.setDaemon(true);
        return t;
      });

  private HaspNode(NodeConfig config, LongSupplier clockMs, Runnable onFatal, Runnable onRemoved) throws IOException {
    this.config = config;
    this.selfId = RaftPeerId.valueOf(config.nodeId());
    refuseIfMarkedRemoved();
    List<RaftPeer> raftPeers = new ArrayList<>();
    for (NodeConfig.Peer p : config.peers()) {
      peers.put(p.id(), p);
      // Joining: the node starts with an empty first configuration (Ratis' way to add a server), so Ratis keeps
      // it in its "initializing" state: it never campaigns and waits for a leader, whose member add stages it
      // (snapshot and log) and then makes it a voter; the leader's configuration replaces the empty one. It used
      // to be a LISTENER of its own configuration, but Ratis 3.3.0 can deadlock a listener that receives a
      // configuration naming it a voter (ServerState.updateConfiguration joins the old FollowerState thread
      // while holding the server lock that thread waits for): the added node never answered again (issue 15).
      // Ratis uses this group only while the log is empty; the configured peers still give Members addresses.
      if (!config.join()) {
        raftPeers.add(Members.raftPeer(p.id(), p.raftAddress(), p.apiAddress()));
      }
    }
    // TLS material and tokens first: a file that cannot be used fails the start before anything is opened
    // peers on the Raft port: the configured ones and whoever is a member now (members added later included)
    java.util.concurrent.atomic.AtomicReference<Members> membersNow = new java.util.concurrent.atomic.AtomicReference<>();
    this.security = io.hasp.server.security.NodeSecurity.open(config.security(), config.nodeId(), () -> {
      java.util.Set<String> hosts = new java.util.HashSet<>();
      config.peers().forEach(peer -> hosts.add(peer.raftAddress().host()));
      Members m = membersNow.get();
      try {
        for (Members.Member member : m == null ? List.<Members.Member>of() : m.all()) {
          int colon = member.raftAddress().lastIndexOf(':');
          hosts.add(colon > 0 ? member.raftAddress().substring(0, colon) : member.raftAddress());
        }
      } catch (RuntimeException e) {
        LOG.debug("members unknown for the peer check, using the configured peers: {}", e.toString());
      }
      return hosts;
    });
    this.group = RaftGroup.valueOf(RaftGroupId.valueOf(UUID.fromString(config.groupId())), raftPeers);
    this.stateMachine = new LockStateMachine(config.dataDir().resolve("state"), clockMs);
    this.waits = new Waits(stateMachine);
    stateMachine.setListener(waits);

    boolean emptyLog = isEmptyDir(config.dataDir().resolve("raft"));
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(config.dataDir().resolve("raft").toFile()));
    GrpcConfigKeys.Server.setHost(p, config.raftAddress().host());
    GrpcConfigKeys.Server.setPort(p, config.raftAddress().port());
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, config.readLeaderLease());
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(config.electionTimeoutMin().toMillis(), TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(config.electionTimeoutMax().toMillis(), TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, config.snapshotThresholdEntries());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.min(Integer.MAX_VALUE, config.logPurgeGapEntries()));
    // Keep one snapshot interval of log behind each snapshot: a node that was down or cut off for less than
    // that catches up from the log at once, not through a snapshot install (slow on a busy machine, and while it
    // runs the node counts for no majority).
    RaftServerConfigKeys.Log.setPurgePreservationLogNum(p, config.snapshotThresholdEntries());
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(config.logSegmentSizeBytes()));
    // Ratis keeps closed log segments in the heap (200 MB by default): a lock service needs few, and a
    // full old generation means long GC pauses, which look like a dead leader to the others.
    RaftServerConfigKeys.Log.setSegmentCacheNumMax(p, 4);
    RaftServerConfigKeys.Log.setSegmentCacheSizeMax(p, SizeInBytes.valueOf("32MB"));
    // After a partition heals, a follower must catch up at once: Ratis' default back-off for a failing follower
    // ("1ms,10, 1s,20, 5s,1000") retries it only every 1-5 s after a few seconds of errors, so a node isolated for
    // 5 s stayed behind for seconds more, and one more fault then left no majority with the whole log.
    // The back-off also stays below the heartbeat interval (half the minimum election timeout): a longer sleep
    // makes every send after it a heartbeat followed by the entries, and the heartbeat's INCONSISTENCY reply
    // (from a member that lost its log) cancels the entries request, so the leader never backs off to what
    // that member has (see askUntilAnEntry).
    p.set("raft.server.log.appender.retry.policy", "1ms,10, 50ms,1000000");
    // A leader that stepped down (it lost its quorum) may campaign again after a second, not ten (the default):
    // it may be the only node with the whole log, and pre-vote keeps a cut-off node from disturbing the others.
    RaftServerConfigKeys.LeaderElection.setLeaderStepDownWaitTime(p, TimeDuration.valueOf(1, TimeUnit.SECONDS));
    // Ratis appends a METADATA entry (the commit index) after commits by default: a second fsynced, replicated
    // entry per write. A restarted node learns the commit index from the leader instead; its state is in
    // RocksDB with its applied index, so nothing is applied twice or lost.
    RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
    // By default each follower's appender waits at least 1 ms between AppendEntries: one batch per ms at most.
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(p, TimeDuration.ZERO);
    // A follower "composes" each AppendEntries with the appends still in flight before it (default on): one
    // more future chain and thread hop per append. Off, the time from proposal to apply on the leader fell from
    // 2.0-2.5 ms to 1.6-1.95 ms a write (1 client, this 2-core machine). Off also avoids a path a public review
    // of Ratis questions: an in-flight append reused for a new leader's conflicting entries at the same index.
    RaftServerConfigKeys.Log.setAppendEntriesComposeEnabled(p, false);
    // A follower writes each snapshot chunk on an I/O thread (see the services customizer): 1 MB at a time keeps
    // that write short (the default, 16 MB, held heartbeats up for as long as it took).
    RaftServerConfigKeys.Log.Appender.setSnapshotChunkSizeMax(p, SizeInBytes.valueOf("1MB"));
    // Membership (issue 15): Ratis stages a node being added and drops the change ("NOPROGRESS") when the node
    // has not answered for raft.server.staging.timeout, by default 3 x the election timeout max (0.6 s), counted
    // from 0.3 s before the add. A node that has just started (JIT, first connections) on a busy 2-core machine
    // took longer than that, and the chaos run's member add failed. A dead node still fails the add, after this.
    RaftServerConfigKeys.setStagingTimeout(p, TimeDuration.valueOf(STAGING_TIMEOUT_S, TimeUnit.SECONDS));
    // The channels this node opens to its peers (votes, appends) get I/O threads of their own. Ratis' handlers
    // run on the server's I/O threads (directExecutor below), and a candidate that is asked for its vote, or sent
    // a new leader's entries, waits there until its own election round ends; that round waits for the answers to
    // its vote requests, which arrive on these channels. Sharing gRPC's default threads, an answer could be stuck
    // behind that wait until the round timed out: two followers that became candidates together after a leader's
    // death each granted the other's request and neither heard it, and the leader came one election timeout late
    // (peers harness W7: new leader seen 491 ms after the kill, first grant 556 ms; 285-374 ms otherwise).
    GrpcConfigKeys.Client.setWorkerGroupSize(p, PEER_CLIENT_IO_THREADS);
    // Advanced tuning: any JVM system property named raft.* is passed to Ratis as it is.
    for (String key : System.getProperties().stringPropertyNames()) {
      if (key.startsWith("raft.")) {
        p.set(key, System.getProperty(key));
        LOG.info("Ratis override {}={}", key, System.getProperty(key));
      }
    }
    // Node-to-node forwarding is served on the Raft port beside Ratis' own services: only peers reach it.
    java.util.concurrent.atomic.AtomicReference<Replicator> forwardTo = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicReference<LeaderLoss> leaderLossRef =
        new java.util.concurrent.atomic.AtomicReference<>();
    org.apache.ratis.conf.Parameters parameters = new org.apache.ratis.conf.Parameters();
    GrpcConfigKeys.Server.setServicesCustomizer(parameters, (builder, types) -> {
      if (types.contains(org.apache.ratis.grpc.server.GrpcServices.Type.SERVER)) {
        // Ratis' peer handlers (append entries, votes, read index, snapshot chunks) and the forwarding service run
        // on the I/O threads instead of being handed to gRPC's executor: one thread hand-off less per message,
        // on the path of every write. They block only for short disk writes (a vote's metadata, a snapshot chunk,
        // kept small for that by raft.server.log.appender.snapshot.chunk.size.max above) and, on a candidate, until
        // its election round ends: see the peer channels' own I/O threads above.
        builder.directExecutor();
        builder.intercept(HeartbeatCommitGuard.interceptor());
        if (LEADER_LOSS_ENABLED) {
          builder.intercept(LeaderLoss.interceptor(() -> {
            LeaderLoss l = leaderLossRef.get();
            if (l != null) {
              l.streamBroken();
            }
          }));
        }
        builder.addService(PeerForwarding.service(batch -> {
          Replicator r = forwardTo.get();
          return r != null ? r.appendForwarded(batch) : java.util.concurrent.CompletableFuture.failedFuture(
              new Errors.HaspError(io.hasp.proto.ErrorCode.NO_QUORUM, "node " + config.nodeId() + " is starting"));
        }, this::lastLogEntry));
      }
      return builder;
    });
    security.configureRaft(parameters);
    this.raftServer = RaftServer.newBuilder()
        .setServerId(selfId)
        .setGroup(group)
        .setStateMachine(stateMachine)
        .setProperties(p)
        .setParameters(parameters)
        .setOption(RaftStorage.StartupOption.RECOVER)
        .build();
    // a joining node is no member until the leader's configuration reaches it: it lists the others meanwhile
    this.members = new Members(raftServer, group.getGroupId(), config.join()
        ? config.peers().stream().filter(peer -> !peer.id().equals(config.nodeId())).toList() : config.peers());
    membersNow.set(members);
    this.replicator = new Replicator(raftServer, group.getGroupId(), selfId, this::divisionInfo, members,
        security.peerClientContext());
    stateMachine.setLocalClientId(replicator.clientId());
    stateMachine.setLeadershipListener(replicator::leadershipChanged);
    forwardTo.set(replicator);
    this.leaderLoss = new LeaderLoss(raftServer, group.getGroupId(), selfId, members, replicator::lastEntryOf);
    leaderLossRef.set(leaderLoss);
    raftServer.start();
    refuseIfRemoved(emptyLog);

    registerGauges();
    LeaderContact contact = new LeaderContact(this::divisionInfo, waits, config.nodeId(), members::isVoter);
    this.readiness = new io.hasp.server.ops.Readiness(() -> raftServer.getDivision(group.getGroupId()),
        stateMachine::isLoaded,
        () -> contact.silenceMs(System.nanoTime()), LeaderContact.CUT_OFF_MS, config.readyAppliedLagMax());
    this.ops = new io.hasp.server.ops.OpsMetrics(config.nodeId(), stateMachine,
        () -> raftServer.getDivision(group.getGroupId()), waits::size, readiness, metrics);
    replicator.observeBatchSizes(ops.batchSizes());
    io.grpc.protobuf.services.HealthStatusManager health = new io.grpc.protobuf.services.HealthStatusManager();
    NodeMetrics nodeMetrics = new NodeMetrics(metrics, ops);
    Commands commands = new Commands();
    this.acquires = new AcquireFlow(replicator, waits, commands, nodeMetrics, stateMachine);
    HaspService service = config.unsafeLocalGrants()
        ? new UnsafeLocalGrants(replicator, acquires, commands, this::status, clockMs, nodeMetrics)
        : new HaspService(replicator, acquires, commands, this::status, clockMs, nodeMetrics,
            config.callsPerConnectionMax());
    if (config.unsafeLocalGrants()) {
      LOG.warn("UNSAFE TEST MODE (unsafe.local.grants=true): TryLock grants without consensus; never use in production");
    }
    this.admin = new AdminService(raftServer, group.getGroupId(), selfId, members, this::divisionInfo);
    InetSocketAddress api = new InetSocketAddress(config.apiAddress().host(), config.apiAddress().port());
    // Handlers never block (every call is answered from a future), so they run on the I/O threads: one
    // thread hand-off less per call, which matters on small machines.
    NettyServerBuilder apiBuilder = NettyServerBuilder.forAddress(api)
        .directExecutor()
        .addService(MalformedRequestInterceptor.guard(io.hasp.server.ops.RequestContext.around(service.bindService()),
            config.requestBytesMax()))
        .addService(MalformedRequestInterceptor.guard(io.hasp.server.ops.RequestContext.around(admin.bindService()),
            config.requestBytesMax()))
        .addService(health.getHealthService())
        // well above limits.request.bytes.max, so that larger requests get the coded LIMIT_EXCEEDED
        .maxInboundMessageSize(Math.max(16 << 20, 2 * config.requestBytesMax()))
        .maxConcurrentCallsPerConnection(config.callsPerConnectionMax())
        .permitKeepAliveTime(5, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true);
    security.configureApi(apiBuilder); // TLS, mTLS, tokens and roles (each when configured)
    this.apiServer = apiBuilder.build();
    try {
      apiServer.start();
    } catch (IOException e) {
      security.close();
      raftServer.close();
      throw new IOException("cannot listen on " + config.apiAddress() + ": " + e.getMessage(), e);
    }
    NodeConfig.HostPort httpAddress = config.httpAddress();
    try {
      this.http = httpAddress == null ? null : io.hasp.server.ops.OpsHttpServer.start(httpAddress.host(),
          httpAddress.port(), ops.registry(), readiness, () -> {
            DivisionInfo i = divisionInfo();
            return i != null && !i.isAlive() ? "the Raft division of this node stopped" : null;
          });
    } catch (IOException e) {
      apiServer.shutdownNow();
      raftServer.close();
      throw new IOException("cannot listen on http.address " + httpAddress + ": " + e.getMessage(), e);
    }
    try {
      this.ldlm = config.ldlm().enabled() ? io.hasp.server.ldlm.LdlmServer.start(config,
          new LockOps(replicator, waits, commands, stateMachine, config.nodeId()), security, metrics) : null;
    } catch (IOException e) {
      if (http != null) {
        http.close();
      }
      apiServer.shutdownNow();
      raftServer.close();
      security.close();
      throw e;
    }
    this.ticker = new LeaderTicker(this::divisionInfo, stateMachine, replicator, clockMs, config.capacity(),
        contact, () -> {
      if (closed || !divisionEnded.compareAndSet(false, true)) {
        return;
      }
      if (members.removed(config.nodeId()) || leftTheGroup()) {
        LOG.warn("Node {} was removed from the group: it stops serving and exits. To bring it back, start it with "
            + "an empty data directory and add it again (member add)", config.nodeId());
        markRemoved();
        onRemoved.run();
      } else {
        LOG.error("The Raft division of this node stopped (its state could not be loaded, or an entry could not be "
            + "applied); the node exits");
        onFatal.run();
      }
    });
    ticker.start(config.tickInterval().toMillis());
    readiness.start(health, "", io.hasp.proto.HaspGrpc.SERVICE_NAME);
    if (emptyLog && peers.size() > 1) {
      askUntilAnEntry(System.nanoTime() + TimeUnit.MINUTES.toNanos(10));
    } else {
      rejoin.shutdown();
    }
  }

  /**
   * Whether the election that ended the division found this node out of the group though its own configuration
   * still names it: it lagged behind its removal (down or cut off meanwhile) and the leader told it so.
   */
  private boolean leftTheGroup() {
    try {
      return stateMachine.awaitLeftTheGroup(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * A node started on data whose latest Raft configuration leaves it out was removed from the group (or its
   * data belongs elsewhere). Ratis would keep it in its initializing state for good: it neither campaigns nor
   * votes, and added back as it is it would never become a working voter. Unless it was started to join (then
   * waiting for the leader's add is what it should do), it refuses to start and says how to bring it back.
   */
  private void refuseIfRemoved(boolean emptyLog) throws IOException {
    if (config.join() || emptyLog) {
      return;
    }
    // the current peers only (Members.removed): a removed node's log often ends with the joint configuration of its
    // removal, whose old half still names it (the leader stops sending to it once the new half is in force)
    if (!members.removed(config.nodeId())) {
      return;
    }
    org.apache.ratis.server.RaftConfiguration conf = raftServer.getDivision(group.getGroupId()).getRaftConf();
    List<String> voters = new ArrayList<>();
    conf.getCurrentPeers(org.apache.ratis.proto.RaftProtos.RaftPeerRole.FOLLOWER)
        .forEach(peer -> voters.add(peer.getId().toString()));
    String message = "node " + selfId + " is not a member of the group in the latest configuration of its own "
        + "data (index " + conf.getLogEntryIndex() + ", voters " + voters + "): it was removed. " + howToComeBack();
    try {
      closeRaft();
    } finally {
      security.close();
      rejoin.shutdownNow();
    }
    throw new RemovedNodeException(message);
  }

  private String howToComeBack() {
    return "To bring it back, start it with an empty data directory (" + config.dataDir() + ") and join=true, then "
        + "add it: member add " + selfId + "=" + config.raftAddress() + "/" + config.apiAddress();
  }

  /**
   * The file a node writes into its data directory when it learns of its removal. A node removed while it was
   * down or cut off learns of it from the leader only (its own log never got the configuration that leaves it
   * out), so without this file every later start on that data would run an election to be told again.
   */
  private java.nio.file.Path removedMarker() {
    return config.dataDir().resolve(REMOVED_MARKER);
  }

  static final String REMOVED_MARKER = "REMOVED";

  private void markRemoved() {
    try {
      java.nio.file.Files.writeString(removedMarker(), "node " + selfId + " learned at "
          + java.time.Instant.now() + " that it was removed from group " + config.groupId() + "\n");
    } catch (IOException | RuntimeException e) {
      LOG.warn("Cannot record the removal in {}: a later start on this data learns of it again: {}", removedMarker(),
          e.toString());
    }
  }

  /** Before anything is opened: a node that recorded its removal ({@link #markRemoved}) refuses to start. */
  private void refuseIfMarkedRemoved() throws IOException {
    if (config.join() || !java.nio.file.Files.exists(removedMarker())) {
      return;
    }
    String recorded;
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(removedMarker())) {
      // what this node wrote is one short line; whatever else is there, only its start
      recorded = new String(in.readNBytes(512), java.nio.charset.StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      recorded = "(unreadable: " + e + ")";
    }
    throw new RemovedNodeException("node " + selfId + " was removed from the group (" + removedMarker() + ": "
        + recorded + "). " + howToComeBack());
  }

  /** The node's data says it was removed from the group; it refuses to start (see {@link #refuseIfRemoved}). */
  public static final class RemovedNodeException extends IOException {
    private static final long serialVersionUID = 1L;

    RemovedNodeException(String message) {
      super(message);
    }
  }

  private static boolean isEmptyDir(java.nio.file.Path dir) throws IOException {
    if (!java.nio.file.Files.isDirectory(dir)) {
      return true;
    }
    try (java.util.stream.Stream<java.nio.file.Path> all = java.nio.file.Files.walk(dir)) {
      return all.noneMatch(java.nio.file.Files::isRegularFile);
    }
  }

  /**
   * A node that started with an empty Raft log (new, or its disk was lost) may be a member the leader already
   * knew: Ratis' leader then sends it heartbeats against its old progress and backs off to what it really has
   * only when it sends an entry (RATIS-2523), so on an idle cluster the node never caught up. Until its log has
   * an entry, this node asks the leader for a no-op entry every second (bounded by {@code untilNanos}).
   */
  private void askUntilAnEntry(long untilNanos) {
    rejoin.scheduleWithFixedDelay(() -> {
      try {
        boolean hasEntry = raftServer.getDivision(group.getGroupId()).getRaftLog().getLastEntryTermIndex() != null;
        if (closed || hasEntry || System.nanoTime() - untilNanos > 0) {
          LOG.info("Started with an empty Raft log: {}", hasEntry ? "entries arrived" : "no longer asking");
          rejoin.shutdown();
          return;
        }
        DivisionInfo i = divisionInfo();
        if (i != null && !i.isLeader()) {
          replicator.askForAnEntry();
        }
      } catch (IOException | RuntimeException e) {
        LOG.debug("asking for an entry failed: {}", e.toString());
      }
    }, 1, 1, TimeUnit.SECONDS);
  }

  /** Starts a node; {@code onFatal} runs when the node can no longer serve (e.g. to exit the process). */
  public static HaspNode start(NodeConfig config, LongSupplier clockMs, Runnable onFatal) throws IOException {
    return new HaspNode(config, clockMs, onFatal, onFatal);
  }

  /** As {@link #start(NodeConfig, LongSupplier, Runnable)}; {@code onRemoved} runs when the node finds itself
   *  removed from the group (member remove), after which it can no longer serve either. */
  public static HaspNode start(NodeConfig config, LongSupplier clockMs, Runnable onFatal, Runnable onRemoved)
      throws IOException {
    return new HaspNode(config, clockMs, onFatal, onRemoved);
  }

  private void registerGauges() {
    metrics.gauge("hasp.locks", () -> () -> stateMachine.counts().locks());
    metrics.gauge("hasp.holders", () -> () -> stateMachine.counts().holders());
    metrics.gauge("hasp.waiters", () -> () -> stateMachine.counts().waiters());
    metrics.gauge("hasp.sessions", () -> () -> stateMachine.counts().sessions());
    metrics.gauge("hasp.outcomes", () -> () -> stateMachine.counts().outcomes());
    metrics.gauge("hasp.pending_waits", () -> waits::size);
    metrics.gauge("hasp.raft.term", () -> () -> {
      DivisionInfo i = divisionInfo();
      return i == null ? -1 : i.getCurrentTerm();
    });
  }

  /** This node's last log entry, or null while its log is not open. */
  private org.apache.ratis.server.protocol.TermIndex lastLogEntry() {
    try {
      return raftServer.getDivision(group.getGroupId()).getRaftLog().getLastEntryTermIndex();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  DivisionInfo divisionInfo() {
    try {
      return raftServer.getDivision(group.getGroupId()).getInfo();
    } catch (IOException e) {
      return null;
    }
  }

  /** This node's view: role, term, leader, indexes, peers. */
  public ClusterStatusResponse status() {
    ClusterStatusResponse.Builder b = ClusterStatusResponse.newBuilder()
        .setNodeId(config.nodeId())
        .setApiAddress(config.apiAddress().toString())
        .setHttpAddress(config.httpAddress() == null ? "" : config.httpAddress().toString())
        .setPid(ProcessHandle.current().pid())
        .setGroupId(config.groupId())
        .setTls(security.tls())
        .setLdlmAddress(ldlm == null ? "" : ldlm.address())
        .setLdlmRestAddress(ldlm == null ? "" : ldlm.restAddress());
    try {
      RaftServer.Division d = raftServer.getDivision(group.getGroupId());
      DivisionInfo i = d.getInfo();
      b.setRole(i.getCurrentRole().name()).setTerm(i.getCurrentTerm())
          .setCommitIndex(d.getRaftLog().getLastCommittedIndex())
          .setAppliedIndex(i.getLastAppliedIndex());
      if (i.getLeaderId() != null) {
        b.setLeaderId(i.getLeaderId().toString());
      }
      for (Members.Member m : members.all()) {
        b.addPeers(PeerInfo.newBuilder().setId(m.id()).setRaftAddress(m.raftAddress()).setApiAddress(m.apiAddress())
            .setRole(m.voter() ? "VOTER" : "LISTENER"));
      }
    } catch (IOException e) {
      b.setRole("UNKNOWN");
    }
    SnapshotInfo s = stateMachine.getLatestSnapshot();
    if (s != null) {
      b.setSnapshotIndex(s.getIndex());
    }
    LockStateMachine.Counts c = stateMachine.counts();
    Runtime rt = Runtime.getRuntime();
    b.setStats(io.hasp.proto.NodeStats.newBuilder().setLocks(c.locks()).setHolders(c.holders()).setWaiters(c.waiters())
        .setSessions(c.sessions()).setOutcomes(c.outcomes()).setClients(c.clients()).setPendingWaits(waits.size())
        .setHeapUsedBytes(rt.totalMemory() - rt.freeMemory()).setHeapMaxBytes(rt.maxMemory())
        .setHeapAfterGcBytes(heapAfterGc()));
    long[] cost = stateMachine.applyCost();
    LockStateMachine.SnapshotTaken taken = stateMachine.lastSnapshotTaken();
    b.getStatsBuilder().setRssBytes(residentBytes()).setAppliedCommands(cost[0]).setApplyNanos(cost[1])
        .setSnapshotIndex(taken.index()).setSnapshotBytes(taken.bytes()).setSnapshotMillis(taken.millis())
        .setProcessCpuNanos(processCpuNanos());
    return b.build();
  }

  /** CPU time of this process (all threads, user + system), or 0 where the JVM does not say. */
  static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return Math.max(0, os.getProcessCpuTime());
    }
    return 0;
  }

  /** VmRSS of this process from /proc (Linux); 0 where that is not available. */
  private static long residentBytes() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          String[] parts = line.substring(6).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      return 0;
    }
    return 0;
  }

  /** The heap pools' usage right after their most recent collection, summed (0 before any collection). */
  private static long heapAfterGc() {
    long sum = 0;
    for (java.lang.management.MemoryPoolMXBean pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
      java.lang.management.MemoryUsage u = pool.getType() == java.lang.management.MemoryType.HEAP
          ? pool.getCollectionUsage() : null;
      if (u != null) {
        sum += u.getUsed();
      }
    }
    return sum;
  }

  public NodeConfig config() {
    return config;
  }

  public MetricRegistry metrics() {
    return metrics;
  }

  /** Reads the TLS and token files again now, changed or not (SIGHUP); failures are logged, the old ones kept. */
  public void reloadCredentials() {
    security.reload();
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    readiness.close();
    if (ldlm != null) {
      ldlm.close(); // its connections' sessions are closed through the log while the node still can
    }
    if (http != null) {
      http.close();
    }
    rejoin.shutdownNow();
    leaderLoss.close();
    ticker.close();
    acquires.close();
    admin.close();
    waits.failAll(Errors.toStatus(new Errors.HaspError(io.hasp.proto.ErrorCode.NO_QUORUM, "node shutting down")));
    apiServer.shutdown();
    try {
      apiServer.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    apiServer.shutdownNow();
    closeRaft();
    security.close();
  }

  /** Closes the forwarding client and the Raft server, and waits until the division (and its store) is closed. */
  private void closeRaft() throws IOException {
    replicator.close();
    DivisionInfo division = divisionInfo();
    raftServer.close();
    awaitClosed(division);
  }

  /**
   * Ratis' RaftServer.close() closes its divisions on other threads and returns before they are done (a division
   * that a removal already closes may still be closing too), so the state machine's RocksDB could still be open
   * when close returned: a node started again on the same directory in this process then failed ("lock hold by
   * current process"). Waits, bounded, until the division (and with it the state machine) is closed.
   */
  private static void awaitClosed(DivisionInfo division) {
    if (division == null) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (division.getLifeCycleState() != org.apache.ratis.util.LifeCycle.State.CLOSED
        && System.nanoTime() - deadline < 0) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    if (division.getLifeCycleState() != org.apache.ratis.util.LifeCycle.State.CLOSED) {
      LOG.warn("The Raft division did not close within 30 s (state {})", division.getLifeCycleState());
    }
  }
}
