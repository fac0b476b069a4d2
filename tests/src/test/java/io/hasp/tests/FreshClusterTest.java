package io.hasp.tests;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** Base of test classes whose tests each start (and break) their own cluster; it is stopped after each test. */
abstract class FreshClusterTest {
  @TempDir Path dir;
  ProcessCluster cluster;

  @AfterEach
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }
}
