package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A run's scratch directory under the temp dir ({@code hasp-chaos-<run>-…}), held through a file lock for as
 * long as the run lives. A directory whose lock can be taken belongs to a run that died (SIGKILL): the next run
 * removes it, and the chains, cgroups and containers named after that run. Runs that are alive are left alone.
 */
public final class Scratch implements AutoCloseable {
  static final String PREFIX = "hasp-chaos-";
  private final Path dir;
  private final FileChannel channel;
  private final FileLock lock;

  private Scratch(Path dir, FileChannel channel, FileLock lock) {
    this.dir = dir;
    this.channel = channel;
    this.lock = lock;
  }

  public static Scratch create(String run) throws IOException {
    Path dir = Files.createTempDirectory(PREFIX + run + "-");
    FileChannel ch = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    return new Scratch(dir, ch, ch.lock());
  }

  public Path dir() {
    return dir;
  }

  /** Whether a live process holds a scratch directory of this run. */
  public static boolean live(String run) {
    try (var dirs = Files.list(tmp())) {
      for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith(PREFIX + run + "-")).toList()) {
        if (held(d)) {
          return true;
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  /**
   * Whether another live process (not this JVM) holds this scratch directory: a concurrent run on the same
   * machine, whose directory is not a leftover of this one.
   */
  public static boolean heldByAnotherProcess(Path dir) {
    Path lockFile = dir.resolve(".lock");
    if (!Files.exists(lockFile)) {
      return false;
    }
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
      FileLock l = ch.tryLock();
      if (l == null) {
        return true;
      }
      l.release();
      return false;
    } catch (OverlappingFileLockException e) {
      return false; // held by this JVM: if it is still there at the end, it is this run's leftover
    } catch (IOException e) {
      return false;
    }
  }

  private static Path tmp() {
    return Path.of(System.getProperty("java.io.tmpdir"));
  }

  private static boolean held(Path dir) {
    Path lockFile = dir.resolve(".lock");
    if (!Files.exists(lockFile)) {
      return false;
    }
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
      FileLock l = ch.tryLock();
      if (l == null) {
        return true;
      }
      l.release();
      return false;
    } catch (OverlappingFileLockException e) {
      return true; // held by this JVM
    } catch (IOException e) {
      return false;
    }
  }

  /** Removes scratch directories of dead runs (stopping an orphaned dockerd first). */
  public static void sweepStale() {
    try (var dirs = Files.list(tmp())) {
      for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith(PREFIX) && Files.isDirectory(p)).toList()) {
        if (held(d)) {
          continue;
        }
        Path pidFile = d.resolve("dockerd.pid");
        if (Files.exists(pidFile)) {
          try {
            long pid = Long.parseLong(Files.readString(pidFile).trim());
            ProcessHandle.of(pid).ifPresent(p -> {
              p.destroy();
              p.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).exceptionally(x -> null).join();
            });
          } catch (IOException | NumberFormatException e) {
            // no engine
          }
        }
        DockerEngine.unmountUnder(d);
        LocalBackend.deleteTree(d);
      }
    } catch (IOException e) {
      // nothing to sweep
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      // the directory is gone already
    }
    LocalBackend.deleteTree(dir);
  }
}
