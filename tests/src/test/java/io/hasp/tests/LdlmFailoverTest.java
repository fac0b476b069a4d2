package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.hasp.proto.GetLockResponse;
import io.hasp.tests.ldlmwire.LockRequest;
import io.hasp.tests.ldlmwire.LockResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, acceptance 3: the leader is killed while LDLM clients hold and wait for locks. Lock A is held through
 * the leader, lock B through a follower; each has waiters queued one after another through every node. After the
 * kill: B's holder keeps its lock through the failover (its session lives on its node) and nobody else gets B
 * meanwhile; A is released when its holder's session expires; every waiter that is still connected is granted in
 * the order it queued, one at a time (no client is ever inside while another is), with increasing fencing tokens.
 */
class LdlmFailoverTest extends LdlmClusterTest {
  private static final ExecutorService WORK = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "ldlm-failover-client");
    t.setDaemon(true);
    return t;
  });

  @BeforeAll
  static void start() throws Exception {
    startCluster(Map.of());
  }

  @AfterAll
  static void stopWork() {
    WORK.shutdownNow();
  }

  /** What the clients of one lock saw: who was granted, in which order, and how many were inside at once. */
  static final class Recorder {
    final String name;
    final List<Integer> granted = Collections.synchronizedList(new ArrayList<>());
    final List<Long> tokens = Collections.synchronizedList(new ArrayList<>());
    /** Holders Hasp showed while each granted client was inside (must be 1 each time). */
    final List<Integer> holdersSeen = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger inside = new AtomicInteger();
    final AtomicInteger maxInside = new AtomicInteger();

    Recorder(String name) {
      this.name = name;
    }

    void enter(int who) {
      maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
      granted.add(who);
      GetLockResponse g = get(name);
      holdersSeen.add(g.getLock().getHolderCount());
      tokens.add(g.getLock().getHolders(0).getToken());
    }

    void exit() {
      inside.decrementAndGet();
    }
  }

  /** Queues a Lock of {@code name} through node {@code node}; once granted the client works a moment and unlocks. */
  private ListenableFuture<LockResponse> queue(Recorder r, int who, int node, int expectedWaiters) {
    LdlmWireClient c = client(node);
    ListenableFuture<LockResponse> f = c.futureStub().lock(LockRequest.newBuilder().setName(r.name).build());
    await(Duration.ofSeconds(10), "waiter " + who + " of " + r.name + " queued", () -> waiters(r.name) == expectedWaiters);
    f.addListener(() -> {
      try {
        LockResponse granted = f.get();
        if (!granted.getLocked()) {
          return;
        }
        r.enter(who);
        ProcessCluster.sleep(200); // the work done under the lock
        r.exit();
        c.unlock(r.name, granted.getKey());
      } catch (Exception e) {
        // this client's node died: it never held the lock
      }
    }, WORK);
    return f;
  }

  @Test
  void leaderKilledWhileClientsHoldAndWait() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    int f1 = (leader + 1) % 3;
    int f2 = (leader + 2) % 3;
    Recorder a = new Recorder(name("failover-a"));
    Recorder b = new Recorder(name("failover-b"));
    LdlmWireClient holderA = client(leader);
    LdlmWireClient holderB = client(f1);
    assertTrue(holderA.lock(a.name).getLocked());
    LockResponse heldB = holderB.lock(b.name);
    assertTrue(heldB.getLocked());

    int[] nodesA = {f1, f2, leader, f1, f2};
    List<ListenableFuture<LockResponse>> waitingA = new ArrayList<>();
    for (int k = 0; k < nodesA.length; k++) {
      waitingA.add(queue(a, k, nodesA[k], k + 1));
    }
    int[] nodesB = {f2, f1, f2};
    for (int k = 0; k < nodesB.length; k++) {
      queue(b, k, nodesB[k], k + 1);
    }

    cluster.kill(leader);
    int newLeader = cluster.leaderIndex(Duration.ofSeconds(30));
    assertTrue(newLeader != leader);
    // A's holder was connected to the killed node: its session expires, and A's first live waiter gets A
    await(TTL.plusSeconds(20), "A's first waiter is granted after its holder's node died", () -> !a.granted.isEmpty());
    // by now B's holder, connected to a live follower, has kept B through the failover and the TTL
    assertTrue(b.granted.isEmpty(), "B granted while its holder lives: " + b.granted);
    assertEquals(1, holders(b.name));
    assertTrue(holderB.unlock(b.name, heldB.getKey()).getUnlocked(), "B's holder still holds B after the failover");

    await(Duration.ofSeconds(60), "every live waiter of A and B is granted", () -> a.granted.size() == 4
        && b.granted.size() == 3 && a.inside.get() == 0 && b.inside.get() == 0);
    assertEquals(List.of(0, 1, 3, 4), a.granted, "A granted in queue order (waiter 2 died with the leader)");
    assertEquals(List.of(0, 1, 2), b.granted, "B granted in queue order");
    assertEquals(1, a.maxInside.get(), "two clients inside A at once");
    assertEquals(1, b.maxInside.get(), "two clients inside B at once");
    for (Recorder r : List.of(a, b)) {
      assertTrue(r.holdersSeen.stream().allMatch(h -> h == 1), "holders of " + r.name + " seen: " + r.holdersSeen);
      for (int k = 1; k < r.tokens.size(); k++) {
        assertTrue(r.tokens.get(k) > r.tokens.get(k - 1), "fencing tokens of " + r.name + ": " + r.tokens);
      }
    }
    // the waiter that queued through the killed leader was never granted; its call failed with its connection
    assertThrows(ExecutionException.class, () -> waitingA.get(2).get(10, TimeUnit.SECONDS));
    await(Duration.ofSeconds(20), "A and B are free and nobody waits", () -> !get(a.name).getExists()
        && !get(b.name).getExists());
  }
}
