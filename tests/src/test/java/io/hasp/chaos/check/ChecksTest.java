package io.hasp.chaos.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.chaos.history.Fault;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.history.OpRecord.Outcome;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The run-level checkers on hand-written histories: ones that must pass and ones that must fail. */
class ChecksTest {
  static final long MS = 1_000_000L;
  static final long LEASE = 10_000 * MS;
  private final List<OpRecord> h = new ArrayList<>();
  private long ids;

  private void op(int p, String workload, String f, String lock, long size, long from, long to, Outcome o, long token,
      String value) {
    h.add(new OpRecord(++ids, p, workload, f, lock, size, from * MS, to < 0 ? -1 : to * MS, 0, o, token, value));
  }

  private void hold(int p, String lock, long acquire, long release, long token) {
    op(p, "mutex", "acquire", lock, 1, acquire, acquire + 2, Outcome.OK, token, "k" + token);
    op(p, "mutex", "release", lock, 1, release, release + 2, Outcome.OK, token, "");
  }

  private Verdict.Status lin() {
    return Checks.linearizability(h, LEASE, 500 * MS, 1_000_000).status();
  }

  @Test
  void handOverWithReadsPasses() {
    hold(1, "a", 0, 10, 5);
    op(3, "reads", "get-lock", "a", 1, 4, 6, Outcome.OK, 0, "5");
    op(3, "reads", "is-locked", "a", 1, 6, 8, Outcome.OK, 0, "true");
    hold(2, "a", 20, 30, 9);
    op(3, "reads", "get-lock", "a", 1, 14, 16, Outcome.OK, 0, "");
    assertEquals(Verdict.Status.PASS, lin());
    assertEquals(Verdict.Status.PASS, Checks.holders(h).status());
    assertEquals(Verdict.Status.PASS, Checks.fencing(h).status());
    assertEquals(Verdict.Status.PASS, Checks.readVisibility(h).status());
  }

  @Test
  void lostAcknowledgedGrantFails() {
    hold(1, "a", 0, 20, 5);
    op(3, "reads", "get-lock", "a", 1, 8, 10, Outcome.OK, 0, ""); // the grant is gone while p1 still holds it
    assertEquals(Verdict.Status.FAIL, lin());
    assertEquals(Verdict.Status.FAIL, Checks.readVisibility(h).status());
  }

  @Test
  void doubleGrantFailsEveryChecker() {
    hold(1, "a", 0, 20, 5);
    hold(2, "a", 5, 25, 7);
    op(1, "mutex", "write", "a", 1, 10, 10, Outcome.FAIL, 5, "rejected");
    h.sort((x, y) -> Long.compare(x.invokeNs(), y.invokeNs()));
    assertEquals(Verdict.Status.FAIL, lin());
    assertEquals(Verdict.Status.FAIL, Checks.holders(h).status());
    Verdict fencing = Checks.fencing(h);
    assertEquals(Verdict.Status.FAIL, fencing.status());
    assertTrue(fencing.findings().get(0).contains("two holders at once"), fencing.findings().toString());
  }

  @Test
  void expiredHoldThenNewGrantPasses() {
    // p1's session expired (its unlock says INVALID_KEY); p2 got the lock meanwhile; p1's stale write was refused.
    op(1, "mutex", "acquire", "a", 1, 0, 2, Outcome.OK, 5, "k5");
    op(2, "mutex", "acquire", "a", 1, 10, 12, Outcome.OK, 8, "k8");
    op(2, "mutex", "write", "a", 1, 13, 13, Outcome.OK, 8, "accepted");
    op(1, "mutex", "write", "a", 1, 14, 14, Outcome.FAIL, 5, "rejected");
    op(1, "mutex", "release", "a", 1, 15, 17, Outcome.FAIL, 5, "INVALID_KEY");
    op(2, "mutex", "release", "a", 1, 18, 19, Outcome.OK, 8, "");
    assertEquals(Verdict.Status.PASS, lin());
    assertEquals(Verdict.Status.PASS, Checks.fencing(h).status());
    assertEquals(Verdict.Status.PASS, Checks.holders(h).status());
  }

