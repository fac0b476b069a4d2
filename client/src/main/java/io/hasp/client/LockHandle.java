package io.hasp.client;

import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One granted hold. {@link #close()} releases it (safe to call twice).
 *
 * <p><b>Fencing.</b> {@link #token()} grows strictly with every grant of the lock. Pass it with every write to
 * the protected resource and let the resource reject tokens lower than the highest it has seen:
 *
 * <pre>
 *   client A: lock -> token 40 ... long GC pause ............... write(token 40) -> rejected
 *   cluster :          A's lease/session ends; B is granted token 57
 *   client B:                         lock -> token 57, write(token 57) -> accepted
 * </pre>
 *
 * Clocks cannot protect against a paused holder; the token can. {@link #leaseDeadline()} is computed from the
 * moment the request was sent, so it is never later than the server's.
 */
public final class LockHandle implements AutoCloseable {
  private final HaspClient client;
  private final String name;
  private final String key;
  private final long token;
  private final long size;
  private final long sessionId;
  private volatile Instant leaseDeadline;
  private final AtomicBoolean released = new AtomicBoolean();
  private final AtomicBoolean lost = new AtomicBoolean();
  volatile ScheduledFuture<?> renewal;

  LockHandle(HaspClient client, String name, String key, long token, long size, long sessionId, Instant leaseDeadline) {
    this.client = client;
    this.name = name;
    this.key = key;
    this.token = token;
    this.size = size;
    this.sessionId = sessionId;
    this.leaseDeadline = leaseDeadline;
  }

  /** The lock's name. */
  public String name() {
    return name;
  }

  /** The capability that releases or renews this hold. */
  public String key() {
    return key;
  }

  /** Fencing token: strictly increasing over every grant of this lock. */
  public long token() {
    return token;
  }

  /** The lock's size (1 for a mutex). */
  public long size() {
    return size;
  }

  /** The session the hold is tied to, 0 for none. */
  public long sessionId() {
    return sessionId;
  }

  /** When the lease ends unless renewed (client-side, never later than the server's), or null without a lease. */
  public Instant leaseDeadline() {
    return leaseDeadline;
  }

  void leaseRenewed(Instant deadline) {
    this.leaseDeadline = deadline;
  }

  /** True until released, lost, or past its lease deadline. */
  public boolean isValid() {
    Instant d = leaseDeadline;
    return !released.get() && !lost.get() && (d == null || Instant.now().isBefore(d));
  }

  boolean markLost() {
    cancelRenewal();
    return !released.get() && lost.compareAndSet(false, true);
  }

  void cancelRenewal() {
    ScheduledFuture<?> r = renewal;
    if (r != null) {
      r.cancel(false);
    }
  }

  /** Releases the hold. Idempotent; a hold already lost or expired is not an error here. */
  @Override
  public void close() {
    if (released.compareAndSet(false, true)) {
      cancelRenewal();
      if (!lost.get()) {
        client.release(this);
      }
    }
  }

  @Override
  public String toString() {
    return "LockHandle[" + name + ", token " + token + (isValid() ? "" : ", invalid") + "]";
  }
}
