package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import org.apache.ratis.server.protocol.TermIndex;
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

  @Test
  void aSurvivorWithAShorterLogLeavesTheElectionToTheOneAhead() {
    List<String> survivors = List.of("n2", "n3");
    Map<String, TermIndex> answers = Map.of("n2", TermIndex.valueOf(3, 1500), "n3", TermIndex.valueOf(3, 1509));
    // n2 goes first by id, but its election could not win: n3 refuses a shorter log and moves to the next term
    assertEquals(-1, LeaderLoss.turn("n2", survivors, answers));
    assertEquals(0, LeaderLoss.turn("n3", survivors, answers));
    // the term counts before the index
    Map<String, TermIndex> newerTerm = Map.of("n2", TermIndex.valueOf(4, 10), "n3", TermIndex.valueOf(3, 1509));
    assertEquals(0, LeaderLoss.turn("n2", survivors, newerTerm));
    assertEquals(-1, LeaderLoss.turn("n3", survivors, newerTerm));
  }

  @Test
  void equalOrUnknownLogsTakeTurnsByIdAndANonVoterHasNone() {
    List<String> survivors = List.of("n1", "n2", "n4");
    Map<String, TermIndex> equal = Map.of("n1", TermIndex.valueOf(2, 7), "n2", TermIndex.valueOf(2, 7),
        "n4", TermIndex.valueOf(2, 7));
    assertEquals(0, LeaderLoss.turn("n1", survivors, equal));
    assertEquals(1, LeaderLoss.turn("n2", survivors, equal));
    assertEquals(2, LeaderLoss.turn("n4", survivors, equal));
    // n1 did not answer (paused, cut off): it keeps its place; one behind drops out of the order
    Map<String, TermIndex> n1Silent = Map.of("n2", TermIndex.valueOf(2, 7), "n4", TermIndex.valueOf(2, 6));
    assertEquals(1, LeaderLoss.turn("n2", survivors, n1Silent));
    assertEquals(-1, LeaderLoss.turn("n4", survivors, n1Silent));
    assertEquals(-1, LeaderLoss.turn("n3", survivors, Map.of("n3", TermIndex.valueOf(2, 7))), "not a survivor");
  }
}
