package io.hasp.chaos.workload;

import io.hasp.chaos.history.History;
import io.hasp.chaos.history.OpRecord;
import io.hasp.chaos.history.OpRecord.Outcome;
import io.hasp.client.FencedLock;
import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.client.LockOptions;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.LockInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
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
 *   <li><b>reads</b>: isLocked and getLock on the locks the others use (getLock records token/owner pairs).</li>
 *   <li><b>forever</b>: the failover use case, as users write it: three processes take one shared
 *       {@code primary-<gen>} with {@code lock()} and no wait timeout, hold it briefly (writing the token to the
 *       register), unlock. Their waits go on through every fault.</li>
 *   <li><b>cancel</b>: waits given up on the ways users give them up: {@code lockAsync(...).cancel()}, an
 *       interrupt of {@code FencedLock.lockInterruptibly()}, and {@code close()} of a client mid-wait, on a shared
 *       {@code abandon-<gen>} that the same processes also hold for a while. Each give-up is recorded as an
 *       acquire with an unknown outcome and an {@code abandon} operation that completes when the client says the
 *       cluster settled it; the process then reads the lock itself.</li>
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

  /** Starts the processes: 4 mutex, 4 semaphore, 2 lease, 2 readers, 3 forever, 3 cancel (those selected). */
  public void start() {
    int n = 0;
    for (String kind : List.of("mutex", "semaphore", "lease", "reads", "forever", "cancel")) {
      if (!kinds.contains(kind)) {
        continue;
      }
      int count = switch (kind) {
        case "mutex", "semaphore" -> 4;
        case "forever", "cancel" -> 3;
        default -> 2;
      };
      for (int i = 0; i < count; i++) {
        Random random = new Random(seed * 31 + n++);
        int slot = i;
        Thread t = new Thread(() -> loop(kind, slot, random), "chaos-" + kind + "-" + i);
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

  static String primaryLock(long nowNs) {
    return "primary-" + nowNs / MUTEX_GEN_NS;
  }

  static String abandonLock(long nowNs) {
    return "abandon-" + nowNs / MUTEX_GEN_NS;
  }

  private HaspClient newClient() {
    return HaspClient.builder().endpoints(endpoints).sessionTtl(sessionTtl).callTimeout(Duration.ofSeconds(5))
        .lockLostListener((h, e) -> { }).build();
  }

  private void loop(String kind, int slot, Random random) {
    int process = processIds.incrementAndGet();
    HaspClient client = newClient();
    try {
      while (running) {
        int[] next = {0};
        boolean retire = switch (kind) {
          case "mutex" -> lockCycle(client, process, kind, mutexLock(history.now(), random.nextInt(2)), 1, random, true);
          case "semaphore" -> lockCycle(client, process, kind, semaphoreLock(history.now()), SEMAPHORE_SIZE, random, false);
          case "lease" -> leaseGrant(client, process, random);
          case "forever" -> foreverCycle(client, process, slot, random);
          case "cancel" -> cancelCycle(client, process, random, next);
          default -> read(client, process, random);
        };
        if (next[0] != 0) {
          process = next[0]; // a give-up: a new logical process on the same client (and session)
        }
        if (retire) {
          HaspClient old = client;
          closer.execute(old::close);
          process = processIds.incrementAndGet();
          client = newClient();
        }
        pause(random, kind.equals("lease") ? 150 : 50, kind.equals("lease") ? 400 : 150);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      HaspClient last = client;
      closer.execute(last::close);
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
      if (!code(e).equals("INVALID_KEY") && !code(e).equals("LOCK_NOT_FOUND") && o != Outcome.UNKNOWN) {
        System.err.println("chaos: release of " + name + " token " + handle.token() + " by p" + process + " failed: "
            + e); // an answer no release should get: kept for the report's reader
      }
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
    if (kinds.contains("forever")) {
      names.add(primaryLock(now));
    }
    if (kinds.contains("cancel")) {
      names.add(abandonLock(now));
    }
    if (names.isEmpty()) {
      return false;
    }
    String name = names.get(random.nextInt(names.size()));
    long size = name.startsWith("sem") ? SEMAPHORE_SIZE : name.startsWith("lease") ? LEASE_SIZE : 1;
    boolean isLocked = random.nextBoolean();
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    try {
      String value;
      if (isLocked) {
        value = Boolean.toString(client.isLocked(name));
      } else {
        value = holders(client.getLock(name));
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

  /** What a get-lock read saw: "token/owner" per holder, joined by ','. */
  static String holders(Optional<LockInfo> info) {
    return info.map(i -> i.getHoldersList().stream().map(h -> h.getToken() + "/" + h.getOwner())
        .collect(Collectors.joining(","))).orElse("");
  }

  /**
   * The failover use case: {@code lock()} with no wait timeout on the shared primary lock, a short hold with a
   * register write, unlock. The acquire's value names the slot ("slot K key") for the failover checker.
   */
  private boolean foreverCycle(HaspClient client, int process, int slot, Random random) throws InterruptedException {
    String name = primaryLock(history.now());
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    LockHandle handle;
    try {
      handle = client.lock(name, LockOptions.builder().owner("p" + process).build());
    } catch (RuntimeException e) {
      // a forever wait has no timeout: any error here is one a user would see (kept with its message)
      Outcome o = classify(e);
      history.add(new OpRecord(id, process, "forever", "acquire", name, 1, t0, o == Outcome.UNKNOWN ? -1 : history.now(),
          wall, o, 0, code(e) + ": " + e.getMessage()));
      return true;
    }
    history.add(new OpRecord(id, process, "forever", "acquire", name, 1, t0, history.now(), wall, Outcome.OK,
        handle.token(), "slot" + slot + " " + handle.key()));
    FencedRegister register = registers.computeIfAbsent(name, n -> new FencedRegister());
    long wid = history.nextId();
    long wt = history.now();
    boolean accepted = register.write(handle.token());
    history.add(new OpRecord(wid, process, "forever", "write", name, 1, wt, history.now(), System.currentTimeMillis(),
        accepted ? Outcome.OK : Outcome.FAIL, handle.token(), accepted ? "accepted" : "rejected"));
    pause(random, 0, 30);
    return release(client, process, "forever", name, 1, handle);
  }

  private boolean release(HaspClient client, int process, String kind, String name, long size, LockHandle handle) {
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
      if (!code(e).equals("INVALID_KEY") && !code(e).equals("LOCK_NOT_FOUND") && o != Outcome.UNKNOWN) {
        System.err.println("chaos: release of " + name + " token " + handle.token() + " by p" + process + " failed: "
            + e); // an answer no release should get: kept for the report's reader
      }
      history.add(new OpRecord(rid, process, kind, "release", name, size, r0, o == Outcome.UNKNOWN ? -1 : history.now(),
          rwall, o, handle.token(), code(e)));
      return o == Outcome.UNKNOWN;
    }
  }

  /**
   * One round on the shared abandon lock: hold it for a while (so others wait), or start a wait and give it up by
   * cancel, interrupt or close. A given-up wait is an acquire with an unknown outcome plus an {@code abandon}
   * operation (invoked at the give-up, completed when the client reports the cluster settled it, value = the
   * owner label the wait used); the process then reads the lock itself, and goes on as a new process.
   */
  private boolean cancelCycle(HaspClient client, int process, Random random, int[] next) throws InterruptedException {
    String name = abandonLock(history.now());
    int mode = random.nextInt(4);
    if (mode == 0) {
      return lockCycleHolding(client, process, name, random);
    }
    long id = history.nextId();
    String owner = "p" + process + "-a" + id;
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    LockOptions opts = LockOptions.builder().owner(owner).build();
    long gaveUp;
    boolean settled;
    if (mode == 1) {
      CompletableFuture<LockHandle> f = client.lockAsync(name, opts);
      pause(random, 0, 200);
      gaveUp = history.now();
      if (!f.cancel(true)) {
        return finishedBeforeGiveUp(client, process, name, id, wall, t0, f);
      }
      settled = waitSettled(() -> HaspClient.settled(f));
    } else if (mode == 2) {
      // a thread blocked in lockInterruptibly(), interrupted; a hold it won first it releases itself (a FencedLock
      // belongs to the thread that locked it)
      FencedLock view = client.newLock(name);
      long[] held = new long[3]; // token, grant time, release time (0 = not granted / release failed)
      CompletableFuture<Boolean> got = new CompletableFuture<>();
      Thread waiter = new Thread(() -> {
        try {
          view.lockInterruptibly();
          held[0] = view.getFence();
          held[1] = history.now();
          try {
            view.unlock();
            held[2] = history.now();
          } catch (RuntimeException e) {
            held[2] = 0;
          }
          got.complete(true);
        } catch (InterruptedException e) {
          got.complete(false);
        } catch (RuntimeException e) {
          got.completeExceptionally(e);
        }
      }, "chaos-cancel-waiter");
      waiter.setDaemon(true);
      waiter.start();
      pause(random, 0, 200);
      gaveUp = history.now();
      waiter.interrupt();
      waiter.join(30_000);
      if (got.isDone() && !got.isCompletedExceptionally() && got.join()) {
        history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, held[1], wall, Outcome.OK, held[0],
            "granted"));
        boolean released = held[2] > 0;
        history.add(new OpRecord(history.nextId(), process, "cancel", "release", name, 1, held[1],
            released ? held[2] : -1, System.currentTimeMillis(), released ? Outcome.OK : Outcome.UNKNOWN, held[0], ""));
        return !released;
      }
      settled = client.awaitSettled(Duration.ofSeconds(35));
    } else {
      HaspClient temporary = newClient();
      CompletableFuture<LockHandle> f = temporary.lockAsync(name, opts);
      pause(random, 0, 200);
      gaveUp = history.now();
      // cancels the wait (abandoning it) and closes the session; settled only when the cluster confirmed it
      settled = temporary.close(Duration.ofSeconds(35));
      if (f.isDone() && !f.isCompletedExceptionally() && !f.isCancelled()) {
        // granted before the close: the close's session end released it
        history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, gaveUp, wall, Outcome.UNKNOWN, 0,
            "closed"));
        history.add(new OpRecord(history.nextId(), process, "cancel", "abandon", name, 1, gaveUp,
            settled ? history.now() : -1, System.currentTimeMillis(), settled ? Outcome.OK : Outcome.UNKNOWN, 0, owner));
        if (settled) {
          selfRead(client, process, name);
        }
        next[0] = processIds.incrementAndGet();
        return false;
      }
    }
    history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, -1, wall, Outcome.UNKNOWN, 0, "abandoned"));
    history.add(new OpRecord(history.nextId(), process, "cancel", "abandon", name, 1, gaveUp,
        settled ? history.now() : -1, System.currentTimeMillis(), settled ? Outcome.OK : Outcome.UNKNOWN, 0, owner));
    if (settled) {
      selfRead(client, process, name);
    }
    next[0] = processIds.incrementAndGet();
    return false;
  }

  private boolean lockCycleHolding(HaspClient client, int process, String name, Random random)
      throws InterruptedException {
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    LockHandle handle;
    try {
      handle = client.lock(name, LockOptions.builder().waitTimeout(Duration.ofSeconds(3)).owner("p" + process).build());
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, o == Outcome.UNKNOWN ? -1 : history.now(),
          wall, o, 0, code(e)));
      return o == Outcome.UNKNOWN;
    }
    history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, history.now(), wall, Outcome.OK,
        handle.token(), handle.key()));
    pause(random, 50, 300);
    return release(client, process, "cancel", name, 1, handle);
  }

  /** The wait finished before it was given up: record its real outcome (a grant is released at once). */
  private boolean finishedBeforeGiveUp(HaspClient client, int process, String name, long id, long wall, long t0,
      CompletableFuture<LockHandle> f) {
    try {
      LockHandle h = f.join();
      history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, history.now(), wall, Outcome.OK,
          h.token(), h.key()));
      return release(client, process, "cancel", name, 1, h);
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      Outcome o = classify(cause);
      history.add(new OpRecord(id, process, "cancel", "acquire", name, 1, t0, o == Outcome.UNKNOWN ? -1 : history.now(),
          wall, o, 0, code(cause)));
      return o == Outcome.UNKNOWN;
    }
  }

  private static boolean waitSettled(java.util.function.Supplier<CompletableFuture<Void>> settled) {
    try {
      settled.get().get(35, TimeUnit.SECONDS);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  /** The giving-up process reads the lock itself once its abandon is settled. */
  private void selfRead(HaspClient client, int process, String name) {
    long id = history.nextId();
    long wall = System.currentTimeMillis();
    long t0 = history.now();
    try {
      String value = holders(client.getLock(name));
      history.add(new OpRecord(id, process, "cancel", "get-lock", name, 1, t0, history.now(), wall, Outcome.OK, 0, value));
    } catch (RuntimeException e) {
      Outcome o = classify(e);
      history.add(new OpRecord(id, process, "cancel", "get-lock", name, 1, t0, o == Outcome.UNKNOWN ? -1 : history.now(),
          wall, o, 0, code(e)));
    }
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
