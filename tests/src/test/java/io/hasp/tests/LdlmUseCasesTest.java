package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.sun.net.httpserver.HttpServer;
import io.hasp.tests.ldlmwire.LockRequest;
import io.hasp.tests.ldlmwire.LockResponse;
import io.hasp.tests.ldlmwire.TryLockRequest;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, acceptance 4: LDLM's own use cases, written as an LDLM client writes them (LDLM's "Use Cases" page),
 * against a replicated cluster: primary/backup failover, task locking, a size-10 resource limit, a client-side rate
 * limit (size N, a lock timeout as the window, never unlocked) and a server-side rate limit (429 when try-lock
 * fails).
 */
class LdlmUseCasesTest extends LdlmClusterTest {
  @BeforeAll
  static void start() throws Exception {
    startCluster(Map.of());
  }

  /** Each instance blocks in Lock("...-primary"); when the primary's process ends, the backup takes over. */
  @Test
  void failover() throws Exception {
    String n = name("application-primary");
    LdlmWireClient first = client(0);
    LdlmWireClient second = client(1);
    LockResponse primary = first.lock(n);
    assertTrue(primary.getLocked(), "first instance became primary");
    ListenableFuture<LockResponse> backup = second.futureStub().lock(LockRequest.newBuilder().setName(n).build());
    await(Duration.ofSeconds(10), "the backup waits", () -> waiters(n) == 1);
    assertFalse(backup.isDone(), "the backup must not become primary while the primary lives");
    long endedAt = System.nanoTime();
    first.close(); // "Lock will be unlocked when this process ends."
    assertTrue(backup.get(10, TimeUnit.SECONDS).getLocked(), "backup became primary");
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - endedAt);
    assertTrue(ms <= 2_000, "the backup took over " + ms + " ms after the primary ended");
  }

  /** Workers try-lock each work item; an item in progress is skipped by the others. */
  @Test
  void taskLocking() {
    String item = name("work-item-42");
    LdlmWireClient worker1 = client(0);
    LdlmWireClient worker2 = client(2);
    LockResponse running = worker1.tryLock(item);
    assertTrue(running.getLocked());
    LockResponse skipped = worker2.tryLock(item);
    assertFalse(skipped.getLocked(), "already in progress: worker 2 skips it");
    assertFalse(skipped.hasError(), skipped.toString());
    assertTrue(worker1.unlock(item, running.getKey()).getUnlocked()); // job done
    LockResponse next = worker2.tryLock(item);
    assertTrue(next.getLocked(), "the next time the item comes round, worker 2 may run it");
    assertTrue(worker2.unlock(item, next.getKey()).getUnlocked());
  }

  /** 25 clients share a resource of 10 slots: Lock(name, size=10) blocks until a slot is free. */
  @Test
  void resourceLimitOfTen() throws Exception {
    String n = name("ElasticSearchSlot");
    int jobs = 25;
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(jobs);
    try {
      List<Future<?>> all = new ArrayList<>();
      for (int j = 0; j < jobs; j++) {
        LdlmWireClient c = client(j % 3);
        all.add(pool.submit(() -> {
          LockResponse slot = c.lock(LockRequest.newBuilder().setName(n).setSize(10).build());
          assertTrue(slot.getLocked(), slot.toString());
          maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
          go.await(60, TimeUnit.SECONDS); // the first ten stay inside until the test has looked
          ProcessCluster.sleep(50);
          inside.decrementAndGet();
          assertTrue(c.unlock(n, slot.getKey()).getUnlocked());
          done.incrementAndGet();
          return null;
        }));
      }
      await(Duration.ofSeconds(30), "10 slots taken, 15 waiting", () -> holders(n) == 10 && waiters(n) == 15);
      assertEquals(10, inside.get());
      go.countDown();
      for (Future<?> f : all) {
        f.get(60, TimeUnit.SECONDS);
      }
      assertEquals(jobs, done.get());
      assertEquals(10, maxInside.get(), "never more than 10 inside");
    } finally {
      pool.shutdownNow();
    }
  }

  /** At most 5 calls per 3 s window: Lock(size=5, lock_timeout_seconds=3), never unlocked. */
  @Test
  void clientSideRateLimit() {
    String n = name("RateLimitExpensiveService");
    LdlmWireClient podA = client(1);
    LdlmWireClient podB = client(2);
    long start = System.nanoTime();
    List<Long> grantedAtMs = new ArrayList<>();
    for (int call = 0; call < 8; call++) {
      LdlmWireClient pod = call % 2 == 0 ? podA : podB;
      LockResponse r = pod.lock(LockRequest.newBuilder().setName(n).setSize(5).setLockTimeoutSeconds(3).build());
      assertTrue(r.getLocked(), r.toString());
      grantedAtMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      // no unlock: the lock times out after 3 s, which is the rate window
    }
    // the sixth call waited for the first one's window to pass
    assertTrue(grantedAtMs.get(5) - grantedAtMs.get(0) >= 2_500, "6 calls within one 3 s window: " + grantedAtMs);
    assertTrue(grantedAtMs.get(4) < 2_500, "the first 5 calls were not limited: " + grantedAtMs);
  }

  /** An HTTP endpoint answers 429 when try-lock(size=5, lock_timeout_seconds=60) fails. */
  @Test
  void serverSideRateLimit() throws Exception {
    String n = name("GenerateAIImage");
    LdlmWireClient client = client(2);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.createContext("/image", exchange -> {
      LockResponse lock = client.tryLock(TryLockRequest.newBuilder().setName(n).setSize(5).setLockTimeoutSeconds(60)
          .build());
      byte[] body = (lock.getLocked() ? "image" : "Too Many Requests").getBytes();
      exchange.sendResponseHeaders(lock.getLocked() ? 200 : 429, body.length);
      exchange.getResponseBody().write(body);
      exchange.close(); // no unlock: the 60 s lock timeout is the rate window
    });
    server.start();
    try {
      HttpClient http = HttpClient.newHttpClient();
      List<Integer> codes = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        codes.add(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getAddress().getPort()
            + "/image")).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
      }
      assertEquals(List.of(200, 200, 200, 200, 200, 429, 429, 429), codes);
    } finally {
      server.stop(0);
    }
  }
}
