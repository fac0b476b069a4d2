package io.hasp.statemachine.core;

/**
 * The fixed bounds of the protocol: sizes of names, keys and lists, the same for every deployment. Inputs
 * beyond a bound are rejected, never truncated. The bounds an operator may tune (how many locks, sessions,
 * waiters, outcomes) are the replicated {@link Capacity}.
 */
public final class Limits {
  private Limits() {}

  public static final int LOCK_NAME_BYTES_MAX = 512;
  public static final long LOCK_SIZE_MAX = 1_000_000;
  public static final int OWNER_BYTES_MAX = 256;
  public static final int KEY_BYTES_MAX = 128;
  public static final int SESSION_KEY_BYTES_MAX = 64;
  public static final int CLIENT_ID_BYTES_MAX = 128;
  /** Names one FlushLocks may list (each up to 512 bytes: a request well under a MiB). */
  public static final int FLUSH_NAMES_MAX = 1_000;
  /** Locks one entry of a flush of every lock releases; the server pages through the rest. */
  public static final int FLUSH_LOCKS_PER_ENTRY = 1_000;
  /** Names a reply lists (FlushLocks, CloseSession); the count of all of them is given beside. */
  public static final int REPLY_NAMES_MAX = 1_000;
  /** Holders a GetLock reply lists (in grant order); the count of all of them is given beside. */
  public static final int REPLY_HOLDERS_MAX = 1_000;
  /** Request ids a keep-alive may list as still unsettled. */
  public static final int UNSETTLED_IDS_MAX = 1_000;
  public static final int LIST_LIMIT_MAX = 1_000;
  public static final int LIST_LIMIT_DEFAULT = 100;
  /** Items (leases, wait timeouts, sessions, aged outcomes) one Expire command may process. */
  public static final int EXPIRIES_PER_TICK_MAX = 10_000;

  public static final long LEASE_MS_MAX = 366L * 24 * 3600 * 1000;
  public static final long WAIT_TIMEOUT_MS_MAX = 366L * 24 * 3600 * 1000;
  public static final long SESSION_TTL_MS_MIN = 1_000;
  public static final long SESSION_TTL_MS_MAX = 3_600_000;
  public static final long SESSION_TTL_MS_DEFAULT = 10_000;
}
