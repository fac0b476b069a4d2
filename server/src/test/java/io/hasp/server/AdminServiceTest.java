package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletionException;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.util.Preconditions;
import org.junit.jupiter.api.Test;

class AdminServiceTest {

  /**
   * Ratis' own check (the one its leader's sender list runs when a configuration change adds appenders) gives the
   * exception that addMember recognises as a stale appender for the node being added, and only for that node.
   */
  @Test
  void aSecondAppenderForTheAddedNodeIsRecognisedFromRatisOwnException() {
    IllegalStateException ratis = assertThrows(IllegalStateException.class, () -> Preconditions.assertUnique(
        List.of(RaftPeerId.valueOf("n2"), RaftPeerId.valueOf("n1")), List.of(RaftPeerId.valueOf("n1"))));
    assertTrue(AdminService.isStaleSender(ratis, "n1"), ratis.getMessage());
    assertTrue(AdminService.isStaleSender(new CompletionException(ratis), "n1"), "as the add's future carries it");
    assertFalse(AdminService.isStaleSender(ratis, "n"), "another node's id that is a prefix of n1");
    assertFalse(AdminService.isStaleSender(ratis, "n2"), "a node that is not the one added twice");
    assertFalse(AdminService.isStaleSender(new IllegalStateException("something else about n1"), "n1"));
  }
}
