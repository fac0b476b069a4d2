package io.hasp.statemachine;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads RocksDB's JNI library from a copy kept next to the store. RocksJava's own loader inflates the 17 MB library
 * from its jar into a new temporary file on every start (~0.2 s of a node's start on a 2-core machine) and, when the
 * process is killed rather than stopped, leaves that file behind: every kill -9 of a node left 17 MB in /tmp. The
 * copy here is extracted once per RocksDB build (its directory is named by the jar entry's CRC-32 and size), checked
 * against that CRC at each start, replaced when it does not match, and older builds' copies are removed. Anything
 * unexpected (no such entry, an unwritable directory, a load that fails) falls back to RocksJava's loader.
 */
final class RocksNative {
  private static final Logger LOG = LoggerFactory.getLogger(RocksNative.class);
  private static final String DIR_PREFIX = "rocksdbjni-";
  private static boolean loaded;

  private RocksNative() {}

  /** Loads the library (once per JVM), keeping its copy under {@code cacheDir}. */
  static synchronized void load(Path cacheDir) {
    if (loaded) {
      return;
    }
    try {
      RocksDB.loadLibrary(List.of(extract(cacheDir).toString()));
    } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
      LOG.warn("RocksDB's native library could not be kept in {} ({}): extracting it to a temporary file", cacheDir,
          e.toString());
      RocksDB.loadLibrary();
    }
    loaded = true;
  }

  /** The directory under {@code cacheDir} that holds a checked copy of the library (extracted when it does not). */
  static Path extract(Path cacheDir) throws IOException {
    // the entry RocksJava's loader extracts, and the file name its loadLibrary(paths) looks for in a directory
    String entry = Environment.getJniLibraryFileName("rocksdb");
    String fileName = Environment.getJniLibraryFileName("rocksdbjni");
    URL url = RocksDB.class.getClassLoader().getResource(entry);
    if (url == null) {
      throw new IOException("no " + entry + " next to RocksDB's classes");
    }
    URLConnection connection = url.openConnection();
    if (!(connection instanceof JarURLConnection jar)) {
      throw new IOException(entry + " is not in a jar: " + url);
    }
    JarEntry e = jar.getJarEntry();
    long crc = e.getCrc();
    long size = e.getSize();
    if (crc < 0 || size < 0) {
      throw new IOException("the jar does not record the CRC and size of " + entry);
    }
    String dirName = DIR_PREFIX + String.format("%08x-%d", crc, size);
    Path dir = cacheDir.resolve(dirName);
    Path lib = dir.resolve(fileName);
    if (!matches(lib, crc, size)) {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, fileName, ".part");
      try {
        try (InputStream in = connection.getInputStream()) {
          Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        if (!matches(tmp, crc, size)) {
          throw new IOException("the copy of " + entry + " does not match its CRC in the jar");
        }
        Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
      LOG.info("RocksDB's native library extracted to {}", lib);
      removeOthers(cacheDir, dirName);
    }
    return dir;
  }

  private static boolean matches(Path file, long crc, long size) throws IOException {
    if (!Files.isRegularFile(file) || Files.size(file) != size) {
      return false;
    }
    CRC32 c = new CRC32();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        c.update(buf, 0, n);
      }
    }
    return c.getValue() == crc;
  }

  /** Removes the copies of other RocksDB builds (best effort: a leftover costs only disk). */
  private static void removeOthers(Path cacheDir, String keep) {
    try (Stream<Path> dirs = Files.list(cacheDir)) {
      for (Path d : (Iterable<Path>) dirs::iterator) {
        String n = d.getFileName().toString();
        if (n.startsWith(DIR_PREFIX) && !n.equals(keep)) {
          LockStore.deleteRecursively(d);
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.debug("could not remove old copies of RocksDB's native library in {}: {}", cacheDir, e.toString());
    }
  }
}
