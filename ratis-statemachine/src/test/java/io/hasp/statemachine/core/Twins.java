package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

/**
 * A table and its copy restored from the recorded store; {@link #apply} feeds both the same command and checks
 * that they answer, report and store exactly the same.
 */
final class Twins {
  final Harness original;
  final Harness restored;

  private Twins(Harness original, Harness restored) {
    this.original = original;
    this.restored = restored;
  }

  /** Restores {@code original}'s recorded store into a fresh table (restore calls shuffled by {@code seed}). */
  static Twins of(Harness original, long seed) {
    Harness copy = new Harness();
    copy.rec = original.rec.copyStore();
    copy.table = original.rec.restore(new Random(seed));
    copy.index = original.index;
    copy.term = original.term;
    copy.now = original.now;
    copy.client = original.client;
    copy.nextRequestId = original.nextRequestId;
    copy.fullCheckEvery = original.fullCheckEvery;
    copy.rec.assertMatches(copy.table);
    original.rec.assertMatches(original.table);
    assertEquals(Harness.state(original.table), Harness.state(copy.table), "restored state differs");
    return new Twins(original, copy);
  }

  Result apply(Command command) {
    Result a = original.apply(command);
    Result b = restored.apply(command);
    String what = "after " + command;
    assertEquals(a, b, "results differ " + what);
    assertEquals(original.rec.events, restored.rec.events, "events differ " + what);
    assertEquals(original.rec.sortedOps(), restored.rec.sortedOps(), "record changes differ " + what);
    assertStoresEqual(original.rec, restored.rec, what);
    assertEquals(Harness.state(original.table), Harness.state(restored.table), "state differs " + what);
    return a;
  }

  static void assertStoresEqual(Recorder a, Recorder b, String what) {
    assertEquals(a.locks, b.locks, "stored locks differ " + what);
    assertEquals(a.holders, b.holders, "stored holders differ " + what);
    assertEquals(a.waiters, b.waiters, "stored waiters differ " + what);
    assertEquals(a.sessions, b.sessions, "stored sessions differ " + what);
    assertEquals(a.outcomes, b.outcomes, "stored outcomes differ " + what);
    assertEquals(a.clients, b.clients, "stored client marks differ " + what);
    assertEquals(a.meta, b.meta, "stored meta differs " + what);
  }
}
