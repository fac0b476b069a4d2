package io.hasp.chaos.nemesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class NemesisPlanTest {
  @Test
  void sameSeedSameSchedule() {
    assertEquals(Nemesis.plan(42, Nemesis.ALL, 600_000), Nemesis.plan(42, Nemesis.ALL, 600_000));
    assertNotEquals(Nemesis.plan(42, Nemesis.ALL, 600_000), Nemesis.plan(43, Nemesis.ALL, 600_000));
  }

  @Test
  void twoMinutesFitEveryKindForAnySeed() {
    for (long seed = 0; seed < 500; seed++) {
      List<Nemesis.Step> plan = Nemesis.plan(seed, Nemesis.ALL, 120_000);
      Set<String> kinds = plan.stream().map(Nemesis.Step::kind).collect(Collectors.toSet());
      assertEquals(Set.copyOf(Nemesis.ALL), kinds, "seed " + seed);
      Nemesis.Step last = plan.get(plan.size() - 1);
      assertTrue(last.atMs() + last.durationMs() <= 110_000, "seed " + seed + " leaves no time to recover");
    }
  }

  @Test
  void faultsDoNotOverlap() {
    List<Nemesis.Step> plan = Nemesis.plan(7, Nemesis.ALL, 600_000);
    for (int i = 1; i < plan.size(); i++) {
      Nemesis.Step a = plan.get(i - 1);
      assertTrue(a.atMs() + a.durationMs() < plan.get(i).atMs());
    }
  }
}
