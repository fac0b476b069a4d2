package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SortedTest {
  private record Item(long time, int position) {}

  /** Both ways of {@link Sorted#stableByTime} (packed longs, and a comparator past 2^40 ms) keep ties in order. */
  @Test
  void stableByTimeKeepsTheOrderOfEqualTimes() {
    Random random = new Random(11);
    for (long span : new long[] {1, 50, 1L << 39, 1L << 41, Long.MAX_VALUE / 2}) {
      List<Item> items = new ArrayList<>();
      for (int i = 0; i < 5_000; i++) {
        long t = span == 1 ? 7 : (random.nextLong() & Long.MAX_VALUE) % span;
        items.add(new Item(i % 3 == 0 ? 42 : t, i)); // a third share one time
      }
      List<Item> expected = new ArrayList<>(items);
      expected.sort(Comparator.comparingLong(Item::time)); // stable
      assertEquals(expected, Sorted.stableByTime(items, Item::time), "span " + span);
    }
    assertEquals(List.of(), Sorted.stableByTime(new ArrayList<Item>(), Item::time));
  }

  @Test
  void sortIfNeededSortsAndRefusesTwins() {
    List<String> sorted = new ArrayList<>(List.of("a", "b", "c"));
    Sorted.sortIfNeeded(sorted, s -> s);
    assertEquals(List.of("a", "b", "c"), sorted);
    List<String> shuffled = new ArrayList<>(List.of("c", "a", "b"));
    Sorted.sortIfNeeded(shuffled, s -> s);
    assertEquals(List.of("a", "b", "c"), shuffled);
    assertThrows(IllegalStateException.class, () -> Sorted.sortIfNeeded(new ArrayList<>(List.of("b", "a", "b")),
        s -> s));
  }
}
