package io.hasp.chaos.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hasp.chaos.cluster.Backend.Pair;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which links a partition cuts. A bridge once cut its own bridge node off too: a total partition. */
class BackendCutTest {
  @Test
  void halvesCutEveryLinkAcross() {
    assertEquals(Set.of(new Pair(0, 2), new Pair(1, 2)), Backend.between(Set.of(0, 1), Set.of(2)));
    assertEquals(Set.of(new Pair(0, 2), new Pair(0, 3), new Pair(1, 2), new Pair(1, 3)),
        Backend.between(Set.of(0, 1), Set.of(2, 3)));
  }

  @Test
  void aBridgeNodeStaysConnectedToBothSides() {
    // n1 n3 | n2 n3: only n1-n2 is cut; n3 talks to both, so n1+n3 or n2+n3 is a majority
    assertEquals(Set.of(new Pair(0, 1)), Backend.between(Set.of(0, 2), Set.of(1, 2)));
    // five nodes: n1 n2 n5 | n3 n4 n5
    assertEquals(Set.of(new Pair(0, 2), new Pair(0, 3), new Pair(1, 2), new Pair(1, 3)),
        Backend.between(Set.of(0, 1, 4), Set.of(2, 3, 4)));
  }
}
