package io.hasp.statemachine.core;

/** Every bound of the lock service in one place. Inputs beyond a bound are rejected, never truncated. */
public final class Limits {
  private Limits() {}

  public static final int LOCK_NAME_BYTES_MAX = 512;
  public static final long LOCK_SIZE_MAX = 1_000_000;
  public static final int OWNER_BYTES_MAX = 256;
  public static final int KEY_BYTES_MAX = 128;
  public static final int CLIENT_ID_BYTES_MAX = 128;
  public static final int WAITERS_PER_LOCK_MAX = 100_000;
  public static final int SESSIONS_MAX = 1_000_000;
  public static final int FLUSH_NAMES_MAX = 10_000;
  public static final int LIST_LIMIT_MAX = 1_000;
  public static final int LIST_LIMIT_DEFAULT = 100;
  /** Items (leases, wait timeouts, sessions, stale outcomes) one Expire command may process. */
  public static final int EXPIRIES_PER_TICK_MAX = 10_000;

  public static final long LEASE_MS_MAX = 366L * 24 * 3600 * 1000;
  public static final long WAIT_TIMEOUT_MS_MAX = 366L * 24 * 3600 * 1000;
  public static final long SESSION_TTL_MS_MIN = 500;
  public static final long SESSION_TTL_MS_MAX = 3_600_000;
  public static final long SESSION_TTL_MS_DEFAULT = 10_000;

  /**
   * How long the outcome of a mutating request is kept for deduplicating retries. A client retries for
   * seconds, not minutes; a waiter still in the queue is found by its request id regardless of this.
   */
  public static final long OUTCOME_RETENTION_MS = 10 * 60 * 1000;
}
