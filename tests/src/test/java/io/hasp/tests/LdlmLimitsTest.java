package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node serves at most {@code ldlm.connections.max} LDLM connections: calls on one more are refused with
 * RESOURCE_EXHAUSTED naming the key (no session is opened for it), and a freed place is taken again.
 */
class LdlmLimitsTest {
  @TempDir Path dir;

  @Test
  void connectionsBeyondTheLimitAreRefusedClearly() throws Exception {
    int port = FreePorts.loopback(1)[0];
    String at = "127.0.0.1:" + port;
    try (SecureCluster c = SecureCluster.start(1, dir, i -> Map.of("ldlm.address", at, "ldlm.connections.max", "2"))) {
      LdlmWireClient one = LdlmWireClient.plaintext(at);
      LdlmWireClient two = LdlmWireClient.plaintext(at);
      LdlmWireClient three = LdlmWireClient.plaintext(at);
      try {
        assertTrue(one.tryLock("limit-a").getLocked());
        assertTrue(two.tryLock("limit-b").getLocked());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> three.tryLock("limit-c"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.toString());
        assertTrue(e.getStatus().getDescription().contains("ldlm.connections.max"), e.toString());
        assertEquals(2, c.status(0).getStats().getSessions(), "no session for the refused connection");
        one.close();
        LdlmClusterTest.await(java.time.Duration.ofSeconds(10), "the closed connection's session ends",
            () -> c.status(0).getStats().getSessions() == 1);
        try (LdlmWireClient four = LdlmWireClient.plaintext(at)) {
          assertTrue(four.tryLock("limit-a").getLocked(), "the freed place is taken by a new connection");
        }
      } finally {
        one.close();
        two.close();
        three.close();
      }
    }
  }
}
