package io.hasp.statemachine.core;

import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.hasp.statemachine.core.Result.Failure;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The replicated lock table. Deterministic: the same commands with the same log indexes produce the same
 * state and results on every replica. Not thread-safe; the state machine applies commands from one thread
 * and guards reads with its own lock.
 *
 * <p>Invariants (checked by {@link #checkInvariants()}):
 *
 * <ul>
 *   <li>a lock has at most {@code size} holders, and it exists only while it has holders or waiters;
 *   <li>a lock has waiters only while it is full (a waiter is granted as soon as a slot frees up);
 *   <li>waiters of a lock are ordered by {@code seq} (FIFO) and all asked for the lock's size;
 *   <li>fencing tokens are strictly increasing in grant order; every holder's token is at most {@code lastToken};
 *   <li>every holder and waiter with a session refers to a live session;
 *   <li>the deadline index holds exactly the lease, wait and session deadlines of the state.
 * </ul>
 */
public final class LockTable {

  /** A lock that exists: has holders or waiters. */
  private static final class LockState {
    final String name;
    final long size;
    /** In grant (token) order. */
    final LinkedHashMap<String, Holder> holders = new LinkedHashMap<>();
    final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    /** Keys of the waiters: unique, since a granted waiter must not become a second holder with one key. */
    final Set<String> waiterKeys = new HashSet<>();

    LockState(String name, long size) {
      this.name = name;
      this.size = size;
    }

    boolean isFull() {
      return holders.size() >= size;
    }

    boolean isEmpty() {
      return holders.isEmpty() && waiters.isEmpty();
    }
  }

  private record RequestRef(String clientId, long requestId) {}

  /** A deduplicated outcome, ordered for pruning by (atMs, clientId, requestId): deterministic everywhere. */
  private record OutcomeKey(long atMs, String clientId, long requestId) {}

  private static final Comparator<OutcomeKey> OUTCOME_ORDER = Comparator.comparingLong(OutcomeKey::atMs)
      .thenComparing(OutcomeKey::clientId)
      .thenComparingLong(OutcomeKey::requestId);

  /** A pending deadline. kind: 0 holder lease (name, key), 1 waiter timeout (name, seq), 2 session (id). */
  private record Due(long atMs, int kind, String name, String key, long id) {}

  private static final int DUE_LEASE = 0;
  private static final int DUE_WAIT = 1;
  private static final int DUE_SESSION = 2;

  private static final Comparator<Due> DUE_ORDER = Comparator.comparingLong(Due::atMs)
      .thenComparingInt(Due::kind)
      .thenComparing(Due::name)
      .thenComparing(Due::key)
      .thenComparingLong(Due::id);

  private final TreeMap<String, LockState> locks = new TreeMap<>();
  private final Map<Long, Session> sessions = new HashMap<>();
  /** Session id to the names of locks where it has holders or waiters (a superset is harmless). */
  private final Map<Long, LinkedHashSet<String>> sessionLocks = new HashMap<>();
  private final Map<RequestRef, Waiter> waitersByRequest = new HashMap<>();
  private final Map<RequestRef, OutcomeKey> outcomeKeys = new HashMap<>();
  private final TreeMap<OutcomeKey, Result> outcomes = new TreeMap<>(OUTCOME_ORDER);
  private final TreeSet<Due> deadlines = new TreeSet<>(DUE_ORDER);
  private long holderCount;
  private long waiterCount;
  private Meta meta = Meta.INITIAL;

  // ------------------------------------------------------------------------------------------------
  // Commands
  // ------------------------------------------------------------------------------------------------

  /**
   * Applies one committed command.
   *
   * @param index the Raft log index of the entry. Several commands may share one entry (a batch): the
   *     fencing token of a grant is {@code max(lastToken + 1, index)} and a new session id
   *     {@code max(lastSessionId + 1, index)}, so both equal the log index when an entry holds one command
   *     and are strictly increasing always
   * @param changes receives every record change and event, in order
   */
  public Result apply(long index, Command command, Changes changes) {
    Objects.requireNonNull(command, "command");
    Objects.requireNonNull(changes, "changes");
    if (index <= 0) {
      throw new IllegalArgumentException("log index must be positive: " + index);
    }
    long now = Math.max(command.nowMs(), meta.lastNowMs());
    Meta before = meta;
    meta = meta.withLastNowMs(now);
    Result result;
    if (command instanceof Command.Acquire c) {
      result = acquire(index, now, c, changes);
    } else if (command instanceof Command.Release c) {
      result = release(index, now, c, changes);
    } else if (command instanceof Command.Renew c) {
      result = renew(now, c, changes);
    } else if (command instanceof Command.Flush c) {
      result = flush(index, now, c, changes);
    } else if (command instanceof Command.OpenSession c) {
      result = openSession(index, now, c, changes);
    } else if (command instanceof Command.KeepAlive c) {
      result = keepAlive(now, c, changes);
    } else if (command instanceof Command.CloseSession c) {
      result = closeSession(index, now, c, changes);
    } else if (command instanceof Command.CancelWait c) {
      result = cancelWait(now, c, changes);
    } else if (command instanceof Command.Expire c) {
      result = expire(index, now, c, changes);
    } else if (command instanceof Command.Refresh) {
      result = refresh(now, changes);
    } else {
      throw new IllegalArgumentException("unknown command " + command.getClass().getName());
    }
    if (result instanceof Failure) {
      meta = before; // a failure changes nothing, not even the table's clock (failures return before mutating)
    } else if (!meta.equals(before)) {
      changes.putMeta(meta);
    }
    return result;
  }

  private Result acquire(long index, long now, Command.Acquire c, Changes changes) {
    Failure invalid = firstNonNull(
        checkName(c.name()),
        checkRequest(c.clientId(), c.requestId()),
        checkOwner(c.owner()),
        checkKey(c.key()));
    if (invalid != null) {
      return invalid;
    }
    if (c.size() < 1 || c.size() > Limits.LOCK_SIZE_MAX) {
      return Result.fail(ErrorCode.INVALID_SIZE,
          "lock size must be between 1 and " + Limits.LOCK_SIZE_MAX + ", got " + c.size());
    }
    if (c.leaseMs() < 0 || c.leaseMs() > Limits.LEASE_MS_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT,
          "lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + " (or absent), got " + c.leaseMs());
    }
    if (c.waitTimeoutMs() < -1 || c.waitTimeoutMs() > Limits.WAIT_TIMEOUT_MS_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT,
          "wait_timeout_ms must be between 0 and " + Limits.WAIT_TIMEOUT_MS_MAX + " (or absent), got "
              + c.waitTimeoutMs());
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Waiter queued = waitersByRequest.get(ref);
    if (queued != null) {
      return new Result.Queued(queued);
    }
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    if (c.sessionId() != 0 && !sessions.containsKey(c.sessionId())) {
      return Result.fail(ErrorCode.SESSION_EXPIRED, "session " + c.sessionId() + " does not exist or expired");
    }
    LockState lock = locks.get(c.name());
    if (lock != null && lock.size != c.size()) {
      return Result.fail(ErrorCode.LOCK_SIZE_MISMATCH,
          "lock '" + c.name() + "' exists with size " + lock.size + ", requested size " + c.size());
    }
    if (lock != null && lock.holders.containsKey(c.key())) {
      return Result.fail(ErrorCode.INVALID_KEY, "key already holds lock '" + c.name() + "'");
    }
    if (lock != null && lock.waiterKeys.contains(c.key())) {
      // once granted it would be a second holder with the same key
      return Result.fail(ErrorCode.INVALID_KEY, "key already waits for lock '" + c.name() + "'");
    }
    if (lock == null || (!lock.isFull() && lock.waiters.isEmpty())) {
      if (lock == null) {
        lock = new LockState(c.name(), c.size());
        locks.put(c.name(), lock);
        changes.putLock(c.name(), c.size());
      }
      Holder holder = grant(index, now, lock, c.key(), c.sessionId(), c.owner(), c.leaseMs(), c.clientId(),
          c.requestId(), changes);
      Result granted = new Result.Granted(holder, lock.size);
      remember(ref, now, granted, changes);
      return granted;
    }
    if (c.tryOnly() || c.waitTimeoutMs() == 0) {
      Result notAcquired = new Result.NotAcquired(c.name());
      remember(ref, now, notAcquired, changes);
      return notAcquired;
    }
    if (c.clientId().isEmpty() || c.requestId() == 0) {
      // waiters are indexed, retried and cancelled by (clientId, requestId)
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "an acquire that waits needs a client_id and a request_id");
    }
    if (lock.waiters.size() >= Limits.WAITERS_PER_LOCK_MAX) {
      return Result.fail(ErrorCode.LIMIT_EXCEEDED,
          "lock '" + c.name() + "' already has " + Limits.WAITERS_PER_LOCK_MAX + " waiters");
    }
    long deadline = c.waitTimeoutMs() < 0 ? 0 : now + c.waitTimeoutMs();
    Waiter waiter = new Waiter(c.name(), meta.nextWaiterSeq(), c.clientId(), c.requestId(), c.sessionId(),
        c.owner(), c.leaseMs(), deadline, c.key(), c.size());
    meta = meta.withNextWaiterSeq(meta.nextWaiterSeq() + 1);
    lock.waiters.addLast(waiter);
    lock.waiterKeys.add(waiter.key());
    waiterCount++;
    waitersByRequest.put(ref, waiter);
    if (deadline > 0) {
      deadlines.add(new Due(deadline, DUE_WAIT, waiter.name(), "", waiter.seq()));
    }
    linkSession(waiter.sessionId(), waiter.name());
    changes.putWaiter(waiter);
    return new Result.Queued(waiter);
  }

  private Result release(long index, long now, Command.Release c, Changes changes) {
    Failure invalid = firstNonNull(checkName(c.name()), checkRequest(c.clientId(), c.requestId()));
    if (invalid != null) {
      return invalid;
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    LockState lock = locks.get(c.name());
    Holder holder = lock == null ? null : lock.holders.get(c.key());
    if (holder == null) {
      return noSuchHolder(c.name(), lock);
    }
    removeHolder(lock, holder, ReleaseReason.UNLOCK, changes);
    promote(index, now, lock, changes);
    deleteIfEmpty(lock, changes);
    remember(ref, now, Result.DONE, changes);
    return Result.DONE;
  }

  private Result renew(long now, Command.Renew c, Changes changes) {
    Failure invalid = firstNonNull(checkName(c.name()), checkRequest(c.clientId(), c.requestId()));
    if (invalid != null) {
      return invalid;
    }
    if (c.leaseMs() <= 0 || c.leaseMs() > Limits.LEASE_MS_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT,
          "lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + ", got " + c.leaseMs());
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    LockState lock = locks.get(c.name());
    Holder holder = lock == null ? null : lock.holders.get(c.key());
    if (holder == null) {
      return noSuchHolder(c.name(), lock);
    }
    Holder renewed = holder.withLease(c.leaseMs(), now + c.leaseMs());
    replaceHolder(lock, holder, renewed, changes);
    Result result = new Result.Renewed(renewed, lock.size);
    remember(ref, now, result, changes);
    return result;
  }

  private Result flush(long index, long now, Command.Flush c, Changes changes) {
    Failure invalid = checkRequest(c.clientId(), c.requestId());
    if (invalid != null) {
      return invalid;
    }
    if (c.names().size() > Limits.FLUSH_NAMES_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT,
          "at most " + Limits.FLUSH_NAMES_MAX + " names per flush, got " + c.names().size());
    }
    for (String name : c.names()) {
      Failure bad = checkName(name);
      if (bad != null) {
        return bad;
      }
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    Set<String> targets = c.names().isEmpty() ? new TreeSet<>(locks.keySet()) : new TreeSet<>(c.names());
    List<String> released = new ArrayList<>();
    for (String name : targets) {
      LockState lock = locks.get(name);
      if (lock == null || lock.holders.isEmpty()) {
        continue;
      }
      for (Holder holder : new ArrayList<>(lock.holders.values())) {
        removeHolder(lock, holder, ReleaseReason.FLUSHED, changes);
      }
      released.add(name);
      promote(index, now, lock, changes);
      deleteIfEmpty(lock, changes);
    }
    Result result = new Result.Names(List.copyOf(released));
    remember(ref, now, result, changes);
    return result;
  }

  private Result openSession(long index, long now, Command.OpenSession c, Changes changes) {
    Failure invalid = firstNonNull(checkRequest(c.clientId(), c.requestId()), checkOwner(c.owner()));
    if (invalid != null) {
      return invalid;
    }
    if (c.ttlMs() < Limits.SESSION_TTL_MS_MIN || c.ttlMs() > Limits.SESSION_TTL_MS_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "session ttl_ms must be between "
          + Limits.SESSION_TTL_MS_MIN + " and " + Limits.SESSION_TTL_MS_MAX + ", got " + c.ttlMs());
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    if (sessions.size() >= Limits.SESSIONS_MAX) {
      return Result.fail(ErrorCode.LIMIT_EXCEEDED, "the cluster already has " + Limits.SESSIONS_MAX + " sessions");
    }
    long id = Math.max(meta.lastSessionId() + 1, index);
    meta = meta.withLastSessionId(id);
    Session session = new Session(id, c.ttlMs(), now + c.ttlMs(), c.owner(), c.clientId());
    sessions.put(session.id(), session);
    deadlines.add(sessionDue(session));
    changes.putSession(session);
    Result result = new Result.SessionState(session);
    remember(ref, now, result, changes);
    return result;
  }

  private Result keepAlive(long now, Command.KeepAlive c, Changes changes) {
    Session session = sessions.get(c.sessionId());
    if (session == null) {
      return Result.fail(ErrorCode.SESSION_EXPIRED, "session " + c.sessionId() + " does not exist or expired");
    }
    Session kept = session.withExpiresAtMs(Math.max(session.expiresAtMs(), now + session.ttlMs()));
    replaceSession(session, kept, changes);
    return new Result.SessionState(kept);
  }

  private Result closeSession(long index, long now, Command.CloseSession c, Changes changes) {
    Failure invalid = checkRequest(c.clientId(), c.requestId());
    if (invalid != null) {
      return invalid;
    }
    RequestRef ref = new RequestRef(c.clientId(), c.requestId());
    Result previous = previousOutcome(ref);
    if (previous != null) {
      return previous;
    }
    Session session = sessions.get(c.sessionId());
    if (session == null) {
      return Result.fail(ErrorCode.SESSION_EXPIRED, "session " + c.sessionId() + " does not exist or expired");
    }
    Result result = new Result.Names(endSession(index, now, session, changes));
    remember(ref, now, result, changes);
    return result;
  }

  private Result cancelWait(long now, Command.CancelWait c, Changes changes) {
    Waiter waiter = waitersByRequest.get(new RequestRef(c.targetClientId(), c.targetRequestId()));
    if (waiter != null) {
      LockState lock = locks.get(waiter.name());
      removeWaiter(lock, waiter, now, ErrorCode.WAIT_CANCELLED, changes);
      deleteIfEmpty(lock, changes);
    }
    return Result.DONE;
  }

  private Result expire(long index, long now, Command.Expire c, Changes changes) {
    int budget = Math.max(1, Math.min(c.maxItems(), Limits.EXPIRIES_PER_TICK_MAX));
    while (budget > 0 && !deadlines.isEmpty() && deadlines.first().atMs() <= now) {
      Due due = deadlines.first();
      budget--;
      switch (due.kind()) {
        case DUE_LEASE -> {
          LockState lock = locks.get(due.name());
          Holder holder = lock.holders.get(due.key());
          removeHolder(lock, holder, ReleaseReason.LEASE_EXPIRED, changes);
          promote(index, now, lock, changes);
          deleteIfEmpty(lock, changes);
        }
        case DUE_WAIT -> {
          LockState lock = locks.get(due.name());
          Waiter waiter = findWaiter(lock, due.id());
          removeWaiter(lock, waiter, now, ErrorCode.LOCK_WAIT_TIMEOUT, changes);
          deleteIfEmpty(lock, changes);
        }
        case DUE_SESSION -> endSession(index, now, sessions.get(due.id()), changes);
        default -> throw new IllegalStateException("unknown deadline kind " + due.kind());
      }
    }
    while (budget > 0 && !outcomes.isEmpty() && outcomes.firstKey().atMs() < now - Limits.OUTCOME_RETENTION_MS) {
      OutcomeKey oldest = outcomes.pollFirstEntry().getKey();
      outcomeKeys.remove(new RequestRef(oldest.clientId(), oldest.requestId()));
      changes.deleteOutcome(oldest.clientId(), oldest.requestId());
      budget--;
    }
    return Result.DONE;
  }

  private Result refresh(long now, Changes changes) {
    for (LockState lock : locks.values()) {
      for (Holder holder : new ArrayList<>(lock.holders.values())) {
        if (holder.hasLease() && holder.expiresAtMs() < now + holder.leaseMs()) {
          replaceHolder(lock, holder, holder.withLease(holder.leaseMs(), now + holder.leaseMs()), changes);
        }
      }
    }
    for (Session session : new ArrayList<>(sessions.values())) {
      if (session.expiresAtMs() < now + session.ttlMs()) {
        replaceSession(session, session.withExpiresAtMs(now + session.ttlMs()), changes);
      }
    }
    return Result.DONE;
  }

  // ------------------------------------------------------------------------------------------------
  // Mutation helpers: each keeps every index (deadlines, session links, counters) in step
  // ------------------------------------------------------------------------------------------------

  private Holder grant(long index, long now, LockState lock, String key, long sessionId, String owner,
      long leaseMs, String clientId, long requestId, Changes changes) {
    assert !lock.isFull() : "grant on a full lock " + lock.name;
    long token = Math.max(meta.lastToken() + 1, index);
    meta = meta.withLastToken(token);
    Holder holder = new Holder(lock.name, key, token, sessionId, owner, leaseMs, leaseMs > 0 ? now + leaseMs : 0,
        now, clientId, requestId);
    lock.holders.put(key, holder);
    holderCount++;
    if (holder.hasLease()) {
      deadlines.add(leaseDue(holder));
    }
    linkSession(sessionId, lock.name);
    changes.putHolder(holder);
    return holder;
  }

  /** Grants queued waiters, in order, while the lock has free slots. */
  private void promote(long index, long now, LockState lock, Changes changes) {
    while (!lock.isFull() && !lock.waiters.isEmpty()) {
      Waiter waiter = lock.waiters.pollFirst();
      lock.waiterKeys.remove(waiter.key());
      waiterCount--;
      RequestRef ref = new RequestRef(waiter.clientId(), waiter.requestId());
      waitersByRequest.remove(ref);
      if (waiter.waitDeadlineMs() > 0) {
        deadlines.remove(new Due(waiter.waitDeadlineMs(), DUE_WAIT, waiter.name(), "", waiter.seq()));
      }
      changes.deleteWaiter(waiter.name(), waiter.seq());
      Holder holder = grant(index, now, lock, waiter.key(), waiter.sessionId(), waiter.owner(), waiter.leaseMs(),
          waiter.clientId(), waiter.requestId(), changes);
      remember(ref, now, new Result.Granted(holder, lock.size), changes);
      changes.waiterGranted(waiter, holder, lock.size);
    }
  }

  private void removeHolder(LockState lock, Holder holder, ReleaseReason reason, Changes changes) {
    lock.holders.remove(holder.key());
    holderCount--;
    if (holder.hasLease()) {
      deadlines.remove(leaseDue(holder));
    }
    unlinkSessionIfUnused(holder.sessionId(), lock);
    changes.deleteHolder(lock.name, holder.key());
    changes.holderReleased(holder, reason);
  }

  private void replaceHolder(LockState lock, Holder old, Holder updated, Changes changes) {
    if (old.hasLease()) {
      deadlines.remove(leaseDue(old));
    }
    lock.holders.put(updated.key(), updated);
    if (updated.hasLease()) {
      deadlines.add(leaseDue(updated));
    }
    changes.putHolder(updated);
  }

  private void removeWaiter(LockState lock, Waiter waiter, long now, ErrorCode reason, Changes changes) {
    lock.waiters.remove(waiter);
    lock.waiterKeys.remove(waiter.key());
    waiterCount--;
    RequestRef ref = new RequestRef(waiter.clientId(), waiter.requestId());
    waitersByRequest.remove(ref);
    if (waiter.waitDeadlineMs() > 0) {
      deadlines.remove(new Due(waiter.waitDeadlineMs(), DUE_WAIT, waiter.name(), "", waiter.seq()));
    }
    unlinkSessionIfUnused(waiter.sessionId(), lock);
    changes.deleteWaiter(waiter.name(), waiter.seq());
    String why = switch (reason) {
      case LOCK_WAIT_TIMEOUT -> "timed out waiting for lock '" + waiter.name() + "'";
      case SESSION_EXPIRED -> "session " + waiter.sessionId() + " ended while waiting for lock '" + waiter.name() + "'";
      default -> "wait for lock '" + waiter.name() + "' was cancelled";
    };
    remember(ref, now, Result.fail(reason, why), changes);
    changes.waiterRemoved(waiter, reason);
  }

  private void replaceSession(Session old, Session updated, Changes changes) {
    deadlines.remove(sessionDue(old));
    sessions.put(updated.id(), updated);
    deadlines.add(sessionDue(updated));
    changes.putSession(updated);
  }

  /** Releases the session's holders, drops its waiters, deletes it; returns the released lock names. */
  private List<String> endSession(long index, long now, Session session, Changes changes) {
    TreeSet<String> released = new TreeSet<>();
    LinkedHashSet<String> linked = sessionLocks.remove(session.id());
    if (linked != null) {
      // in name order: the order locks were linked is not part of the persisted state, and the order of
      // the grants below decides their fencing tokens, which every replica must assign alike
      for (String name : new TreeSet<>(linked)) {
        LockState lock = locks.get(name);
        if (lock == null) {
          continue;
        }
        for (Waiter waiter : new ArrayList<>(lock.waiters)) {
          if (waiter.sessionId() == session.id()) {
            removeWaiter(lock, waiter, now, ErrorCode.SESSION_EXPIRED, changes);
          }
        }
        for (Holder holder : new ArrayList<>(lock.holders.values())) {
          if (holder.sessionId() == session.id()) {
            removeHolder(lock, holder, ReleaseReason.SESSION_ENDED, changes);
            released.add(name);
          }
        }
        promote(index, now, lock, changes);
        deleteIfEmpty(lock, changes);
      }
    }
    sessions.remove(session.id());
    deadlines.remove(sessionDue(session));
    changes.deleteSession(session.id());
    return List.copyOf(released);
  }

  private void deleteIfEmpty(LockState lock, Changes changes) {
    if (lock.isEmpty()) {
      locks.remove(lock.name);
      changes.deleteLock(lock.name);
    }
  }

  private void linkSession(long sessionId, String name) {
    if (sessionId != 0) {
      sessionLocks.computeIfAbsent(sessionId, id -> new LinkedHashSet<>()).add(name);
    }
  }

  private void unlinkSessionIfUnused(long sessionId, LockState lock) {
    if (sessionId == 0) {
      return;
    }
    LinkedHashSet<String> names = sessionLocks.get(sessionId);
    if (names == null) {
      return;
    }
    for (Holder h : lock.holders.values()) {
      if (h.sessionId() == sessionId) {
        return;
      }
    }
    for (Waiter w : lock.waiters) {
      if (w.sessionId() == sessionId) {
        return;
      }
    }
    names.remove(lock.name);
    if (names.isEmpty()) {
      sessionLocks.remove(sessionId);
    }
  }

  private void remember(RequestRef ref, long now, Result result, Changes changes) {
    if (ref.clientId().isEmpty() || ref.requestId() == 0) {
      return;
    }
    OutcomeKey old = outcomeKeys.remove(ref);
    if (old != null) {
      outcomes.remove(old);
    }
    OutcomeKey key = new OutcomeKey(now, ref.clientId(), ref.requestId());
    outcomeKeys.put(ref, key);
    outcomes.put(key, result);
    changes.putOutcome(ref.clientId(), ref.requestId(), now, result);
  }

  private Result previousOutcome(RequestRef ref) {
    if (ref.clientId().isEmpty() || ref.requestId() == 0) {
      return null;
    }
    OutcomeKey key = outcomeKeys.get(ref);
    return key == null ? null : outcomes.get(key);
  }

  /** LOCK_NOT_FOUND when the lock does not exist, INVALID_KEY when the key is not one of its holders. */
  private static Failure noSuchHolder(String name, LockState lock) {
    return lock == null
        ? Result.fail(ErrorCode.LOCK_NOT_FOUND, "lock '" + name + "' is not held")
        : Result.fail(ErrorCode.INVALID_KEY, "key does not hold lock '" + name + "'");
  }

  private static Waiter findWaiter(LockState lock, long seq) {
    for (Waiter w : lock.waiters) {
      if (w.seq() == seq) {
        return w;
      }
    }
    throw new IllegalStateException("deadline for a waiter that is not queued: " + lock.name + "#" + seq);
  }

  private static Due leaseDue(Holder h) {
    return new Due(h.expiresAtMs(), DUE_LEASE, h.name(), h.key(), 0);
  }

  private static Due sessionDue(Session s) {
    return new Due(s.expiresAtMs(), DUE_SESSION, "", "", s.id());
  }

  // ------------------------------------------------------------------------------------------------
  // Validation
  // ------------------------------------------------------------------------------------------------

  /** Null when the name is valid: 1..512 UTF-8 bytes, no control characters. */
  public static Failure checkName(String name) {
    if (name == null || name.isEmpty()) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "lock name must not be empty");
    }
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > Limits.LOCK_NAME_BYTES_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT,
          "lock name is " + bytes + " bytes; at most " + Limits.LOCK_NAME_BYTES_MAX + " UTF-8 bytes allowed");
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        return Result.fail(ErrorCode.INVALID_ARGUMENT,
            "lock name must not contain control characters (found U+" + String.format("%04X", (int) name.charAt(i))
                + " at " + i + ")");
      }
    }
    if (!isWellFormed(name)) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "lock name is not valid UTF-8 (unpaired surrogate)");
    }
    return null;
  }

  private static boolean isWellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (Character.isHighSurrogate(ch)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
          return false;
        }
        i++;
      } else if (Character.isLowSurrogate(ch)) {
        return false;
      }
    }
    return true;
  }

  private static Failure checkRequest(String clientId, long requestId) {
    if (clientId.getBytes(StandardCharsets.UTF_8).length > Limits.CLIENT_ID_BYTES_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "client_id is longer than " + Limits.CLIENT_ID_BYTES_MAX + " bytes");
    }
    if (requestId < 0) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "request_id must not be negative");
    }
    return null;
  }

  private static Failure checkOwner(String owner) {
    if (owner.getBytes(StandardCharsets.UTF_8).length > Limits.OWNER_BYTES_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "owner is longer than " + Limits.OWNER_BYTES_MAX + " bytes");
    }
    return null;
  }

  private static Failure checkKey(String key) {
    if (key.isEmpty() || key.getBytes(StandardCharsets.UTF_8).length > Limits.KEY_BYTES_MAX) {
      return Result.fail(ErrorCode.INVALID_ARGUMENT, "key must be 1 to " + Limits.KEY_BYTES_MAX + " bytes");
    }
    return null;
  }

  @SafeVarargs
  private static <T> T firstNonNull(T... values) {
    for (T v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------------------------------------
  // Queries (read-only)
  // ------------------------------------------------------------------------------------------------

  public boolean isLocked(String name) {
    LockState lock = locks.get(name);
    return lock != null && !lock.holders.isEmpty();
  }

  /** Null when the lock does not exist. */
  public LockView getLock(String name) {
    LockState lock = locks.get(name);
    return lock == null ? null : view(lock);
  }

  /** Up to {@code limit} locks whose name starts with {@code prefix} and sorts after {@code after}. */
  public List<LockView> list(String prefix, String after, int limit) {
    List<LockView> page = new ArrayList<>();
    NavigableMap<String, LockState> tail = after.isEmpty() || after.compareTo(prefix) < 0
        ? locks.tailMap(prefix, true)
        : locks.tailMap(after, false);
    for (LockState lock : tail.values()) {
      if (!lock.name.startsWith(prefix) || page.size() >= limit) {
        break;
      }
      page.add(view(lock));
    }
    return page;
  }

  private static LockView view(LockState lock) {
    return new LockView(lock.name, lock.size, List.copyOf(lock.holders.values()), lock.waiters.size());
  }

  /** The waiter queued by this request, or null. */
  public Waiter waiter(String clientId, long requestId) {
    return waitersByRequest.get(new RequestRef(clientId, requestId));
  }

  /** The remembered outcome of this request, or null. */
  public Result outcome(String clientId, long requestId) {
    return previousOutcome(new RequestRef(clientId, requestId));
  }

  public Session session(long id) {
    return sessions.get(id);
  }

  /** True when an Expire command at {@code nowMs} would change something. */
  public boolean hasExpiryDue(long nowMs) {
    return (!deadlines.isEmpty() && deadlines.first().atMs() <= nowMs)
        || (!outcomes.isEmpty() && outcomes.firstKey().atMs() < nowMs - Limits.OUTCOME_RETENTION_MS);
  }

  /** The earliest lease, wait or session deadline, or Long.MAX_VALUE when there is none. */
  public long nextDeadlineMs() {
    return deadlines.isEmpty() ? Long.MAX_VALUE : deadlines.first().atMs();
  }

  public int lockCount() {
    return locks.size();
  }

  public long holderCount() {
    return holderCount;
  }

  public long waiterCount() {
    return waiterCount;
  }

  public int sessionCount() {
    return sessions.size();
  }

  public int outcomeCount() {
    return outcomes.size();
  }

  public Meta meta() {
    return meta;
  }

  // ------------------------------------------------------------------------------------------------
  // Restore (loading persisted records; the store calls these in any order, then finishRestore)
  // ------------------------------------------------------------------------------------------------

  private final Map<String, List<Holder>> restoringHolders = new HashMap<>();
  private final Map<String, List<Waiter>> restoringWaiters = new HashMap<>();
  private final Map<String, Long> restoringLocks = new HashMap<>();

  public void restoreMeta(Meta restored) {
    meta = Objects.requireNonNull(restored);
  }

  public void restoreLock(String name, long size) {
    restoringLocks.put(name, size);
  }

  public void restoreHolder(Holder holder) {
    restoringHolders.computeIfAbsent(holder.name(), n -> new ArrayList<>()).add(holder);
  }

  public void restoreWaiter(Waiter waiter) {
    restoringWaiters.computeIfAbsent(waiter.name(), n -> new ArrayList<>()).add(waiter);
  }

  public void restoreSession(Session session) {
    sessions.put(session.id(), session);
    deadlines.add(sessionDue(session));
  }

  public void restoreOutcome(String clientId, long requestId, long atMs, Result result) {
    OutcomeKey key = new OutcomeKey(atMs, clientId, requestId);
    outcomeKeys.put(new RequestRef(clientId, requestId), key);
    outcomes.put(key, result);
  }

  /** Rebuilds locks and every derived index from the restored records, then checks the invariants. */
  public void finishRestore() {
    for (Map.Entry<String, Long> e : restoringLocks.entrySet()) {
      LockState lock = new LockState(e.getKey(), e.getValue());
      List<Holder> holders = new ArrayList<>(restoringHolders.getOrDefault(lock.name, List.of()));
      holders.sort(Comparator.comparingLong(Holder::token));
      for (Holder h : holders) {
        lock.holders.put(h.key(), h);
        holderCount++;
        if (h.hasLease()) {
          deadlines.add(leaseDue(h));
        }
        linkSession(h.sessionId(), lock.name);
      }
      List<Waiter> waiters = new ArrayList<>(restoringWaiters.getOrDefault(lock.name, List.of()));
      waiters.sort(Comparator.comparingLong(Waiter::seq));
      for (Waiter w : waiters) {
        lock.waiters.addLast(w);
        lock.waiterKeys.add(w.key());
        waiterCount++;
        waitersByRequest.put(new RequestRef(w.clientId(), w.requestId()), w);
        if (w.waitDeadlineMs() > 0) {
          deadlines.add(new Due(w.waitDeadlineMs(), DUE_WAIT, w.name(), "", w.seq()));
        }
        linkSession(w.sessionId(), lock.name);
      }
      locks.put(lock.name, lock);
    }
    for (String name : restoringHolders.keySet()) {
      if (!restoringLocks.containsKey(name)) {
        throw new IllegalStateException("restored holders of lock '" + name + "' without its lock record");
      }
    }
    for (String name : restoringWaiters.keySet()) {
      if (!restoringLocks.containsKey(name)) {
        throw new IllegalStateException("restored waiters of lock '" + name + "' without its lock record");
      }
    }
    restoringLocks.clear();
    restoringHolders.clear();
    restoringWaiters.clear();
    checkInvariants();
  }

  // ------------------------------------------------------------------------------------------------
  // Invariants
  // ------------------------------------------------------------------------------------------------

  /** Throws IllegalStateException naming the first broken invariant. O(state): for tests and restore. */
  public void checkInvariants() {
    long holders = 0;
    long waiters = 0;
    int deadlineCount = 0;
    for (LockState lock : locks.values()) {
      check(!lock.isEmpty(), "empty lock kept: " + lock.name);
      check(lock.size >= 1 && lock.size <= Limits.LOCK_SIZE_MAX, "bad size of " + lock.name);
      check(lock.holders.size() <= lock.size, "more holders than size in " + lock.name);
      check(lock.waiters.isEmpty() || lock.isFull(), "waiters on a lock with free slots: " + lock.name);
      long lastToken = 0;
      for (Holder h : lock.holders.values()) {
        check(h.token() > lastToken, "tokens not increasing in " + lock.name);
        check(h.token() <= meta.lastToken(), "token above lastToken in " + lock.name);
        lastToken = h.token();
        check(h.sessionId() == 0 || sessions.containsKey(h.sessionId()), "holder of a dead session in " + lock.name);
        check(!h.hasLease() || deadlines.contains(leaseDue(h)), "lease not indexed in " + lock.name);
        check(h.sessionId() == 0 || sessionLocks.getOrDefault(h.sessionId(), new LinkedHashSet<>()).contains(lock.name),
            "holder session not linked in " + lock.name);
        deadlineCount += h.hasLease() ? 1 : 0;
        holders++;
      }
      check(lock.waiterKeys.size() == lock.waiters.size(), "waiter keys not unique in " + lock.name);
      long lastSeq = 0;
      for (Waiter w : lock.waiters) {
        check(w.seq() > lastSeq, "waiters out of order in " + lock.name);
        check(w.seq() < meta.nextWaiterSeq(), "waiter seq beyond nextWaiterSeq in " + lock.name);
        check(w.size() == lock.size, "waiter size differs from lock size in " + lock.name);
        lastSeq = w.seq();
        check(w.sessionId() == 0 || sessions.containsKey(w.sessionId()), "orphan waiter of a dead session in " + lock.name);
        check(waitersByRequest.get(new RequestRef(w.clientId(), w.requestId())) == w, "waiter not indexed in " + lock.name);
        check(lock.waiterKeys.contains(w.key()) && !lock.holders.containsKey(w.key()),
            "waiter key not indexed or also a holder's in " + lock.name);
        deadlineCount += w.waitDeadlineMs() > 0 ? 1 : 0;
        waiters++;
      }
    }
    for (Session s : sessions.values()) {
      check(deadlines.contains(sessionDue(s)), "session deadline not indexed: " + s.id());
      deadlineCount++;
    }
    check(deadlineCount == deadlines.size(), "deadline index has " + deadlines.size() + " entries, state has " + deadlineCount);
    check(holders == holderCount, "holder count " + holderCount + " but " + holders + " holders");
    check(waiters == waiterCount, "waiter count " + waiterCount + " but " + waiters + " waiters");
    check(waitersByRequest.size() == waiters, "waiter index size differs");
    check(outcomeKeys.size() == outcomes.size(), "outcome index size differs");
    for (Iterator<Map.Entry<Long, LinkedHashSet<String>>> it = sessionLocks.entrySet().iterator(); it.hasNext(); ) {
      check(sessions.containsKey(it.next().getKey()), "session link of a dead session");
    }
  }

  private static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException("lock table invariant broken: " + message);
    }
  }
}
