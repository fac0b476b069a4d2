package io.hasp.chaos.workload;

import io.hasp.chaos.history.History;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.history.OpRecord.Outcome;
import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.LockInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The clients: logical processes, each with its own {@link HaspClient} (so its own session), running one of
 * the workloads in a loop and recording every operation to the {@link History}:
 * <ul>
 *   <li><b>mutex</b>: lock (wait ≤ 1.5 s) or tryLock, write the fencing token to the lock's {@link FencedRegister},
 *       unlock. Locks {@code mutex-<gen>-<k>}, two at a time.</li>
 *   <li><b>semaphore</b>: the same on one lock of size 3, without the register.</li>
 *   <li><b>lease</b>: tryLock of size 3 with a lease and no session, never unlocked (the rate limit).</li>
 *   <li><b>reads</b>: isLocked and getLock on the locks the others use.</li>
 * </ul>
 * Lock names change every few seconds ({@code gen}) so that each lock's history stays small enough for the
 * linearizability search. A process whose operation ended with an unknown outcome retires: its client is
 * closed (ending its session, so a hold it may have got ends too) and a new process number takes its place,
 * as Jepsen does with crashed processes.
 */
public final class Workload {
  /** Lease of the rate-limit workload, and its lock size. */
  public static final Duration LEASE = Duration.ofSeconds(10);
  public static final int LEASE_SIZE = 3;
  public static final int SEMAPHORE_SIZE = 3;
  static final long MUTEX_GEN_NS = TimeUnit.SECONDS.toNanos(10);
  static final long LEASE_GEN_NS = TimeUnit.SECONDS.toNanos(40);

