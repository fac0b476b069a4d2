package io.hasp.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.util.Environment;

/** The kept copy of RocksDB's native library: extracted once, checked each time, replaced when damaged. */
class RocksNativeTest {
  @TempDir Path cache;

  private static List<Path> entries(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  @Test
  void extractsOnceAndReusesAnIntactCopy() throws Exception {
    Path dir = RocksNative.extract(cache);
    Path lib = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
    assertTrue(Files.size(lib) > 1_000_000, "the library: " + lib);
    assertEquals(List.of(lib), entries(dir), "no partial file is left");
    FileTime old = FileTime.fromMillis(1_000_000_000_000L);
    Files.setLastModifiedTime(lib, old);
    assertEquals(dir, RocksNative.extract(cache));
    assertEquals(old, Files.getLastModifiedTime(lib), "an intact copy is not written again");
  }

  @Test
  void replacesADamagedCopy() throws Exception {
    Path dir = RocksNative.extract(cache);
    Path lib = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
    byte[] good = Files.readAllBytes(lib);
    byte[] bad = good.clone();
    bad[bad.length / 2] ^= 1; // same size, one bit off: only the CRC tells
    Files.write(lib, bad);
    RocksNative.extract(cache);
    assertArrayEquals(good, Files.readAllBytes(lib));
    Files.write(lib, new byte[] {1, 2, 3}); // a cut-off copy
    RocksNative.extract(cache);
    assertArrayEquals(good, Files.readAllBytes(lib));
  }

  @Test
  void removesTheCopiesOfOtherBuilds() throws Exception {
    Path other = Files.createDirectories(cache.resolve("rocksdbjni-0badc0de-17"));
    Files.write(other.resolve("librocksdbjnijni-linux64.so"), new byte[17]);
    Path unrelated = Files.createDirectories(cache.resolve("keep-me"));
    Path dir = RocksNative.extract(cache);
    assertFalse(Files.exists(other));
    assertTrue(Files.exists(unrelated));
    assertEquals(List.of(unrelated, dir).stream().sorted().toList(), entries(cache));
  }
}