  @Test
  void tokenGoingBackwardsFails() {
    hold(1, "a", 0, 10, 9);
    hold(2, "a", 20, 30, 4);
    assertEquals(Verdict.Status.FAIL, lin());
    assertEquals(Verdict.Status.FAIL, Checks.fencing(h).status());
  }

  @Test
  void unknownAcquireOfARetiredProcessMayHaveHeld() {
    op(1, "mutex", "acquire", "a", 1, 0, -1, Outcome.UNKNOWN, 0, "NO_QUORUM");
    op(3, "reads", "is-locked", "a", 1, 5, 6, Outcome.OK, 0, "true"); // p1's hold, before its session ended
    hold(2, "a", 20, 30, 9);
    assertEquals(Verdict.Status.PASS, lin());
  }

  @Test
  void rateLimitAtMostSizeGrantsPerLease() {
    for (int i = 0; i < 3; i++) {
      op(i + 1, "lease", "acquire", "r", 3, i * 100, i * 100 + 5, Outcome.OK, 10 + i, "k");
    }
    op(4, "lease", "acquire", "r", 3, 400, 405, Outcome.FAIL, 0, "not-acquired");
    op(5, "lease", "acquire", "r", 3, 10_500, 10_505, Outcome.OK, 20, "k"); // after the first lease ran out
    assertEquals(Verdict.Status.PASS, lin());
    op(6, "lease", "acquire", "r", 3, 600, 605, Outcome.OK, 15, "k"); // a 4th grant inside the window
    h.sort((x, y) -> Long.compare(x.invokeNs(), y.invokeNs()));
    assertEquals(Verdict.Status.FAIL, lin());
  }

  @Test
  void availabilityCountsOnlyQuorumWindows() {
    op(1, "mutex", "acquire", "a", 1, 0, 2, Outcome.OK, 1, "k");
    op(1, "mutex", "release", "a", 1, 3, 4, Outcome.OK, 1, "");
    op(2, "mutex", "acquire", "b", 1, 10, -1, Outcome.UNKNOWN, 0, "NO_QUORUM");
    List<Fault> faults = List.of(new Fault("restart-all", "all", 9 * MS, 12 * MS, true));
    Verdict v = Checks.availability(h, faults, 0.9);
    assertEquals(Verdict.Status.PASS, v.status(), v.summary());
    assertTrue(v.findings().contains("longest time without any successful operation: 0.002 s, from 0.002 s to 0.004 s"
        + " (no fault active)"), v.findings().toString());
    assertEquals(Verdict.Status.FAIL, Checks.availability(h, List.of(), 0.9).status());
  }

  @Test
  void theLongestGapWhileAQuorumWasReachableLeavesOutTheQuorumLossWindows() {
    op(1, "reads", "is-locked", "a", 1, 0, 1, Outcome.OK, 0, "false");
    op(1, "reads", "is-locked", "a", 1, 1, 2, Outcome.OK, 0, "false");
    op(1, "reads", "is-locked", "a", 1, 2, 20, Outcome.OK, 0, "false"); // 18 ms across a restart-all
    op(1, "reads", "is-locked", "a", 1, 20, 25, Outcome.OK, 0, "false"); // 5 ms with a quorum
    op(1, "reads", "is-locked", "a", 1, 25, 26, Outcome.OK, 0, "false");
    List<Fault> faults = List.of(new Fault("restart-all", "all", 5 * MS, 15 * MS, true));
    Verdict v = Checks.availability(h, faults, 0.5);
    assertTrue(v.findings().contains("longest time without any successful operation: 0.018 s, from 0.002 s to 0.020 s"
        + " during restart-all (all)"), v.findings().toString());
    assertTrue(v.findings().contains("longest time without any successful operation while a quorum was reachable:"
        + " 0.005 s, from 0.020 s to 0.025 s (no fault active)"), v.findings().toString());
  }

