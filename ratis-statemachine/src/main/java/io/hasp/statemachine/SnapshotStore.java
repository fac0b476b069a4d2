package io.hasp.statemachine;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;

/**
 * Snapshots as directories {@code snapshot.<term>_<index>/} of a RocksDB checkpoint, inside a snapshot
 * directory that holds nothing else (Ratis replaces it wholesale when it installs a snapshot from the leader).
 * A snapshot directory appears atomically: it is written under a temporary name and renamed.
 *
 * <p>The file list of a snapshot is given to Ratis as absolute paths (it sends them relative to
 * {@link #getSnapshotDir()}), with MD5 digests,
 * so a lagging follower receives and verifies every file.
 */
public final class SnapshotStore implements StateMachineStorage {
  private static final Pattern NAME = Pattern.compile("snapshot\\.(\\d+)_(\\d+)");

  private final Path snapshotDir;
  private final Path tmpDir;
  private volatile FileListSnapshotInfo latest;
  private static final int DIGESTS_MAX = 100_000;
  private final java.util.Map<String, MD5Hash> digests = new java.util.concurrent.ConcurrentHashMap<>();

  public SnapshotStore(Path snapshotDir, Path tmpDir) {
    this.snapshotDir = snapshotDir;
    this.tmpDir = tmpDir;
  }

  @Override
  public void init(RaftStorage raftStorage) throws IOException {
    Files.createDirectories(snapshotDir);
    Files.createDirectories(tmpDir);
    reload();
  }

  /** Rescans the snapshot directory (after start or after Ratis installed a snapshot into it). */
  public void reload() throws IOException {
    Files.createDirectories(snapshotDir);
    Path best = null;
    TermIndex bestTi = null;
    try (Stream<Path> dirs = Files.list(snapshotDir)) {
      for (Path p : (Iterable<Path>) dirs::iterator) {
        TermIndex ti = parse(p);
        if (ti != null && Files.isDirectory(p) && (bestTi == null || ti.compareTo(bestTi) > 0)) {
          best = p;
          bestTi = ti;
        }
      }
    }
    latest = best == null ? null : describe(best, bestTi);
  }

  static TermIndex parse(Path p) {
    Matcher m = NAME.matcher(p.getFileName().toString());
    return m.matches() ? TermIndex.valueOf(Long.parseLong(m.group(1)), Long.parseLong(m.group(2))) : null;
  }

  public static String dirName(long term, long index) {
    return "snapshot." + term + "_" + index;
  }

  /** The directory of the latest snapshot, or null. */
  public Path latestDir() {
    FileListSnapshotInfo l = latest;
    return l == null ? null : snapshotDir.resolve(dirName(l.getTerm(), l.getIndex()));
  }

  /**
   * Creates snapshot (term, index) by letting {@code writer} fill a fresh temporary directory, then renaming
   * it into place. Returns false when that snapshot already exists.
   */
  public boolean create(long term, long index, DirectoryWriter writer) throws IOException {
    Path target = snapshotDir.resolve(dirName(term, index));
    if (Files.exists(target)) {
      return false;
    }
    Files.createDirectories(tmpDir);
    Path staging = tmpDir.resolve("creating-" + dirName(term, index));
    LockStore.deleteRecursively(staging);
    writer.write(staging);
    Files.move(staging, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    latest = describe(target, TermIndex.valueOf(term, index));
    return true;
  }

  /** Fills a directory that does not exist yet. */
  public interface DirectoryWriter {
    void write(Path dir) throws IOException;
  }

  private FileListSnapshotInfo describe(Path dir, TermIndex ti) throws IOException {
    List<FileInfo> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) walk.filter(Files::isRegularFile).sorted()::iterator) {
        files.add(new FileInfo(f.toAbsolutePath(), md5(f)));
      }
    }
    return new FileListSnapshotInfo(files, ti);
  }

  /**
   * RocksDB's table files never change once written, and a checkpoint hard-links them: consecutive snapshots
   * share most files, so their digests are computed once per file (keyed by the file's identity, size and
   * modification time) rather than re-reading the whole store for every snapshot.
   */
  private MD5Hash md5(Path f) throws IOException {
    java.nio.file.attribute.BasicFileAttributes a =
        Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class);
    if (a.fileKey() == null || !f.getFileName().toString().endsWith(".sst")) {
      return MD5FileUtil.computeMd5ForFile(f.toFile());
    }
    String key = a.fileKey() + "/" + a.size() + "/" + a.lastModifiedTime().toMillis();
    MD5Hash known = digests.get(key);
    if (known != null) {
      return known;
    }
    MD5Hash computed = MD5FileUtil.computeMd5ForFile(f.toFile());
    if (digests.size() >= DIGESTS_MAX) {
      digests.clear();
    }
    digests.put(key, computed);
    return computed;
  }

  @Override
  public SnapshotInfo getLatestSnapshot() {
    return latest;
  }

  @Override
  public void format() throws IOException {
    LockStore.deleteRecursively(snapshotDir);
    Files.createDirectories(snapshotDir);
    latest = null;
  }

  @Override
  public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
    int keep = policy == null ? 2 : policy.getNumSnapshotsRetained();
    if (keep <= 0) {
      return;
    }
    List<Path> all = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(snapshotDir)) {
      dirs.filter(p -> parse(p) != null).forEach(all::add);
    }
    all.sort(Comparator.comparing(SnapshotStore::parse).reversed());
    for (int i = keep; i < all.size(); i++) {
      LockStore.deleteRecursively(all.get(i));
    }
  }

  @Override
  public File getSnapshotDir() {
    return snapshotDir.toFile();
  }

  @Override
  public File getTmpDir() {
    return tmpDir.toFile();
  }
}
