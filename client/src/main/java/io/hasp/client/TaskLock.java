package io.hasp.client;

import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * A lock around one task, after Huey's {@code lock_task}: {@link #acquire()} never waits; it throws
 * {@link TaskLockedException} when another worker runs the task.
 *
 * <pre>
 *   try (TaskLock.Held held = client.lockTask("report-42").acquire()) {
 *     buildReport();
 *   } catch (TaskLockedException e) {
 *     // someone else is on it: skip
 *   }
 *   Runnable guarded = client.lockTask("nightly").wrap(this::nightly);
 * </pre>
 */
public final class TaskLock {
  private final HaspClient client;
  private final String name;

  TaskLock(HaspClient client, String name) {
    this.client = client;
    this.name = name;
  }

  /** The task lock's name. */
  public String name() {
    return name;
  }

  /** A hold on the task; closing releases it. */
  public static final class Held implements AutoCloseable {
    private final LockHandle handle;

    Held(LockHandle handle) {
      this.handle = handle;
    }

    /** The fencing token of this run. */
    public long token() {
      return handle.token();
    }

    @Override
    public void close() {
      handle.close();
    }
  }

  /** Takes the task lock or throws {@link TaskLockedException}; never waits. */
  public Held acquire() {
    Optional<LockHandle> h = client.tryLock(name);
    return new Held(h.orElseThrow(() -> new TaskLockedException(name)));
  }

  /** Runs {@code task} under the lock; throws {@link TaskLockedException} instead of running when taken. */
  public Runnable wrap(Runnable task) {
    return () -> {
      try (Held ignored = acquire()) {
        task.run();
      }
    };
  }

  /** As {@link #wrap(Runnable)}, returning the task's result. */
  public <V> Callable<V> wrap(Callable<V> task) {
    return () -> {
      try (Held ignored = acquire()) {
        return task.call();
      }
    };
  }

  /** Linearizable: does some worker hold it now? */
  public boolean isLocked() {
    return client.isLocked(name);
  }

  /** Force-releases the task lock (admin); returns whether it was held. */
  public boolean clear() {
    return client.flushLocks(name).contains(name);
  }
}
