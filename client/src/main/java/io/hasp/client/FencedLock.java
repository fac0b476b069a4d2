package io.hasp.client;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A {@link Lock} over one named Hasp mutex, like Hazelcast's FencedLock: owned by the thread that locked it and
 * reentrant (a holding thread may lock again; it is released after as many unlocks). {@link #getFence()} is
 * the fencing token of the current hold. Unlock from a thread that does not hold it throws
 * {@link IllegalMonitorStateException}. Conditions are not supported. {@link #lockInterruptibly()} and
 * {@link #tryLock(long, TimeUnit)} give up on an interrupt, and the wait is then abandoned on the cluster (no
 * hold is left behind, even if the grant raced the interrupt).
 */
public final class FencedLock implements Lock {
  private final HaspClient client;
  private final String name;
  private Thread owner;
  private int holds;
  private LockHandle handle;

  FencedLock(HaspClient client, String name) {
    this.client = client;
    this.name = name;
  }

  /** The lock's name. */
  public String name() {
    return name;
  }

  /** Waits as long as it takes, like {@link Lock#lock()}: an interrupt does not end the wait (the flag is kept). */
  @Override
  public void lock() {
    if (reenter()) {
      return;
    }
    CompletableFuture<LockHandle> f = client.lockAwaited(name, LockOptions.DEFAULT);
    boolean interrupted = false;
    try {
      while (true) {
        try {
          taken(f.get());
          return;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw RetryPolicy.toException(HaspClient.unwrap(e));
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public void lockInterruptibly() throws InterruptedException {
    if (reenter()) {
      return;
    }
    CompletableFuture<LockHandle> f = client.lockAwaited(name, LockOptions.DEFAULT);
    try {
      taken(f.get());
    } catch (InterruptedException e) {
      f.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      throw RetryPolicy.toException(HaspClient.unwrap(e));
    }
  }

  @Override
  public boolean tryLock() {
    if (reenter()) {
      return true;
    }
    return client.tryLock(name).map(h -> {
      taken(h);
      return true;
    }).orElse(false);
  }

  @Override
  public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
    if (reenter()) {
      return true;
    }
    CompletableFuture<LockHandle> f = client.lockAwaited(name,
        LockOptions.builder().waitTimeout(Duration.ofNanos(unit.toNanos(Math.max(0, time)))).build());
    try {
      taken(f.get());
      return true;
    } catch (InterruptedException e) {
      f.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      HaspException x = RetryPolicy.toException(HaspClient.unwrap(e));
      if (x instanceof HaspException.LockWaitTimeoutException) {
        return false;
      }
      throw x;
    } catch (CancellationException e) {
      return false;
    }
  }

  @Override
  public void unlock() {
    LockHandle toRelease;
    synchronized (this) {
      if (owner != Thread.currentThread()) {
        throw new IllegalMonitorStateException("lock '" + name + "' is not held by " + Thread.currentThread().getName());
      }
      if (--holds > 0) {
        return;
      }
      toRelease = handle;
      owner = null;
      handle = null;
    }
    toRelease.close();
  }

  /** The fencing token of the current hold; IllegalMonitorStateException when this thread does not hold it. */
  public synchronized long getFence() {
    if (owner != Thread.currentThread()) {
      throw new IllegalMonitorStateException("lock '" + name + "' is not held by this thread");
    }
    return handle.token();
  }

  /** True when this thread holds it and the hold is still valid. */
  public synchronized boolean isLockedByCurrentThread() {
    return owner == Thread.currentThread() && handle != null && handle.isValid();
  }

  @Override
  public Condition newCondition() {
    throw new UnsupportedOperationException("Hasp locks have no conditions: use a separate lock or a queue");
  }

  private synchronized boolean reenter() {
    if (owner == Thread.currentThread()) {
      holds++;
      return true;
    }
    return false;
  }

  private synchronized void taken(LockHandle h) {
    owner = Thread.currentThread();
    holds = 1;
    handle = h;
  }
}
