package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LeaderContactTest {

  @Test
  void aLeaderIsInTouchWhileAMajorityAnswers() {
    // 3 nodes: the leader and one follower are a majority
    assertEquals(120, LeaderContact.majorityElapsedMs(new long[] {9_000, 120}));
    // isolated: both followers silent; the nearer one tells how long the majority has been gone
    assertEquals(1_400, LeaderContact.majorityElapsedMs(new long[] {1_600, 1_400}));
    // 5 nodes: the leader and two followers
    assertEquals(300, LeaderContact.majorityElapsedMs(new long[] {4_000, 300, 5_000, 100}));
    assertEquals(3_000, LeaderContact.majorityElapsedMs(new long[] {4_000, 3_000, 5_000, 100}));
    // a group of one is always in touch with itself
    assertEquals(0, LeaderContact.majorityElapsedMs(new long[0]));
  }
}
