package io.hasp.tests;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** Base of test classes whose tests share one real 3-node cluster (each test uses its own lock names). */
abstract class SharedClusterTest {
  @TempDir static Path dir;
  static ProcessCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = ProcessCluster.start(3, dir);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }
}
