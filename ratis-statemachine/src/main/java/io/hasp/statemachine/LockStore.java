package io.hasp.statemachine;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hasp.proto.replicated.ClientRecord;
import io.hasp.proto.replicated.GrantRecord;
import io.hasp.proto.replicated.LockRecord;
import io.hasp.proto.replicated.MetaRecord;
import io.hasp.proto.replicated.OutcomeRecord;
import io.hasp.proto.replicated.SessionRecord;
import io.hasp.proto.replicated.WaiterRecord;
import io.hasp.statemachine.core.Changes;
import io.hasp.statemachine.core.ClientMarks;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.LockTable;
import io.hasp.statemachine.core.Meta;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Session;
import io.hasp.statemachine.core.Waiter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.VectorMemTableConfig;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The one owner of Hasp's on-disk schema: RocksDB column families, key encodings and record codecs.
 *
 * <p>Column families and keys (all values are protobuf records of {@code hasp_replicated.proto}):
 *
 * <pre>
 *   locks     name                          -> LockRecord
 *   holders   name 0x00 key                 -> GrantRecord
 *   waiters   name 0x00 seq(8 bytes, BE)    -> WaiterRecord
 *   sessions  id(8 bytes, BE)               -> SessionRecord
 *   outcomes  clientId 0x00 requestId(8, BE) -> OutcomeRecord
 *   clients   clientId                      -> ClientRecord (settle marks)
 *   meta      "meta"                        -> MetaRecord (applied index/term, token, seq, clock, refresh, capacity)
 * </pre>
 *
 * Lock names never contain 0x00 (control characters are rejected), so the separators are unambiguous.
 *
 * <p>Durability: the Raft log is the write-ahead log, so RocksDB's own WAL is off (one write system call less per
 * applied entry on every node). A write reaches the memtable only; flushes (RocksDB's own when a memtable fills,
 * and the one before every snapshot's checkpoint) write every column family atomically ({@code atomic_flush}),
 * and the applied index is written in the same batch as the state it describes. So after a crash the store holds
 * the state of some applied index X at or after the latest snapshot's (which was taken after a flush), and the
 * node replays the Raft log from its snapshot, skipping the entries at or below X. The log is purged only up to
 * the snapshot, so every entry after X is still there.
 */
public final class LockStore implements Closeable {
  private static final byte[] META_KEY = "meta".getBytes(StandardCharsets.UTF_8);
  private static final List<String> FAMILIES = List.of("locks", "holders", "waiters", "sessions", "outcomes", "meta",
      "clients");

  private final Path dir;
  private DBOptions dbOptions;
  private ColumnFamilyOptions cfOptions;
  private RocksDB db;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private ColumnFamilyHandle locks;
  private ColumnFamilyHandle holders;
  private ColumnFamilyHandle waiters;
  private ColumnFamilyHandle sessions;
  private ColumnFamilyHandle outcomes;
  private ColumnFamilyHandle meta;
  private ColumnFamilyHandle clients;
  /** No WAL: see the class comment (the Raft log is the write-ahead log; flushes are atomic). */
  private final WriteOptions writeOptions = new WriteOptions().setSync(false).setDisableWAL(true);

  private LockStore(Path dir) {
    this.dir = dir;
  }

  /**
   * Opens (creating if needed) the store in {@code dir}. RocksDB's native library is kept beside it, in
   * {@code native/} of its parent ({@link RocksNative}), before any RocksDB object is made.
   */
  public static LockStore open(Path dir) throws IOException {
    RocksNative.load(dir.toAbsolutePath().getParent().resolve("native"));
    LockStore store = new LockStore(dir);
    store.openDb();
    return store;
  }

  /**
   * Memtables are vectors, not skip lists: every applied entry writes a few keys (and the meta key again), and
   * nothing reads a memtable while the node runs (the table lives in memory; the store is read only by
   * {@link #load} on a store just opened, whose memtables are empty, since there is no WAL to replay). A skip
   * list paid a sorted insert per key on the state machine's thread ({@code perf}: 16% of a follower's apply
   * thread in {@code InlineSkipList::FindSpliceForLevel}); a vector appends, and the flush thread sorts it once.
   * Vector memtables take one writer at a time ({@code allow_concurrent_memtable_write} off), which is all there
   * is: entries are applied in order by one thread.
   */
  private void openDb() throws IOException {
    Files.createDirectories(dir);
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxBackgroundJobs(2).setKeepLogFileNum(3).setAtomicFlush(true)
        .setAllowConcurrentMemtableWrite(false);
    cfOptions = new ColumnFamilyOptions().optimizeForSmallDb().setMemTableConfig(new VectorMemTableConfig());
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (String f : FAMILIES) {
      descriptors.add(new ColumnFamilyDescriptor(f.getBytes(StandardCharsets.UTF_8), cfOptions));
    }
    try {
      db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    } catch (RocksDBException e) {
      throw new IOException("cannot open RocksDB in " + dir + ": " + e.getMessage(), e);
    }
    locks = handles.get(1);
    holders = handles.get(2);
    waiters = handles.get(3);
    sessions = handles.get(4);
    outcomes = handles.get(5);
    meta = handles.get(6);
    clients = handles.get(7);
  }

  public Path dir() {
    return dir;
  }

  /** The applied position recorded with the state; (0, 0) for a new store. */
  public record Applied(long term, long index) {}

  /** Loads every record into {@code table} (which must be new) and returns the applied position. */
  public Applied load(LockTable table) throws IOException {
    try {
      byte[] m = db.get(meta, META_KEY);
      Applied applied = new Applied(0, 0);
      if (m != null) {
        MetaRecord r = MetaRecord.parseFrom(m);
        table.restoreMeta(Codec.meta(r));
        applied = new Applied(r.getAppliedTerm(), r.getAppliedIndex());
      }
      loadLocksAndHolders(table);
      forEach(waiters, v -> table.restoreWaiter(Codec.waiter(WaiterRecord.parseFrom(v))));
      forEach(sessions, v -> table.restoreSession(Codec.session(SessionRecord.parseFrom(v))));
      forEach(clients, v -> table.restoreClient(Codec.client(ClientRecord.parseFrom(v))));
      forEach(outcomes, v -> {
        OutcomeRecord r = OutcomeRecord.parseFrom(v);
        table.restoreOutcome(r.getClientId(), r.getRequestId(), r.getAtMs(), r.getAged(), Codec.toResult(r.getReply()));
      });
      table.finishRestore();
      return applied;
    } catch (RocksDBException e) {
      throw new IOException("cannot read RocksDB in " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Locks and their holders in one pass: both families are in lock-name order (a holder's key is the name, a 0x00
   * that sorts below every character of a name, and its key), so each lock's holders follow its record, take its
   * name (one String per lock, not one per record) and are decoded straight into {@link Holder}s. Owners and
   * client ids repeat across holders: one String each. At a million held locks this was most of a restart's
   * load, and most of that was the garbage of per-record objects. A holder without its lock (never written so)
   * is passed on as it is, and the table refuses it.
   */
  private void loadLocksAndHolders(LockTable table) throws IOException, RocksDBException {
    HolderDecoder decoder = new HolderDecoder();
    table.expectRestoredLocks(db.getLongProperty(locks, "rocksdb.estimate-num-keys"));
    try (ReadOptions ro = scanOptions(); RocksIterator li = db.newIterator(locks, ro);
        RocksIterator hi = db.newIterator(holders, ro)) {
      hi.seekToFirst();
      for (li.seekToFirst(); li.isValid(); li.next()) {
        LockRecord r = LockRecord.parseFrom(li.value());
        String name = r.getName();
        table.restoreLock(name, r.getSize());
        byte[] prefix = li.key();
        for (; hi.isValid(); hi.next()) {
          byte[] k = hi.key();
          int c = comparePrefix(k, prefix);
          if (c > 0) {
            break; // the next lock's holders
          }
          table.restoreHolder(decoder.decode(hi.value(), c == 0 ? name : null));
        }
      }
      for (; hi.isValid(); hi.next()) {
        table.restoreHolder(decoder.decode(hi.value(), null));
      }
    }
  }

  /** 0 when {@code key} is {@code name} 0x00 ...; negative when it sorts before those keys, positive after. */
  private static int comparePrefix(byte[] key, byte[] name) {
    int n = Math.min(key.length, name.length);
    for (int i = 0; i < n; i++) {
      int d = (key[i] & 0xff) - (name[i] & 0xff);
      if (d != 0) {
        return d;
      }
    }
    if (key.length <= name.length) {
      return -1;
    }
    return key[name.length] == 0 ? 0 : 1;
  }

  /** Decodes GrantRecord bytes into a Holder, reusing the lock's name and repeated owners and client ids. */
  private static final class HolderDecoder {
    private final java.util.Map<com.google.protobuf.ByteString, String> repeated = new java.util.HashMap<>();

    Holder decode(byte[] value, String lockName) throws IOException {
      com.google.protobuf.CodedInputStream in = com.google.protobuf.CodedInputStream.newInstance(value);
      String name = lockName;
      String key = "";
      String owner = "";
      String clientId = "";
      long token = 0;
      long leaseMs = 0;
      long expiresAtMs = 0;
      long sessionId = 0;
      long acquiredAtMs = 0;
      long requestId = 0;
      long attempt = 0;
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        switch (tag) {
          case (GrantRecord.NAME_FIELD_NUMBER << 3) | 2 -> {
            if (lockName == null) {
              name = in.readStringRequireUtf8();
            } else {
              in.skipField(tag);
            }
          }
          case (GrantRecord.KEY_FIELD_NUMBER << 3) | 2 -> key = in.readStringRequireUtf8();
          case (GrantRecord.TOKEN_FIELD_NUMBER << 3) -> token = in.readUInt64();
          case (GrantRecord.LEASE_MS_FIELD_NUMBER << 3) -> leaseMs = in.readInt64();
          case (GrantRecord.EXPIRES_AT_MS_FIELD_NUMBER << 3) -> expiresAtMs = in.readInt64();
          case (GrantRecord.SESSION_ID_FIELD_NUMBER << 3) -> sessionId = in.readUInt64();
          case (GrantRecord.OWNER_FIELD_NUMBER << 3) | 2 -> owner = shared(in.readBytes());
          case (GrantRecord.ACQUIRED_AT_MS_FIELD_NUMBER << 3) -> acquiredAtMs = in.readInt64();
          case (GrantRecord.CLIENT_ID_FIELD_NUMBER << 3) | 2 -> clientId = shared(in.readBytes());
          case (GrantRecord.REQUEST_ID_FIELD_NUMBER << 3) -> requestId = in.readUInt64();
          case (GrantRecord.ATTEMPT_FIELD_NUMBER << 3) -> attempt = in.readUInt64();
          default -> in.skipField(tag); // size (kept on the lock), or a field of a later version
        }
      }
      return new Holder(name == null ? "" : name, key, token, sessionId, owner, leaseMs, expiresAtMs, acquiredAtMs,
          clientId, requestId, attempt);
    }

    private String shared(com.google.protobuf.ByteString bytes) throws IOException {
      if (!bytes.isValidUtf8()) {
        throw new InvalidProtocolBufferException("a holder record's string is not valid UTF-8");
      }
      String s = repeated.get(bytes);
      if (s == null) {
        s = bytes.toStringUtf8();
        if (repeated.size() < 100_000) {
          repeated.put(bytes, s);
        }
      }
      return s;
    }
  }

  private interface RecordReader {
    void read(byte[] value) throws InvalidProtocolBufferException;
  }

  private void forEach(ColumnFamilyHandle cf, RecordReader reader) throws IOException {
    try (ReadOptions ro = scanOptions(); RocksIterator it = db.newIterator(cf, ro)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        reader.read(it.value());
      }
    }
  }

  /**
   * A load reads every record once, in order: its blocks skip the block cache (inserting and evicting each block
   * was ~3% of a million-lock load) and files are read ahead.
   */
  private static ReadOptions scanOptions() {
    return new ReadOptions().setFillCache(false).setReadaheadSize(2L << 20);
  }

  /** Starts a batch that collects the changes of one or more applied entries. */
  public Batch newBatch() {
    return new Batch();
  }

  /** The record changes of applied entries, written atomically with the applied position by {@link #commit}. */
  public final class Batch implements Changes, AutoCloseable {
    private final WriteBatch batch = new WriteBatch();
    private Meta tableMeta;

    @Override
    public void putLock(String name, long size) {
      put(locks, utf8(name), LockRecord.newBuilder().setName(name).setSize(size).build().toByteArray());
    }

    @Override
    public void deleteLock(String name) {
      delete(locks, utf8(name));
    }

    @Override
    public void putHolder(Holder h) {
      put(holders, holderKey(h.name(), h.key()), Codec.grant(h, 0).toByteArray());
    }

    @Override
    public void deleteHolder(String name, String key) {
      delete(holders, holderKey(name, key));
    }

    @Override
    public void putWaiter(Waiter w) {
      put(waiters, waiterKey(w.name(), w.seq()), Codec.waiter(w).toByteArray());
    }

    @Override
    public void deleteWaiter(String name, long seq) {
      delete(waiters, waiterKey(name, seq));
    }

    @Override
    public void putSession(Session s) {
      put(sessions, longKey(s.id()), Codec.session(s).toByteArray());
    }

    @Override
    public void deleteSession(long id) {
      delete(sessions, longKey(id));
    }

    @Override
    public void putOutcome(String clientId, long requestId, long atMs, boolean aged, Result result) {
      put(outcomes, outcomeKey(clientId, requestId), OutcomeRecord.newBuilder().setClientId(clientId)
          .setRequestId(requestId).setAtMs(atMs).setAged(aged).setReply(Codec.toReply(result)).build().toByteArray());
    }

    @Override
    public void putClient(ClientMarks marks) {
      put(clients, utf8(marks.clientId()), Codec.client(marks).toByteArray());
    }

    @Override
    public void deleteClient(String clientId) {
      delete(clients, utf8(clientId));
    }

    @Override
    public void deleteOutcome(String clientId, long requestId) {
      delete(outcomes, outcomeKey(clientId, requestId));
    }

    @Override
    public void putMeta(Meta m) {
      tableMeta = m;
    }

    private void put(ColumnFamilyHandle cf, byte[] key, byte[] value) {
      try {
        batch.put(cf, key, value);
      } catch (RocksDBException e) {
        throw new IllegalStateException("RocksDB batch put failed: " + e.getMessage(), e);
      }
    }

    private void delete(ColumnFamilyHandle cf, byte[] key) {
      try {
        batch.delete(cf, key);
      } catch (RocksDBException e) {
        throw new IllegalStateException("RocksDB batch delete failed: " + e.getMessage(), e);
      }
    }

    /** Writes the batch with the applied position and the table's meta (current when not changed). */
    public void commit(long term, long index, Meta current) throws IOException {
      Meta m = tableMeta != null ? tableMeta : current;
      put(meta, META_KEY, Codec.meta(m, term, index).toByteArray());
      try {
        db.write(writeOptions, batch);
      } catch (RocksDBException e) {
        throw new IOException("RocksDB write failed: " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      batch.close();
    }
  }

  /**
   * Writes a consistent copy of the store into {@code target} (which must not exist): a RocksDB checkpoint,
   * hard links of the SST files after a flush of the memtables.
   */
  public void checkpoint(Path target) throws IOException {
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true); Checkpoint cp = Checkpoint.create(db)) {
      db.flush(flush, handles);
      cp.createCheckpoint(target.toString());
    } catch (RocksDBException e) {
      throw new IOException("RocksDB checkpoint to " + target + " failed: " + e.getMessage(), e);
    }
  }

  /** Replaces the whole store by a copy of the checkpoint in {@code source} (an installed snapshot). */
  public void replaceWith(Path source) throws IOException {
    closeDb();
    deleteRecursively(dir);
    Files.createDirectories(dir);
    try (Stream<Path> files = Files.list(source)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, dir.resolve(f.getFileName().toString()));
      }
    }
    openDb();
  }

  public static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** Bytes of the regular files under {@code root} (0 when it does not exist). */
  public static long sizeOf(Path root) throws IOException {
    if (root == null || !Files.exists(root)) {
      return 0;
    }
    long sum = 0;
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
        sum += Files.size(p);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return sum;
  }

  private void closeDb() {
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    handles.clear();
    if (db != null) {
      db.close();
      db = null;
    }
    if (cfOptions != null) {
      cfOptions.close();
    }
    if (dbOptions != null) {
      dbOptions.close();
    }
  }

  @Override
  public void close() {
    closeDb();
    writeOptions.close();
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] holderKey(String name, String key) {
    byte[] n = utf8(name);
    byte[] k = utf8(key);
    return ByteBuffer.allocate(n.length + 1 + k.length).put(n).put((byte) 0).put(k).array();
  }

  static byte[] waiterKey(String name, long seq) {
    byte[] n = utf8(name);
    return ByteBuffer.allocate(n.length + 9).put(n).put((byte) 0).putLong(seq).array();
  }

  static byte[] outcomeKey(String clientId, long requestId) {
    byte[] c = utf8(clientId);
    return ByteBuffer.allocate(c.length + 9).put(c).put((byte) 0).putLong(requestId).array();
  }

  static byte[] longKey(long id) {
    return ByteBuffer.allocate(8).putLong(id).array();
  }
}
