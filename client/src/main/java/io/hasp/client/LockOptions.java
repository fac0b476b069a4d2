package io.hasp.client;

import java.time.Duration;
import java.util.Objects;

/**
 * How to take a lock: size (1 = mutex), lease, wait timeout, owner label, auto-renew. Immutable.
 *
 * <ul>
 *   <li>auto-renew on (default): the hold is tied to the client's session (released if the process dies) and,
 *       with a lease, renewed at about a third of it;
 *   <li>auto-renew off with a lease: the hold is not tied to the session and simply expires (rate limits);
 *   <li>auto-renew off without a lease: tied to the session, never renewed (nothing to renew).
 * </ul>
 */
public final class LockOptions {
  /** Mutex, no lease, wait forever, auto-renew as the client is configured. */
  public static final LockOptions DEFAULT = builder().build();

  final long size;
  final Duration lease;
  final Duration waitTimeout;
  final String owner;
  final Boolean autoRenew;

  private LockOptions(Builder b) {
    this.size = b.size;
    this.lease = b.lease;
    this.waitTimeout = b.waitTimeout;
    this.owner = b.owner;
    this.autoRenew = b.autoRenew;
  }

  /** A builder starting from: size 1, no lease, wait forever, no owner label, the client's auto-renew. */
  public static Builder builder() {
    return new Builder();
  }

  /** Lock size: 1 for a mutex, N for a semaphore of N holders. */
  public long size() {
    return size;
  }

  /** Null when the hold has no lease. */
  public Duration lease() {
    return lease;
  }

  /** Null = wait forever. */
  public Duration waitTimeout() {
    return waitTimeout;
  }

  /** Validating builder: every bad value is rejected here, before anything is sent. */
  public static final class Builder {
    private long size = 1;
    private Duration lease;
    private Duration waitTimeout;
    private String owner = "";
    private Boolean autoRenew;

    /** 1 (mutex) to 1,000,000. All users of a lock must agree on its size (else LOCK_SIZE_MISMATCH). */
    public Builder size(long size) {
      if (size < 1 || size > 1_000_000) {
        throw new IllegalArgumentException("size must be between 1 and 1,000,000, got " + size);
      }
      this.size = size;
      return this;
    }

    /** The hold ends this long after it is granted unless renewed. Positive. */
    public Builder lease(Duration lease) {
      Objects.requireNonNull(lease, "lease");
      if (lease.isNegative() || lease.isZero()) {
        throw new IllegalArgumentException("lease must be positive, got " + lease);
      }
      this.lease = lease;
      return this;
    }

    /** Zero = do not wait (like tryLock, never jumping the queue). */
    public Builder waitTimeout(Duration waitTimeout) {
      Objects.requireNonNull(waitTimeout, "waitTimeout");
      if (waitTimeout.isNegative()) {
        throw new IllegalArgumentException("waitTimeout must not be negative, got " + waitTimeout);
      }
      this.waitTimeout = waitTimeout;
      return this;
    }

    /** A label shown to operators by GetLock (e.g. host/pid), at most 256 bytes. */
    public Builder owner(String owner) {
      Objects.requireNonNull(owner, "owner");
      if (owner.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 256) {
        throw new IllegalArgumentException("owner must be at most 256 bytes");
      }
      this.owner = owner;
      return this;
    }

    /** Overrides the client's default: on = tied to the session and renewed; off with a lease = free-standing. */
    public Builder autoRenew(boolean autoRenew) {
      this.autoRenew = autoRenew;
      return this;
    }

    /** The immutable options. */
    public LockOptions build() {
      return new LockOptions(this);
    }
  }
}