  @Test
  void aHoldThatOutlivesItsAbandonFails() {
    // p1 holds; p2 starts a wait, gives it up at 10 and the client says it settled at 15
    hold(1, "x", 0, 20, 5);
    op(2, "cancel", "acquire", "x", 1, 5, -1, Outcome.UNKNOWN, 0, "abandoned");
    op(2, "cancel", "abandon", "x", 1, 10, 15, Outcome.OK, 0, "p2-a7");
    op(3, "reads", "get-lock", "x", 1, 12, 14, Outcome.OK, 0, "5/p1,9/p2-a7"); // before settle: allowed
    op(3, "reads", "get-lock", "x", 1, 16, 17, Outcome.OK, 0, "5/p1");
    assertEquals(Verdict.Status.PASS, Checks.abandons(h).status());
    op(3, "reads", "get-lock", "x", 1, 30, 31, Outcome.OK, 0, "9/p2-a7"); // after: the grant leaked
    Verdict v = Checks.abandons(h);
    assertEquals(Verdict.Status.FAIL, v.status());
    assertTrue(v.findings().get(0).contains("p2-a7"), v.findings().toString());
  }

  @Test
  void aForeverClientWithoutAGrantLongAfterALeaderKillFails() {
    List<Fault> faults = List.of(new Fault("kill-leader", "kill -9 n1", 100 * MS, 3_000 * MS, false));
    for (int slot = 0; slot < 2; slot++) {
      op(slot + 1, "forever", "acquire", "primary-0", 1, 0, 50, Outcome.OK, 10 + slot, "slot" + slot + " k");
      op(slot + 1, "forever", "release", "primary-0", 1, 60, 70, Outcome.OK, 10 + slot, "");
    }
    op(1, "forever", "acquire", "primary-0", 1, 200, 900, Outcome.OK, 20, "slot0 k");
    op(2, "forever", "acquire", "primary-0", 1, 200, 1_500, Outcome.OK, 21, "slot1 k");
    op(3, "reads", "is-locked", "primary-0", 1, 40_000, 40_001, Outcome.OK, 0, "false");
    assertEquals(Verdict.Status.PASS, Checks.failover(h, faults, 2_000 * MS).status());
    Verdict late = Checks.failover(h, faults, 1_000 * MS);
    assertEquals(Verdict.Status.FAIL, late.status());
    assertTrue(late.findings().get(0).contains("slot 1"), late.findings().toString());
  }

  @Test
  void aForeverLockThatReturnsAnErrorFails() {
    op(1, "forever", "acquire", "primary-0", 1, 0, 50, Outcome.OK, 10, "slot0 k");
    op(1, "forever", "acquire", "primary-0", 1, 100, 200, Outcome.FAIL, 0, "WAIT_CANCELLED"); // the harness stops
    assertEquals(Verdict.Status.PASS, Checks.failover(h, List.of(), 2_000 * MS).status());
    op(2, "forever", "acquire", "primary-0", 1, 60, -1, Outcome.UNKNOWN, 0, "NO_QUORUM");
    Verdict v = Checks.failover(h, List.of(), 2_000 * MS);
    assertEquals(Verdict.Status.FAIL, v.status());
    assertTrue(v.findings().get(0).contains("ended with NO_QUORUM"), v.findings().toString());
  }

  @Test
  void aForeverWorkloadWithoutAnyGrantFails() {
    op(1, "forever", "acquire", "primary-0", 1, 60, 900, Outcome.FAIL, 0, "NO_QUORUM");
    Verdict v = Checks.failover(h, List.of(), 2_000 * MS);
    assertEquals(Verdict.Status.FAIL, v.status());
    assertTrue(v.summary().contains("not one granted"), v.summary());
  }
}