  private final History history;
  private final List<String> endpoints;
  private final Set<String> kinds;
  private final long seed;
  private final Duration sessionTtl;
  private final AtomicInteger processIds = new AtomicInteger();
  private final Map<String, FencedRegister> registers = new ConcurrentHashMap<>();
  private final List<Thread> threads = new ArrayList<>();
  private final ExecutorService closer = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "chaos-client-closer");
    t.setDaemon(true);
    return t;
  });
  private volatile boolean running = true;

  public Workload(History history, List<String> endpoints, Set<String> kinds, long seed, Duration sessionTtl) {
    this.history = history;
    this.endpoints = endpoints;
    this.kinds = kinds;
    this.seed = seed;
    this.sessionTtl = sessionTtl;
  }

  /** Starts the processes: 4 mutex, 4 semaphore, 2 lease, 2 readers (for the selected workloads). */
  public void start() {
    int n = 0;
    for (String kind : List.of("mutex", "semaphore", "lease", "reads")) {
      if (!kinds.contains(kind)) {
        continue;
      }
      int count = switch (kind) {
        case "mutex", "semaphore" -> 4;
        default -> 2;
      };
      for (int i = 0; i < count; i++) {
        Random random = new Random(seed * 31 + n++);
        Thread t = new Thread(() -> loop(kind, random), "chaos-" + kind + "-" + i);
        t.setDaemon(true);
        threads.add(t);
        t.start();
      }
    }
  }

  /** Asks every process to finish its current operation and waits (bounded) for them. */
  public void stop(Duration bound) throws InterruptedException {
    running = false;
    long deadline = System.nanoTime() + bound.toNanos();
    for (Thread t : threads) {
      long left = deadline - System.nanoTime();
      if (left > 0) {
        t.join(TimeUnit.NANOSECONDS.toMillis(left) + 1);
      }
    }
    for (Thread t : threads) {
      if (t.isAlive()) {
        t.interrupt();
      }
    }
    closer.shutdown();
    closer.awaitTermination(15, TimeUnit.SECONDS);
  }

  static String mutexLock(long nowNs, int k) {
    return "mutex-" + nowNs / MUTEX_GEN_NS + "-" + k;
  }

  static String semaphoreLock(long nowNs) {
    return "sem-" + nowNs / MUTEX_GEN_NS;
  }

  static String leaseLock(long nowNs) {
    return "lease-" + nowNs / LEASE_GEN_NS;
  }

  private HaspClient newClient() {
    return HaspClient.builder().endpoints(endpoints).sessionTtl(sessionTtl).callTimeout(Duration.ofSeconds(5))
        .lockLostListener((h, e) -> { }).build();
  }

  private void loop(String kind, Random random) {
    int process = processIds.incrementAndGet();
    HaspClient client = newClient();
    try {
      while (running) {
        boolean retire = switch (kind) {
          case "mutex" -> lockCycle(client, process, kind, mutexLock(history.now(), random.nextInt(2)), 1, random, true);
          case "semaphore" -> lockCycle(client, process, kind, semaphoreLock(history.now()), SEMAPHORE_SIZE, random, false);
          case "lease" -> leaseGrant(client, process, random);
          default -> read(client, process, random);
        };
        if (retire) {
          HaspClient old = client;
          closer.submit(old::close);
          process = processIds.incrementAndGet();
          client = newClient();
        }
        pause(random, kind.equals("lease") ? 150 : 50, kind.equals("lease") ? 400 : 150);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      HaspClient last = client;
      closer.submit(last::close);
    }
  }

  /** acquire → (write) → release. Returns true when the process must retire (an unknown outcome). */
  private boolean lockCycle(HaspClient client, int process, String kind, String name, int size, Random random,
      boolean write) throws InterruptedException {
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    LockHandle handle;
    try {
      if (random.nextBoolean()) {
        handle = client.lock(name, LockOptions.builder().size(size).waitTimeout(Duration.ofMillis(1500))
            .owner("p" + process).build());
      } else {
        Optional<LockHandle> h = client.tryLock(name, LockOptions.builder().size(size).owner("p" + process).build());
        if (h.isEmpty()) {
          history.add(new OpRecord(id, process, kind, "acquire", name, size, t0, history.now(), wall, Outcome.FAIL, 0,
              "not-acquired"));
          return false;
        }
        handle = h.get();
      }
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      history.add(new OpRecord(id, process, kind, "acquire", name, size, t0, o == Outcome.UNKNOWN ? -1 : history.now(),
          wall, o, 0, code(e)));
      return o == Outcome.UNKNOWN;
    }
    history.add(new OpRecord(id, process, kind, "acquire", name, size, t0, history.now(), wall, Outcome.OK,
        handle.token(), handle.key()));
    pause(random, 0, 30);
    if (write) {
      FencedRegister register = registers.computeIfAbsent(name, n -> new FencedRegister());
      long wid = history.nextId();
      long wt = history.now();
      boolean accepted = register.write(handle.token());
      history.add(new OpRecord(wid, process, kind, "write", name, size, wt, history.now(), System.currentTimeMillis(),
          accepted ? Outcome.OK : Outcome.FAIL, handle.token(), accepted ? "accepted" : "rejected"));
    }
    long rid = history.nextId();
    long rwall = System.currentTimeMillis();
    long r0 = history.now();
    try {
      client.unlock(name, handle.key());
      history.add(new OpRecord(rid, process, kind, "release", name, size, r0, history.now(), rwall, Outcome.OK,
          handle.token(), ""));
      return false;
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      history.add(new OpRecord(rid, process, kind, "release", name, size, r0, o == Outcome.UNKNOWN ? -1 : history.now(),
          rwall, o, handle.token(), code(e)));
      return o == Outcome.UNKNOWN;
    }
  }

  private boolean leaseGrant(HaspClient client, int process, Random random) {
    String name = leaseLock(history.now());
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    try {
      Optional<LockHandle> h = client.tryLock(name, LockOptions.builder().size(LEASE_SIZE).lease(LEASE)
          .autoRenew(false).owner("p" + process).build());
      history.add(new OpRecord(id, process, "lease", "acquire", name, LEASE_SIZE, t0, history.now(), wall,
          h.isPresent() ? Outcome.OK : Outcome.FAIL, h.map(LockHandle::token).orElse(0L),
          h.map(LockHandle::key).orElse("not-acquired")));
      return false;
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      history.add(new OpRecord(id, process, "lease", "acquire", name, LEASE_SIZE, t0,
          o == Outcome.UNKNOWN ? -1 : history.now(), wall, o, 0, code(e)));
      return o == Outcome.UNKNOWN;
    }
  }

  private boolean read(HaspClient client, int process, Random random) {
    long now = history.now();
    List<String> names = new ArrayList<>();
    if (kinds.contains("mutex")) {
      names.add(mutexLock(now, 0));
      names.add(mutexLock(now, 1));
    }
    if (kinds.contains("semaphore")) {
      names.add(semaphoreLock(now));
    }
    if (kinds.contains("lease")) {
      names.add(leaseLock(now));
    }
    if (names.isEmpty()) {
      return false;
    }
    String name = names.get(random.nextInt(names.size()));
    long size = name.startsWith("mutex") ? 1 : name.startsWith("sem") ? SEMAPHORE_SIZE : LEASE_SIZE;
    boolean isLocked = random.nextBoolean();
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    try {
      String value;
      if (isLocked) {
        value = Boolean.toString(client.isLocked(name));
      } else {
        Optional<LockInfo> info = client.getLock(name);
        value = info.map(i -> i.getHoldersList().stream().map(HolderInfo::getToken).map(String::valueOf)
            .collect(Collectors.joining(","))).orElse("");
      }
      history.add(new OpRecord(id, process, "reads", isLocked ? "is-locked" : "get-lock", name, size, t0,
          history.now(), wall, Outcome.OK, 0, value));
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      // A read changes nothing: an unknown read needs no retirement.
      history.add(new OpRecord(id, process, "reads", isLocked ? "is-locked" : "get-lock", name, size, t0,
          o == Outcome.UNKNOWN ? -1 : history.now(), wall, o, 0, code(e)));
    }
    return false;
  }

  /** Definite failures (the server said no, nothing happened) vs. unknown (timeouts, no quorum). */
  static Outcome classify(Throwable t) {
    if (t instanceof HaspException h) {
      ErrorCode c = h.code();
      if (c == null) {
        return Outcome.UNKNOWN;
      }
      return switch (c) {
        case LOCK_WAIT_TIMEOUT, INVALID_KEY, LOCK_NOT_FOUND, LOCK_SIZE_MISMATCH, INVALID_SIZE, INVALID_ARGUMENT,
            SESSION_EXPIRED, PERMISSION_DENIED, UNAUTHENTICATED -> Outcome.FAIL;
        default -> Outcome.UNKNOWN;
      };
    }
    return Outcome.UNKNOWN;
  }

  static String code(Throwable t) {
    if (t instanceof HaspException h && h.code() != null) {
      return h.code().name();
    }
    return t.getClass().getSimpleName();
  }

  private void pause(Random random, int minMs, int maxMs) throws InterruptedException {
    Thread.sleep(minMs + random.nextInt(Math.max(1, maxMs - minMs)));
  }

  /** The protected resource of the mutex workload: remembers the highest token and rejects lower ones. */
  public static final class FencedRegister {
    private long highest;

    public synchronized boolean write(long token) {
      if (token < highest) {
        return false;
      }
      highest = token;
      return true;
    }
  }
}
