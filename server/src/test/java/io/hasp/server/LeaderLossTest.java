package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** A leader's process is gone when its Raft address refuses connections (the election itself: FailoverTest). */
class LeaderLossTest {
  @Test
  void onlyAnAddressWhereNothingListensCountsAsGone() throws Exception {
    String address;
    try (ServerSocket listening = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      address = "127.0.0.1:" + listening.getLocalPort();
      assertFalse(LeaderLoss.refused(address), "a listening leader is not gone");
    }
    assertTrue(LeaderLoss.refused(address), "nothing listens there any more");
    assertFalse(LeaderLoss.refused("not an address"), "an address that cannot be read proves nothing");
  }
}
