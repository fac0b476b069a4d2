package io.hasp.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.IsLockedResponse;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockInfo;
import io.hasp.proto.LockSummary;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.ListQuery;
import io.hasp.proto.replicated.Query;
import io.hasp.statemachine.core.Changes;
import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.hasp.statemachine.core.Command;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Limits;
import io.hasp.statemachine.core.LockTable;
import io.hasp.statemachine.core.LockView;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Waiter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ratis adapter of the {@link LockTable}: decodes each committed entry, applies it to the table, writes
 * the table's changes and the applied position to RocksDB in one batch, then tells the {@link StateListener}.
 *
 * <ul>
 *   <li>Time: {@link #startTransaction} (leader only) stamps every command with the leader's clock; apply never
 *       reads a clock.
 *   <li>Replay: Ratis replays from the latest snapshot index; entries at or below the store's applied index are
 *       already in RocksDB and are skipped.
 *   <li>Snapshots: RocksDB checkpoints in {@link SnapshotStore}; an installed snapshot replaces the store.
 *   <li>Reads: {@link #query} answers from the applied table (Ratis runs it after ReadIndex for linearizable reads).
 * </ul>
 */
public final class LockStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(LockStateMachine.class);
  /** Commands one entry may carry (nodes group at most 256). */
  public static final int BATCH_COMMANDS_MAX = 1_024;

  private final Path storeDir;
  private final SnapshotStore snapshots;
  private final LongSupplier clockMs;
  private final AtomicLong lastStampMs = new AtomicLong();
  private final Object lock = new Object();
  private volatile StateListener listener = StateListener.NONE;
  private volatile Runnable onLeadership = () -> {};
  private final java.util.concurrent.CountDownLatch leftTheGroup = new java.util.concurrent.CountDownLatch(1);
  /** The Raft client id this node's own replicator submits with: only it may propose timer commands. */
  private volatile org.apache.ratis.protocol.ClientId localClientId;
  private LockStore store;
  private LockTable table = new LockTable();
  private long storeAppliedIndex;
  /** Completed when the state loaded at start is in {@link #table} (see {@link #initialize}). */
  private final CompletableFuture<Void> loaded = new CompletableFuture<>();
  private boolean closed;
  private long appliedCommands;
  private long applyNanos;
  private volatile SnapshotTaken lastSnapshot = new SnapshotTaken(0, 0, 0);
  /** Holders released by applied entries since start, by reason (LEASE_EXPIRED: by the leader's Expire). */
  private final java.util.concurrent.atomic.AtomicLongArray releases =
      new java.util.concurrent.atomic.AtomicLongArray(ReleaseReason.values().length);

  /**
   * @param dataDir the node's state directory: the live RocksDB goes to {@code dataDir/db}, snapshots to
   *     {@code dataDir/snapshots}
   * @param clockMs the wall clock used to stamp commands on the leader
   */
  public LockStateMachine(Path dataDir, LongSupplier clockMs) {
    this.storeDir = dataDir.resolve("db");
    this.snapshots = new SnapshotStore(dataDir.resolve("snapshots"), dataDir.resolve("snapshots-tmp"));
    this.clockMs = Objects.requireNonNull(clockMs);
  }

  public void setListener(StateListener listener) {
    this.listener = Objects.requireNonNull(listener);
  }

  /**
   * Run (on a Ratis thread: keep it short) when this node learns of a new leader or none, and when this node,
   * as leader, becomes ready (its first entry of the term is applied): calls parked until then go on at once.
   */
  public void setLeadershipListener(Runnable onLeadership) {
    this.onLeadership = Objects.requireNonNull(onLeadership);
  }

  @Override
  public void notifyLeaderChanged(org.apache.ratis.protocol.RaftGroupMemberId member,
      org.apache.ratis.protocol.RaftPeerId newLeader) {
    onLeadership.run();
  }

  @Override
  public void notifyLeaderReady() {
    onLeadership.run();
  }

  /**
   * Ratis calls this with {@code allServer} false only where an election of this node ended it: its own
   * configuration leaves it out (NOT_IN_CONF), or the leader answered its vote request with "shut down" (the
   * leader's committed configuration leaves it out and it lags behind that configuration: a node removed while
   * it was down or cut off, whose own log never got the change). Both are a removal from the group.
   */
  @Override
  public void notifyServerShutdown(org.apache.ratis.proto.RaftProtos.RoleInfoProto roleInfo, boolean allServer) {
    if (!allServer) {
      leftTheGroup.countDown();
    }
  }

  /**
   * True when an election told this node it is out of the group (see {@link #notifyServerShutdown}), waiting up
   * to {@code timeoutMs} for it: Ratis closes the division just before it says so.
   */
  public boolean awaitLeftTheGroup(long timeoutMs) throws InterruptedException {
    return leftTheGroup.await(timeoutMs, TimeUnit.MILLISECONDS);
  }

  /**
   * The Raft client id of this node's own submissions. Expire and Refresh are accepted only from it: a batch
   * forwarded by another node (or sent by anyone who reached the Raft port) cannot carry them, so a node that
   * lost leadership cannot have its queued timer commands applied in the new leader's term.
   */
  public void setLocalClientId(org.apache.ratis.protocol.ClientId id) {
    this.localClientId = Objects.requireNonNull(id);
  }

  /**
   * Opens the snapshot directory and starts loading the state on a thread of its own: Ratis starts this node's
   * Raft port only after this returns, and at a million held locks the load takes seconds. Meanwhile this node
   * votes, elects and replicates (none of which reads the state), so a cluster restarted as a whole has its leader
   * when the loads end instead of starting its elections then. Whatever reads or writes the state waits for the
   * load: applying entries ({@link #applyTransaction}), reads ({@link #query}), snapshots; the {@code local*}
   * views, which are stale by contract, see an empty table until then.
   */
  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    super.initialize(server, groupId, raftStorage);
    getLifeCycle().startAndTransition(() -> {
      snapshots.init(raftStorage);
      SnapshotInfo snapshot = snapshots.getLatestSnapshot();
      if (snapshot != null) {
        setLastAppliedTermIndex(snapshot.getTermIndex());
      }
      Thread loader = new Thread(this::loadInBackground, "hasp-state-load");
      loader.setDaemon(true);
      loader.start();
    }, IOException.class);
  }

  /**
   * Ratis' fault-injection point run on the load thread before the load (tests hold the load back with it:
   * {@code CodeInjectionForTesting.put(LOAD_INJECTION, ...)}); the local id is the store directory.
   */
  public static final String LOAD_INJECTION = "LockStateMachine.load";

  private void loadInBackground() {
    try {
      org.apache.ratis.util.CodeInjectionForTesting.execute(LOAD_INJECTION, storeDir, null);
      load(false);
      loaded.complete(null);
    } catch (IOException | RuntimeException | Error e) {
      loaded.completeExceptionally(e);
      synchronized (lock) {
        if (closed) {
          LOG.info("State load of {} stopped: the node is closing", storeDir);
          return;
        }
      }
      LOG.error("Cannot load the state from {}: this node stops", storeDir, e);
      // the node's watch on its Raft division ends the process (as for an entry that cannot be applied)
      getServer().thenAccept(s -> {
        try {
          s.getDivision(getGroupId()).close();
        } catch (IOException closing) {
          LOG.warn("Closing the Raft division after the failed load: {}", closing.toString());
        }
      });
    }
  }

  /** Whether the state is loaded (readiness: a node still loading cannot serve). */
  public boolean isLoaded() {
    return loaded.isDone() && !loaded.isCompletedExceptionally();
  }

  /** Waits for the state's load (at a node's start); throws when the load failed. */
  private void awaitLoaded() {
    if (isLoaded()) {
      return;
    }
    try {
      loaded.join();
    } catch (java.util.concurrent.CompletionException e) {
      throw new IllegalStateException("the state could not be loaded: " + e.getCause(), e.getCause());
    }
  }

  /** Opens the store (from the latest snapshot when the live store is behind it) and rebuilds the table. */
  private void load(boolean fromSnapshot) throws IOException {
    synchronized (lock) {
      if (closed) {
        throw new IOException("the state machine is closed");
      }
      long startNanos = System.nanoTime();
      LOG.info("Loading state from {} ({} ms after the JVM started)", storeDir,
          java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime());
      SnapshotInfo snapshot = snapshots.getLatestSnapshot();
      if (store == null) {
        store = LockStore.open(storeDir);
      }
      LockTable fresh = new LockTable();
      LockStore.Applied applied = store.load(fresh);
      if (snapshot != null && (fromSnapshot || applied.index() < snapshot.getIndex())) {
        LOG.info("Loading state from snapshot {} (store was at index {})", snapshot.getTermIndex(), applied.index());
        store.replaceWith(snapshots.latestDir());
        fresh = new LockTable();
        applied = store.load(fresh);
      }
      table = fresh;
      storeAppliedIndex = applied.index();
      lastStampMs.accumulateAndGet(table.meta().lastNowMs(), Math::max);
      LOG.info("State loaded in {} ms: applied index {}, {} locks, {} holders, {} waiters, {} sessions",
          (System.nanoTime() - startNanos) / 1_000_000, applied.index(), table.lockCount(), table.holderCount(),
          table.waiterCount(), table.sessionCount());
    }
    SnapshotInfo snapshot = snapshots.getLatestSnapshot();
    if (snapshot != null) {
      setLastAppliedTermIndex(snapshot.getTermIndex());
    }
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return snapshots;
  }

  @Override
  public SnapshotInfo getLatestSnapshot() {
    return snapshots.getLatestSnapshot();
  }

  @Override
  public void pause() {
    LifeCycle lc = getLifeCycle();
    if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
      lc.transition(LifeCycle.State.PAUSING);
      lc.transition(LifeCycle.State.PAUSED);
    }
  }

  @Override
  public void reinitialize() throws IOException {
    awaitLoaded();
    snapshots.reload();
    load(true);
    LifeCycle lc = getLifeCycle();
    if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
      lc.transition(LifeCycle.State.STARTING);
      lc.transition(LifeCycle.State.RUNNING);
    }
    listener.reloaded();
  }

  // ------------------------------------------------------------------------------------------------
  // Write path
  // ------------------------------------------------------------------------------------------------

  /** Leader only: validates the batch and stamps it with the leader's clock (never running backwards). */
  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    CommandBatch batch;
    String refused;
    try {
      batch = CommandBatch.parseFrom(request.getMessage().getContent().asReadOnlyByteBuffer());
      refused = refusal(batch, request.getClientId().equals(localClientId), request.getClientId());
    } catch (InvalidProtocolBufferException e) {
      batch = null;
      refused = "malformed command batch: " + e.getMessage();
    }
    if (refused != null) {
      // a refusal travels back as a StateMachineException reply (a definite INVALID_ARGUMENT for the sender),
      // not as a thrown IOException, which Ratis hands back as a transport failure that callers retry
      return TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request)
          .build().setException(new IllegalArgumentException(refused));
    }
    long now = lastStampMs.accumulateAndGet(clockMs.getAsLong(), Math::max);
    return TransactionContext.newBuilder()
        .setStateMachine(this)
        .setClientRequest(request)
        .setLogData(stamp(request.getMessage().getContent(), now))
        .build();
  }

  /**
   * The batch's bytes with {@code now_ms} set to {@code now}: the field appended after them (for a scalar field
   * protobuf takes the last value on the wire), so the batch is not serialized a second time. Equal, once parsed,
   * to {@code batch.toBuilder().setNowMs(now).build()}.
   */
  static org.apache.ratis.thirdparty.com.google.protobuf.ByteString stamp(
      org.apache.ratis.thirdparty.com.google.protobuf.ByteString batch, long now) {
    byte[] field = new byte[1 + 10];
    field[0] = (byte) ((CommandBatch.NOW_MS_FIELD_NUMBER << 3) | 0); // varint
    int n = 1;
    long v = now;
    while ((v & ~0x7FL) != 0) {
      field[n++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    field[n++] = (byte) v;
    return batch.concat(UnsafeByteOperations.unsafeWrap(field, 0, n));
  }

  /** Why a proposed batch is refused before it reaches the log, or null. */
  private static String refusal(CommandBatch batch, boolean local, Object sender) {
    if (batch.getCommandsCount() == 0 || batch.getCommandsCount() > BATCH_COMMANDS_MAX) {
      return "a batch holds 1 to " + BATCH_COMMANDS_MAX + " commands, got " + batch.getCommandsCount();
    }
    for (io.hasp.proto.replicated.Command c : batch.getCommandsList()) {
      switch (c.getOpCase()) {
        case OP_NOT_SET:
          return "command carries no operation";
        case EXPIRE:
        case REFRESH:
          if (!local) {
            return c.getOpCase() + " is accepted only from the leader's own timer, not from " + sender;
          }
          break;
        default:
          break;
      }
    }
    return null;
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    awaitLoaded();
    LogEntryProto entry = trx.getLogEntry();
    long index = entry.getIndex();
    long term = entry.getTerm();
    if (index <= storeAppliedIndex) {
      updateLastAppliedTermIndex(term, index);
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    CommandBatch batch;
    try {
      batch = CommandBatch.parseFrom(entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer());
    } catch (InvalidProtocolBufferException e) {
      // Cannot happen for entries stamped by startTransaction; apply it as a no-op on every replica alike.
      LOG.error("Skipping undecodable log entry {}: {}", index, e.getMessage());
      updateLastAppliedTermIndex(term, index);
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    Events events = new Events();
    // Every replica keeps its entry's results: Ratis puts the reply into its retry cache on every node, and a
    // batch re-sent with the same call id (a follower's forward after the leader died, this node's own retry
    // once it leads) is answered from that cache. Followers only keep the results; they are encoded when the
    // reply is read (an entry applied without replies answered such a retry with none).
    List<Result> results = new ArrayList<>(batch.getCommandsCount());
    long started = System.nanoTime();
    synchronized (lock) {
      try (LockStore.Batch writes = store.newBatch()) {
        Tee changes = new Tee(writes, events);
        for (io.hasp.proto.replicated.Command c : batch.getCommandsList()) {
          Result result;
          try {
            result = c.getOpCase() == io.hasp.proto.replicated.Command.OpCase.NOOP ? Result.DONE
                : table.apply(index, term, Codec.toCommand(c, batch.getNowMs()), changes);
          } catch (IllegalArgumentException e) {
            result = Result.fail(ErrorCode.INVALID_ARGUMENT, "undecodable command: " + e.getMessage());
          }
          results.add(result);
        }
        writes.commit(term, index, table.meta());
      } catch (IOException e) {
        // The table and the store now disagree: stop this replica rather than serve a state it cannot keep.
        throw new IllegalStateException("cannot persist entry " + index + ": " + e.getMessage(), e);
      }
      storeAppliedIndex = index;
      appliedCommands += batch.getCommandsCount();
      applyNanos += System.nanoTime() - started;
    }
    updateLastAppliedTermIndex(term, index);
    for (int r = 0; r < events.released.length; r++) {
      if (events.released[r] > 0) {
        releases.addAndGet(r, events.released[r]);
      }
    }
    events.deliver(listener);
    return CompletableFuture.completedFuture(new Replies(results));
  }

  /**
   * The replies of one applied entry. The node's own submissions get this object back through Ratis as it is
   * (no serialization inside the JVM); it is serialized only when Ratis sends it elsewhere.
   */
  static final class Replies implements Message {
    private final List<Result> results;
    private volatile BatchReply replies;
    private volatile org.apache.ratis.thirdparty.com.google.protobuf.ByteString content;

    Replies(List<Result> results) {
      this.results = results;
    }

    /** Encoded on first use (the leader answering, or a retry answered from the cache), once. */
    BatchReply replies() {
      BatchReply r = replies;
      if (r == null) {
        BatchReply.Builder b = BatchReply.newBuilder();
        for (Result result : results) {
          b.addReplies(Codec.toReply(result));
        }
        r = b.build();
        replies = r;
      }
      return r;
    }

    @Override
    public org.apache.ratis.thirdparty.com.google.protobuf.ByteString getContent() {
      org.apache.ratis.thirdparty.com.google.protobuf.ByteString c = content;
      if (c == null) {
        c = UnsafeByteOperations.unsafeWrap(replies().toByteArray());
        content = c;
      }
      return c;
    }
  }

  /** The replies produced by {@link #applyTransaction} (decoded only when they crossed a process boundary). */
  public static BatchReply parseReplies(Message message) throws InvalidProtocolBufferException {
    if (message instanceof Replies r) {
      return r.replies();
    }
    return BatchReply.parseFrom(message.getContent().asReadOnlyByteBuffer());
  }

  /** Sends record changes to the batch and events to the collector. */
  private static final class Tee implements Changes {
    private final LockStore.Batch batch;
    private final Events events;

    Tee(LockStore.Batch batch, Events events) {
      this.batch = batch;
      this.events = events;
    }

    @Override public void putLock(String name, long size) { batch.putLock(name, size); }
    @Override public void deleteLock(String name) { batch.deleteLock(name); }
    @Override public void putHolder(Holder h) { batch.putHolder(h); }
    @Override public void deleteHolder(String name, String key) { batch.deleteHolder(name, key); }
    @Override public void putWaiter(Waiter w) { batch.putWaiter(w); }
    @Override public void deleteWaiter(String name, long seq) { batch.deleteWaiter(name, seq); }
    @Override public void putSession(io.hasp.statemachine.core.Session s) { batch.putSession(s); }
    @Override public void deleteSession(long id) { batch.deleteSession(id); }
    @Override public void putOutcome(String c, long r, long at, boolean aged, Result res) {
      batch.putOutcome(c, r, at, aged, res);
    }
    @Override public void deleteOutcome(String c, long r) { batch.deleteOutcome(c, r); }
    @Override public void putClient(io.hasp.statemachine.core.ClientMarks m) { batch.putClient(m); }
    @Override public void deleteClient(String c) { batch.deleteClient(c); }
    @Override public void putMeta(io.hasp.statemachine.core.Meta m) { batch.putMeta(m); }
    @Override public void waiterGranted(Waiter w, Holder h, long size) { events.add(l -> l.waiterGranted(w, h, size)); }
    @Override public void waiterRemoved(Waiter w, ErrorCode reason) { events.add(l -> l.waiterRemoved(w, reason)); }
    @Override public void holderReleased(Holder h, ReleaseReason reason) {
      events.released[reason.ordinal()]++;
      events.add(l -> l.holderReleased(h, reason));
    }
  }

  /** Events of one entry, delivered after the entry is durable. */
  private static final class Events {
    private List<java.util.function.Consumer<StateListener>> list;
    /** Holders this entry released, by ReleaseReason ordinal (for the metrics). */
    final long[] released = new long[ReleaseReason.values().length];

    void add(java.util.function.Consumer<StateListener> e) {
      if (list == null) {
        list = new ArrayList<>(2);
      }
      list.add(e);
    }

    void deliver(StateListener l) {
      if (list != null) {
        for (java.util.function.Consumer<StateListener> e : list) {
          try {
            e.accept(l);
          } catch (RuntimeException ex) {
            LOG.warn("State listener failed", ex);
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Snapshots
  // ------------------------------------------------------------------------------------------------

  @Override
  public long takeSnapshot() throws IOException {
    awaitLoaded();
    TermIndex last = getLastAppliedTermIndex();
    if (last == null || last.getIndex() <= 0) {
      return -1;
    }
    // Ratis calls this on the thread that applies entries, so the store holds exactly the entries up to `last`;
    // reads of the in-memory table go on meanwhile (they never touch RocksDB).
    long started = System.nanoTime();
    if (snapshots.create(last.getTerm(), last.getIndex(), store::checkpoint)) {
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      long bytes = LockStore.sizeOf(snapshots.latestDir());
      lastSnapshot = new SnapshotTaken(last.getIndex(), bytes, ms);
      LOG.info("Snapshot {} taken in {} ms ({} bytes)", last, ms, bytes);
    }
    snapshots.cleanupOldSnapshots(new org.apache.ratis.statemachine.SnapshotRetentionPolicy() {
      @Override
      public int getNumSnapshotsRetained() {
        return 2;
      }
    });
    return last.getIndex();
  }

  // ------------------------------------------------------------------------------------------------
  // Read path
  // ------------------------------------------------------------------------------------------------

  @Override
  public CompletableFuture<Message> query(Message request) {
    Query q;
    try {
      q = Query.parseFrom(request.getContent().asReadOnlyByteBuffer());
    } catch (InvalidProtocolBufferException e) {
      return CompletableFuture.failedFuture(new IllegalArgumentException("malformed query: " + e.getMessage()));
    }
    awaitLoaded();
    com.google.protobuf.MessageLite answer;
    synchronized (lock) {
      switch (q.getQCase()) {
        case IS_LOCKED:
          answer = IsLockedResponse.newBuilder().setLocked(table.isLocked(q.getIsLocked())).build();
          break;
        case GET_LOCK: {
          LockView v = table.getLock(q.getGetLock());
          answer = v == null ? GetLockResponse.newBuilder().setExists(false).build()
              : GetLockResponse.newBuilder().setExists(true).setLock(info(v)).build();
          break;
        }

        case LIST: {
          ListQuery l = q.getList();
          int limit = l.getLimit() == 0 ? Limits.LIST_LIMIT_DEFAULT : (int) Math.min(l.getLimit(), Limits.LIST_LIMIT_MAX);
          List<LockView> page = table.list(l.getPrefix(), l.getAfter(), limit + 1);
          ListLocksResponse.Builder b = ListLocksResponse.newBuilder();
          for (int i = 0; i < Math.min(limit, page.size()); i++) {
            LockView v = page.get(i);
            b.addLocks(LockSummary.newBuilder().setName(v.name()).setSize(v.size()).setHolders(v.holderCount())
                .setWaiters(v.waiters()));
          }
          if (page.size() > limit) {
            b.setNextPageToken(page.get(limit - 1).name());
          }
          answer = b.build();
          break;
        }
        case TRY_LOCK: {
          boolean fails;
          try {
            fails = Codec.toCommand(q.getTryLock(), 0) instanceof Command.Acquire a && table.tryLockFailsNow(a);
          } catch (IllegalArgumentException e) {
            fails = false; // undecodable: the log path answers it with its error
          }
          answer = io.hasp.proto.replicated.TryLockProbe.newBuilder().setFails(fails).build();
          break;
        }
        default:
          return CompletableFuture.failedFuture(new IllegalArgumentException("query carries no question"));
      }
    }
    return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(answer.toByteArray())));
  }

  private static LockInfo info(LockView v) {
    LockInfo.Builder b = LockInfo.newBuilder().setName(v.name()).setSize(v.size()).setWaiters(v.waiters())
        .setHolderCount(v.holderCount());
    for (Holder h : v.holders()) {
      b.addHolders(HolderInfo.newBuilder().setToken(h.token()).setOwner(h.owner()).setSessionId(h.sessionId())
          .setAcquiredAtMs(h.acquiredAtMs()).setExpiresAtMs(h.expiresAtMs()).setRemainingLeaseMs(-1));
    }
    return b.build();
  }

  /** Local (possibly stale) view for the node's own decisions: the waiter of a request, or null. */
  public Waiter localWaiter(String clientId, long requestId) {
    synchronized (lock) {
      return table.waiter(clientId, requestId);
    }
  }

  /** Local (possibly stale) remembered outcome of a request, or null. */
  public Result localOutcome(String clientId, long requestId) {
    synchronized (lock) {
      return table.outcome(clientId, requestId);
    }
  }

  /** Local (possibly stale) live hold of a request, or null. */
  public Holder localHolder(String clientId, long requestId) {
    synchronized (lock) {
      return table.holderOf(clientId, requestId);
    }
  }

  /** Local (possibly stale) live hold of lock {@code name} with this key, or null. */
  public Holder localHolder(String name, String key) {
    synchronized (lock) {
      return table.holder(name, key);
    }
  }

  /** Local (possibly stale) size of a lock, 0 when it does not exist. */
  public long localSize(String name) {
    synchronized (lock) {
      return table.sizeOf(name);
    }
  }

  /** Leader ticker: is an Expire command at {@code nowMs} worth proposing? */
  public boolean hasExpiryDue(long nowMs) {
    synchronized (lock) {
      return table.hasExpiryDue(nowMs);
    }
  }

  /** Sizes of the applied state, read together. */
  public record Counts(long locks, long holders, long waiters, long sessions, long outcomes, long clients) {}

  /** A snapshot this node took: its index, size on disk and how long it took (all 0 before the first). */
  public record SnapshotTaken(long index, long bytes, long millis) {}

  /** The newest snapshot this node took itself. */
  public SnapshotTaken lastSnapshotTaken() {
    return lastSnapshot;
  }

  /**
   * Holders this replica's applied entries released for {@code reason} since this process started (a lease
   * expiry counts when the leader's Expire entry that ends it is applied; entries replayed from the log count
   * again after a restart only if RocksDB did not hold them yet).
   */
  public long releasedHolders(ReleaseReason reason) {
    return releases.get(reason.ordinal());
  }

  /** Commands applied since start, and the nanoseconds spent applying them. */
  public long[] applyCost() {
    synchronized (lock) {
      return new long[] {appliedCommands, applyNanos};
    }
  }

  /** Gauges: a consistent local snapshot of the table's sizes. */
  public Counts counts() {
    synchronized (lock) {
      return new Counts(table.lockCount(), table.holderCount(), table.waiterCount(), table.sessionCount(),
          table.outcomeCount(), table.clientCount());
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (lock) {
      closed = true;
      if (store != null) {
        store.close();
        store = null;
      }
    }
    super.close();
  }
}
