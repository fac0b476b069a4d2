package io.hasp.chaos.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Clock offsets through libfaketime, the same way on both backends: the node reads its offset from a control
 * file (re-read about every second) and monotonic time stays real, so the offset can change while it runs.
 */
final class Faketime {
  static final String LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

  private Faketime() {}

  /** The environment that makes a JVM take its wall clock offset from {@code controlFile}. */
  static Map<String, String> env(String controlFile) {
    // Without FORCE_MONOTONIC_FIX=0, sleeps run 1.4-1.6x too long (CHAOS-NOTES).
    return Map.of("LD_PRELOAD", LIB, "FAKETIME_TIMESTAMP_FILE", controlFile, "FAKETIME_CACHE_DURATION", "1",
        "FAKETIME_DONT_FAKE_MONOTONIC", "1", "FAKETIME_FORCE_MONOTONIC_FIX", "0");
  }

  /** Writes an offset (ms, 0 = real time) to a control file atomically, so a node never reads half of it. */
  static void write(Path controlFile, long offsetMs) throws IOException {
    Path tmp = controlFile.resolveSibling(controlFile.getFileName() + ".tmp");
    Files.writeString(tmp, (offsetMs >= 0 ? "+" : "") + offsetMs / 1000.0 + "s\n");
    Files.move(tmp, controlFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
