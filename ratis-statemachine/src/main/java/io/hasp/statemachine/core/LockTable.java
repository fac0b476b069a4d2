package io.hasp.statemachine.core;

import static io.hasp.statemachine.core.Validate.firstNonNull;
import static io.hasp.statemachine.core.Validate.invalid;

import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.hasp.statemachine.core.Result.AbandonOutcome;
import io.hasp.statemachine.core.Result.Failure;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The replicated lock table. Deterministic: the same commands with the same log positions produce the same
 * state and results on every replica. Not thread-safe; the state machine applies commands from one thread
 * and guards reads with its own lock.
 *
 * <p>Each command costs what it touches, never the length of a queue or the size of the table: waiters are
 * indexed by seq, key, party and request ({@link LockQueue}), a session's holders and waiters by exact
 * reference ({@link SessionIndex}), and a new leader's Refresh is O(1) (deadlines it extends are moved lazily
 * when they come due, see {@link #effectiveExpiry(Holder)}).
 *
 * <p>Invariants ({@link TableInvariants}): a lock has at most {@code size} holders and exists only while it has
 * holders or waiters; it has waiters only while full; waiters are FIFO by seq and asked for the lock's size;
 * fencing tokens increase strictly; holders and waiters with a session refer to a live one; every index agrees
 * with the state it indexes.
 */
public final class LockTable {
  final TreeMap<String, LockState> locks = new TreeMap<>();
  final SessionIndex sessions = new SessionIndex();
  final OutcomeTable outcomes = new OutcomeTable();
  // not final: a restore replaces them with maps sized for every restored record (no rehash per doubling)
  Map<RequestRef, Waiter> waitersByRequest = new HashMap<>();
  /** The live holder of each identified request (kept current when a holder is replaced by an updated copy). */
  Map<RequestRef, Holder> holdersByRequest = new HashMap<>();
  final TreeSet<Deadline> deadlines = new TreeSet<>(Deadline.ORDER);
  long holderCount;
  long waiterCount;
  private Meta meta = Meta.INITIAL;

  // ------------------------------------------------------------------------------------------------
  // Commands
  // ------------------------------------------------------------------------------------------------

  /**
   * Applies one committed command.
   *
   * @param index the Raft log index of the entry. Several commands may share one entry (a batch): the fencing
   *     token of a grant is {@code max(lastToken + 1, index)} and a new session id
   *     {@code max(lastSessionId + 1, index)}, so both equal the log index when an entry holds one command and
   *     are strictly increasing always
   * @param term the Raft term of the entry, i.e. of the leader that proposed it
   * @param changes receives every record change and event, in order
   */
  public Result apply(long index, long term, Command command, Changes changes) {
    Objects.requireNonNull(command, "command");
    Objects.requireNonNull(changes, "changes");
    if (index <= 0 || term < 0) {
      throw new IllegalArgumentException("bad log position: index " + index + ", term " + term);
    }
    Failure badOrigin = Validate.origin(command.origin());
    if (badOrigin != null) {
      return badOrigin;
    }
    long now = Math.max(command.nowMs(), meta.lastNowMs());
    Meta before = meta;
    meta = meta.withLastNowMs(now);
    if (!(command instanceof Command.KeepAlive)) {
      // a keep-alive's mark is precise (it lists the exceptions); every other request's mark is contiguous
      outcomes.applyMark(command.origin(), now, changes);
    }
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
    } else if (command instanceof Command.Abandon c) {
      result = abandon(index, now, c, changes);
    } else if (command instanceof Command.Expire c) {
      result = expire(index, term, now, c, changes);
    } else if (command instanceof Command.Refresh c) {
      result = refresh(term, now, c);
    } else {
      throw new IllegalArgumentException("unknown command " + command.getClass().getName());
    }
    if (result instanceof Failure) {
      meta = before; // a failure does not move the table's clock (it changed nothing but settled marks)
    } else if (!meta.equals(before)) {
      changes.putMeta(meta);
    }
    return result;
  }

  private Result acquire(long index, long now, Command.Acquire c, Changes changes) {
    Failure invalid = firstNonNull(Validate.name(c.name()), Validate.owner(c.owner()), Validate.key(c.key()),
        Validate.sessionKey(c.sessionKey(), c.sessionId() != 0));
    if (invalid != null) {
      return invalid;
    }
    if (c.size() < 1 || c.size() > Limits.LOCK_SIZE_MAX) {
      return Result.fail(ErrorCode.INVALID_SIZE,
          "lock size must be between 1 and " + Limits.LOCK_SIZE_MAX + ", got " + c.size());
    }
    if (c.leaseMs() < 0 || c.leaseMs() > Limits.LEASE_MS_MAX) {
      return invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + " (or absent), got " + c.leaseMs());
    }
    if (c.waitTimeoutMs() < -1 || c.waitTimeoutMs() > Limits.WAIT_TIMEOUT_MS_MAX) {
      return invalid("wait_timeout_ms must be between 0 and " + Limits.WAIT_TIMEOUT_MS_MAX + " (or absent), got "
          + c.waitTimeoutMs());
    }
    if (c.attempt() < 0 || c.threadId() < 0 || c.sessionId() < 0) {
      return invalid("attempt, thread_id and session_id must not be negative");
    }
    Origin origin = c.origin();
    RequestRef ref = origin.identified() ? origin.ref() : null;
    if (ref != null) {
      Result again = acquireAgain(ref, c, changes);
      if (again != null) {
        return again;
      }
    }
    if (c.sessionId() != 0) {
      Failure s = checkSession(c.sessionId(), c.sessionKey());
      if (s != null) {
        return s;
      }
    }
    Capacity cap = meta.capacity();
    if (ref != null && outcomes.atCap(ref.clientId(), cap)) {
      return tooManyOutcomes(ref.clientId(), cap);
    }
    LockState lock = locks.get(c.name());
    if (lock != null && lock.size != c.size()) {
      return Result.fail(ErrorCode.LOCK_SIZE_MISMATCH,
          "lock '" + c.name() + "' exists with size " + lock.size + ", requested size " + c.size());
    }
    if (lock != null && lock.holders.containsKey(c.key())) {
      return Result.fail(ErrorCode.INVALID_KEY, "key already holds lock '" + c.name() + "'");
    }
    if (lock != null && lock.queue.containsKey(c.key())) {
      return Result.fail(ErrorCode.INVALID_KEY, "key already waits for lock '" + c.name() + "'");
    }
    long holdSession = c.detached() ? 0 : c.sessionId();
    if (lock == null || (!lock.isFull() && lock.queue.isEmpty())) {
      if (lock == null && locks.size() >= cap.locksMax()) {
        return Result.fail(ErrorCode.LIMIT_EXCEEDED, "the cluster already has " + cap.locksMax()
            + " locks (limits.locks.max)");
      }
      if (holderCount >= cap.holdersMax()) {
        return Result.fail(ErrorCode.LIMIT_EXCEEDED, "the cluster already has " + cap.holdersMax()
            + " holders (limits.holders.max)");
      }
      if (lock == null) {
        lock = new LockState(c.name(), c.size());
        locks.put(c.name(), lock);
        changes.putLock(c.name(), c.size());
      }
      Holder holder = grant(index, now, lock, c.key(), holdSession, c.owner(), c.leaseMs(), origin.clientId(),
          origin.requestId(), c.attempt(), changes);
      return new Result.Granted(holder, lock.size);
    }
    if (c.tryOnly() || c.waitTimeoutMs() == 0) {
      Result notAcquired = new Result.NotAcquired(c.name());
      remember(ref, now, notAcquired, changes);
      return notAcquired;
    }
    if (ref == null) {
      // waiters are found again, abandoned and settled by their request
      return invalid("an acquire that waits needs a client_id and a request_id");
    }
    Waiter superseded = lock.queue.ofParty(c.sessionId(), c.threadId());
    int others = superseded == null ? 0 : 1;
    if (lock.queue.size() - others >= cap.waitersPerLockMax()) {
      return Result.fail(ErrorCode.LIMIT_EXCEEDED, "lock '" + c.name() + "' already has " + cap.waitersPerLockMax()
          + " waiters (limits.waiters.per.lock.max)");
    }
    if (waiterCount - others >= cap.waitersMax()) {
      return Result.fail(ErrorCode.LIMIT_EXCEEDED, "the cluster already has " + cap.waitersMax()
          + " waiters (limits.waiters.max)");
    }
    if (superseded != null) {
      removeWaiter(lock, superseded, now, ErrorCode.WAIT_CANCELLED, "the wait for lock '" + c.name()
          + "' was superseded by request " + origin.requestId() + " of the same session and thread", changes);
    }
    long deadline = c.waitTimeoutMs() < 0 ? 0 : now + c.waitTimeoutMs();
    Waiter waiter = new Waiter(c.name(), meta.nextWaiterSeq(), origin.clientId(), origin.requestId(),
        c.sessionId(), c.detached() && c.sessionId() != 0, c.threadId(), c.attempt(), c.owner(), c.leaseMs(),
        deadline, c.key(), c.size());
    meta = meta.withNextWaiterSeq(meta.nextWaiterSeq() + 1);
    enqueue(lock, waiter, changes);
    return new Result.Queued(waiter);
  }

  /**
   * The answer to an acquire whose request the table has seen: its waiter (re-attached), its live hold, its
   * remembered outcome, or a refusal when the client settled it already. Null for a request never seen.
   */
  private Result acquireAgain(RequestRef ref, Command.Acquire c, Changes changes) {
    Waiter w = waitersByRequest.get(ref);
    if (w != null) {
      if (!w.name().equals(c.name())) {
        return reusedRequestId(ref, w.name(), c.name());
      }
      if (c.attempt() > w.attempt()) {
        Waiter newer = w.withAttempt(c.attempt());
        locks.get(w.name()).queue.replace(newer);
        waitersByRequest.put(ref, newer);
        changes.putWaiter(newer);
        w = newer;
      }
      return new Result.Queued(w);
    }
    Holder h = holdersByRequest.get(ref);
    if (h != null) {
      if (!h.name().equals(c.name())) {
        return reusedRequestId(ref, h.name(), c.name());
      }
      LockState lock = locks.get(h.name());
      if (c.attempt() > h.attempt()) {
        Holder newer = h.withAttempt(c.attempt());
        replaceHolder(lock, h, newer, changes);
        h = newer;
      }
      return new Result.Granted(effective(h), lock.size);
    }
    Result previous = outcomes.get(ref);
    if (previous != null) {
      return previous;
    }
    if (outcomes.settled(ref)) {
      return lateCopy(ref);
    }
    return null;
  }

  private Result release(long index, long now, Command.Release c, Changes changes) {
    Failure invalid = firstNonNull(Validate.name(c.name()), Validate.key(c.key()));
    if (invalid != null) {
      return invalid;
    }
    RequestRef ref = c.origin().identified() ? c.origin().ref() : null;
    Result previous = previously(ref);
    if (previous != null) {
      return previous;
    }
    LockState lock = locks.get(c.name());
    Holder holder = lock == null ? null : lock.holders.get(c.key());
    if (holder == null) {
      return lock == null
          ? Result.fail(ErrorCode.LOCK_NOT_FOUND, "lock '" + c.name() + "' is not held")
          : Result.fail(ErrorCode.INVALID_KEY, "key does not hold lock '" + c.name() + "'");
    }
    removeHolder(lock, holder, ReleaseReason.UNLOCK, now, changes);
    promote(index, now, lock, changes);
    deleteIfEmpty(lock, changes);
    remember(ref, now, Result.DONE, changes);
    return Result.DONE;
  }

  private Result renew(long now, Command.Renew c, Changes changes) {
    Failure invalid = firstNonNull(Validate.name(c.name()), Validate.key(c.key()));
    if (invalid != null) {
      return invalid;
    }
    if (c.leaseMs() <= 0 || c.leaseMs() > Limits.LEASE_MS_MAX) {
      return invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + ", got " + c.leaseMs());
    }
    RequestRef ref = c.origin().identified() ? c.origin().ref() : null;
    Result previous = previously(ref);
    if (previous != null) {
      return previous;
    }
    LockState lock = locks.get(c.name());
    Holder holder = lock == null ? null : lock.holders.get(c.key());
    if (holder == null) {
      // whether the lock still exists or not: this key lost it (released, flushed, or its lease or session ended)
      return Result.fail(ErrorCode.INVALID_KEY, "key does not hold lock '" + c.name()
          + "' (released, or its lease or session ended)");
    }
    if (ref != null && outcomes.atCap(ref.clientId(), meta.capacity())) {
      return tooManyOutcomes(ref.clientId(), meta.capacity());
    }
    Holder renewed = holder.withLease(c.leaseMs(), now + c.leaseMs());
    replaceHolder(lock, holder, renewed, changes);
    Result result = new Result.Renewed(renewed, lock.size);
    remember(ref, now, result, changes);
    return result;
  }

  private Result flush(long index, long now, Command.Flush c, Changes changes) {
    if (c.names().size() > Limits.FLUSH_NAMES_MAX) {
      return invalid("at most " + Limits.FLUSH_NAMES_MAX + " names per flush, got " + c.names().size());
    }
    for (String name : c.names()) {
      Failure bad = Validate.name(name);
      if (bad != null) {
        return bad;
      }
    }
    if (!c.after().isEmpty()) {
      Failure bad = Validate.name(c.after());
      if (bad != null) {
        return bad;
      }
    }
    RequestRef ref = c.origin().identified() ? c.origin().ref() : null;
    Result previous = previously(ref);
    if (previous != null) {
      return previous;
    }
    if (ref != null && outcomes.atCap(ref.clientId(), meta.capacity())) {
      return tooManyOutcomes(ref.clientId(), meta.capacity());
    }
    List<String> targets = new ArrayList<>();
    String resumeAfter = "";
    if (c.names().isEmpty()) {
      NavigableMap<String, LockState> tail = c.after().isEmpty() ? locks : locks.tailMap(c.after(), false);
      for (String name : tail.keySet()) {
        if (targets.size() == Limits.FLUSH_LOCKS_PER_ENTRY) {
          resumeAfter = targets.get(targets.size() - 1);
          break;
        }
        targets.add(name);
      }
    } else {
      targets.addAll(new TreeSet<>(c.names()));
    }
    List<String> released = new ArrayList<>();
    for (String name : targets) {
      LockState lock = locks.get(name);
      if (lock == null || lock.holders.isEmpty()) {
        continue;
      }
      for (Holder holder : new ArrayList<>(lock.holders.values())) {
        removeHolder(lock, holder, ReleaseReason.FLUSHED, now, changes);
      }
      released.add(name);
      promote(index, now, lock, changes);
      deleteIfEmpty(lock, changes);
    }
    Result result = Result.names(released, resumeAfter);
    remember(ref, now, result, changes);
    return result;
  }

  private Result openSession(long index, long now, Command.OpenSession c, Changes changes) {
    Failure invalid = firstNonNull(Validate.owner(c.owner()), Validate.sessionKey(c.key(), true));
    if (invalid != null) {
      return invalid;
    }
    if (c.ttlMs() < Limits.SESSION_TTL_MS_MIN || c.ttlMs() > Limits.SESSION_TTL_MS_MAX) {
      return invalid("session ttl_ms must be between " + Limits.SESSION_TTL_MS_MIN + " and "
          + Limits.SESSION_TTL_MS_MAX + ", got " + c.ttlMs());
    }
    RequestRef ref = c.origin().identified() ? c.origin().ref() : null;
    Result previous = previously(ref);
    if (previous != null) {
      return previous;
    }
    Capacity cap = meta.capacity();
    if (sessions.size() >= cap.sessionsMax()) {
      return Result.fail(ErrorCode.LIMIT_EXCEEDED, "the cluster already has " + cap.sessionsMax()
          + " sessions (limits.sessions.max)");
    }
    if (ref != null && outcomes.atCap(ref.clientId(), cap)) {
      return tooManyOutcomes(ref.clientId(), cap);
    }
    long id = Math.max(meta.lastSessionId() + 1, index);
    meta = meta.withLastSessionId(id);
    Session session = new Session(id, c.ttlMs(), now + c.ttlMs(), c.owner(), c.origin().clientId(), c.key());
    sessions.put(session);
    deadlines.add(Deadline.of(session));
    changes.putSession(session);
    outcomes.sessionOpened(session.clientId(), changes);
    Result result = new Result.SessionState(session);
    remember(ref, now, result, changes);
    return result;
  }

  private Result keepAlive(long now, Command.KeepAlive c, Changes changes) {
    Failure invalid = Validate.sessionKey(c.key(), true);
    if (invalid != null) {
      return invalid;
    }
    if (c.unsettled().size() > Limits.UNSETTLED_IDS_MAX) {
      return invalid("at most " + Limits.UNSETTLED_IDS_MAX + " unsettled request ids per keep-alive, got "
          + c.unsettled().size());
    }
    Failure s = checkSession(c.sessionId(), c.key());
    if (s != null) {
      return s;
    }
    Session session = sessions.get(c.sessionId());
    Session kept = session.withExpiresAtMs(Math.max(effectiveExpiry(session), now + session.ttlMs()));
    replaceSession(session, kept, changes);
    if (c.origin().identified()) {
      outcomes.applyKeepAliveMark(c.origin().clientId(), c.origin().settledUpTo(), c.unsettled(), now, changes);
    }
    return new Result.SessionState(kept);
  }

  private Result closeSession(long index, long now, Command.CloseSession c, Changes changes) {
    Failure invalid = Validate.sessionKey(c.key(), true);
    if (invalid != null) {
      return invalid;
    }
    RequestRef ref = c.origin().identified() ? c.origin().ref() : null;
    Result previous = previously(ref);
    if (previous != null) {
      return previous;
    }
    Failure s = checkSession(c.sessionId(), c.key());
    if (s != null) {
      return s;
    }
    Result result = Result.names(endSession(index, now, sessions.get(c.sessionId()), changes), "");
    remember(ref, now, result, changes);
    return result;
  }

  private Result abandon(long index, long now, Command.Abandon c, Changes changes) {
    if (c.origin().clientId().isEmpty() || c.targetRequestId() <= 0) {
      return invalid("an abandon needs the client_id of the request and its request_id");
    }
    if (c.upToAttempt() < 0) {
      return invalid("up_to_attempt must not be negative");
    }
    RequestRef ref = new RequestRef(c.origin().clientId(), c.targetRequestId());
    Waiter w = waitersByRequest.get(ref);
    if (w != null) {
      if (w.attempt() > c.upToAttempt()) {
        return new Result.Abandoned(AbandonOutcome.NEWER_ATTEMPT);
      }
      LockState lock = locks.get(w.name());
      removeWaiter(lock, w, now, ErrorCode.WAIT_CANCELLED, "the wait for lock '" + w.name()
          + "' was abandoned by the client", changes);
      deleteIfEmpty(lock, changes);
      return new Result.Abandoned(AbandonOutcome.WAITER_REMOVED);
    }
    Holder h = holdersByRequest.get(ref);
    if (h != null) {
      LockState lock = locks.get(h.name());
      if (h.attempt() > c.upToAttempt()) {
        return new Result.Abandoned(AbandonOutcome.NEWER_ATTEMPT);
      }
      removeHolder(lock, h, ReleaseReason.ABANDONED, now, changes);
      promote(index, now, lock, changes);
      deleteIfEmpty(lock, changes);
      remember(ref, now, Result.fail(ErrorCode.WAIT_CANCELLED, "lock '" + h.name()
          + "' was granted, then released because the client abandoned the request"), changes);
      return new Result.Abandoned(AbandonOutcome.GRANT_RELEASED);
    }
    if (outcomes.get(ref) != null || outcomes.settled(ref)) {
      return new Result.Abandoned(AbandonOutcome.ALREADY_SETTLED);
    }
    if (c.upToAttempt() == Long.MAX_VALUE) {
      // a copy of the request may still be on its way (a retry through another node): refuse it when it comes
      remember(ref, now, Result.fail(ErrorCode.WAIT_CANCELLED, "the request was abandoned by the client before it "
          + "arrived"), changes);
    }
    return new Result.Abandoned(AbandonOutcome.NOT_SEEN);
  }

  private Result expire(long index, long term, long now, Command.Expire c, Changes changes) {
    if (term != meta.refreshedTerm()) {
      return invalid("an Expire of term " + term + " is refused: that term's Refresh is not applied (last refreshed "
          + "term " + meta.refreshedTerm() + ")");
    }
    int budget = Math.max(1, Math.min(c.maxItems(), Limits.EXPIRIES_PER_TICK_MAX));
    while (budget > 0 && !deadlines.isEmpty() && deadlines.first().atMs() <= now) {
      Deadline due = deadlines.first();
      budget--;
      if (due instanceof Holder holder) {
        LockState lock = locks.get(holder.name());
        long effective = effectiveExpiry(holder);
        if (effective > now) {
          replaceHolder(lock, holder, holder.withLease(holder.leaseMs(), effective), changes);
        } else {
          removeHolder(lock, holder, ReleaseReason.LEASE_EXPIRED, now, changes);
          promote(index, now, lock, changes);
          deleteIfEmpty(lock, changes);
        }
      } else if (due instanceof Deadline.WaitEnd w) {
        LockState lock = locks.get(w.name());
        Waiter waiter = lock.queue.get(w.seq());
        removeWaiter(lock, waiter, now, ErrorCode.LOCK_WAIT_TIMEOUT,
            "timed out waiting for lock '" + waiter.name() + "'", changes);
        deleteIfEmpty(lock, changes);
      } else if (due instanceof Deadline.SessionEnd s) {
        Session session = sessions.get(s.sessionId());
        long effective = effectiveExpiry(session);
        if (effective > now) {
          replaceSession(session, session.withExpiresAtMs(effective), changes);
        } else {
          endSession(index, now, session, changes);
        }
      }
    }
    outcomes.expire(now, meta.capacity(), budget, changes);
    return Result.DONE;
  }

  private Result refresh(long term, long now, Command.Refresh c) {
    meta = meta.refreshed(term, now, c.capacity() == null ? meta.capacity() : c.capacity());
    return Result.DONE;
  }

  // ------------------------------------------------------------------------------------------------
  // Mutation helpers: each keeps every index (deadlines, session links, request index, counters) in step
  // ------------------------------------------------------------------------------------------------

  private Holder grant(long index, long now, LockState lock, String key, long sessionId, String owner,
      long leaseMs, String clientId, long requestId, long attempt, Changes changes) {
    long token = Math.max(meta.lastToken() + 1, index);
    meta = meta.withLastToken(token);
    Holder holder = new Holder(lock.name, key, token, sessionId, owner, leaseMs, leaseMs > 0 ? now + leaseMs : 0,
        now, clientId, requestId, attempt);
    lock.holders.put(holder);
    index(lock, holder, deadlines);
    changes.putHolder(holder);
    return holder;
  }

  private void enqueue(LockState lock, Waiter waiter, Changes changes) {
    lock.queueToAdd().add(waiter);
    index(lock, waiter, deadlines);
    changes.putWaiter(waiter);
  }

  /**
   * Counts a holder already in its lock's map and enters it into every index; its lease end goes to
   * {@code leaseEnds} (the deadline index, or a restore's list that becomes it).
   */
  private void index(LockState lock, Holder holder, Collection<Deadline> leaseEnds) {
    holderCount++;
    if (holder.hasLease()) {
      leaseEnds.add(Deadline.of(holder));
    }
    if (holder.sessionId() != 0) {
      sessions.linkHolder(holder.sessionId(), lock.name, holder.key());
    }
    if (holder.identified()) {
      holdersByRequest.put(holder.ref(), holder);
    }
  }

  /** Like {@link #index(LockState, Holder, java.util.Collection)} for a waiter already in its lock's queue. */
  private void index(LockState lock, Waiter waiter, Collection<Deadline> waitEnds) {
    waiterCount++;
    waitersByRequest.put(waiter.ref(), waiter);
    if (waiter.waitDeadlineMs() > 0) {
      waitEnds.add(Deadline.of(waiter));
    }
    if (waiter.sessionId() != 0) {
      sessions.linkWaiter(waiter.sessionId(), lock.name, waiter.seq());
    }
  }

  /** Grants queued waiters, in order, while the lock has free slots. */
  private void promote(long index, long now, LockState lock, Changes changes) {
    while (!lock.isFull() && !lock.queue.isEmpty()) {
      Waiter waiter = lock.queue.pollFirst();
      dequeued(lock, waiter, changes);
      Holder holder = grant(index, now, lock, waiter.key(), waiter.holdSessionId(), waiter.owner(),
          waiter.leaseMs(), waiter.clientId(), waiter.requestId(), waiter.attempt(), changes);
      changes.waiterGranted(waiter, holder, lock.size);
    }
  }

  /** The indexes of a waiter that just left its lock's queue. */
  private void dequeued(LockState lock, Waiter waiter, Changes changes) {
    waiterCount--;
    waitersByRequest.remove(waiter.ref());
    if (waiter.waitDeadlineMs() > 0) {
      deadlines.remove(Deadline.of(waiter));
    }
    if (waiter.sessionId() != 0) {
      sessions.unlinkWaiter(waiter.sessionId(), lock.name, waiter.seq());
    }
    changes.deleteWaiter(lock.name, waiter.seq());
  }

  /**
   * Ends a hold. After an unlock, a flush or a lease expiry the request that was granted keeps its grant as its
   * outcome (until its client settles it), so a late copy of that request gets the original grant back instead
   * of a second one; an abandoned grant's outcome is set by the abandon, and a session's end ages its outcomes.
   */
  private void removeHolder(LockState lock, Holder holder, ReleaseReason reason, long now, Changes changes) {
    if (holder.identified() && (reason == ReleaseReason.UNLOCK || reason == ReleaseReason.FLUSHED
        || reason == ReleaseReason.LEASE_EXPIRED)) {
      remember(holder.ref(), now, new Result.Granted(effective(holder), lock.size), changes);
    }
    lock.holders.remove(holder.key());
    holderCount--;
    if (holder.hasLease()) {
      deadlines.remove(Deadline.of(holder));
    }
    if (holder.sessionId() != 0) {
      sessions.unlinkHolder(holder.sessionId(), lock.name, holder.key());
    }
    if (holder.identified()) {
      holdersByRequest.remove(holder.ref());
    }
    changes.deleteHolder(lock.name, holder.key());
    changes.holderReleased(holder, reason);
  }

  private void replaceHolder(LockState lock, Holder old, Holder updated, Changes changes) {
    if (old.hasLease()) {
      deadlines.remove(Deadline.of(old));
    }
    lock.holders.put(updated);
    if (updated.hasLease()) {
      deadlines.add(Deadline.of(updated));
    }
    if (updated.identified()) {
      holdersByRequest.put(updated.ref(), updated);
    }
    changes.putHolder(updated);
  }

  private void removeWaiter(LockState lock, Waiter waiter, long now, ErrorCode reason, String message,
      Changes changes) {
    lock.queue.remove(waiter);
    dequeued(lock, waiter, changes);
    remember(waiter.ref(), now, Result.fail(reason, message), changes);
    changes.waiterRemoved(waiter, reason);
  }

  private void replaceSession(Session old, Session updated, Changes changes) {
    deadlines.remove(Deadline.of(old));
    sessions.put(updated);
    deadlines.add(Deadline.of(updated));
    changes.putSession(updated);
  }

  /** Releases the session's holders, drops its waiters, deletes it; returns the released lock names, sorted. */
  private List<String> endSession(long index, long now, Session session, Changes changes) {
    TreeMap<String, SessionIndex.LockLinks> links = sessions.remove(session.id());
    deadlines.remove(Deadline.of(session));
    changes.deleteSession(session.id());
    List<String> released = new ArrayList<>();
    // in name order: the order of the grants below decides their fencing tokens, which every replica must
    // assign alike
    for (Map.Entry<String, SessionIndex.LockLinks> e : links.entrySet()) {
      LockState lock = locks.get(e.getKey());
      for (long seq : e.getValue().waiterSeqs) {
        removeWaiter(lock, lock.queue.get(seq), now, ErrorCode.SESSION_EXPIRED, "session " + session.id()
            + " ended while waiting for lock '" + lock.name + "'", changes);
      }
      for (String key : e.getValue().holderKeys) {
        removeHolder(lock, lock.holders.get(key), ReleaseReason.SESSION_ENDED, now, changes);
      }
      if (!e.getValue().holderKeys.isEmpty()) {
        released.add(lock.name);
      }
      promote(index, now, lock, changes);
      deleteIfEmpty(lock, changes);
    }
    outcomes.sessionEnded(session.clientId(), now, changes);
    return released;
  }

  private void deleteIfEmpty(LockState lock, Changes changes) {
    if (lock.isEmpty()) {
      locks.remove(lock.name);
      changes.deleteLock(lock.name);
    }
  }

  private void remember(RequestRef ref, long now, Result result, Changes changes) {
    if (ref != null) {
      outcomes.remember(ref, now, result, meta.capacity(), changes);
    }
  }

  /** The remembered outcome of a request, a refusal of a late copy of a settled one, or null (a new request). */
  private Result previously(RequestRef ref) {
    if (ref == null) {
      return null;
    }
    Result previous = outcomes.get(ref);
    if (previous != null) {
      return previous;
    }
    return outcomes.settled(ref) ? lateCopy(ref) : null;
  }

  private Failure checkSession(long sessionId, String key) {
    Session s = sessions.get(sessionId);
    if (s == null) {
      return Result.fail(ErrorCode.SESSION_EXPIRED, "session " + sessionId + " does not exist or expired");
    }
    if (!s.key().equals(key)) {
      return Result.fail(ErrorCode.PERMISSION_DENIED, "session_key does not match session " + sessionId
          + " (only the client that opened a session may use it)");
    }
    return null;
  }

  private static Failure lateCopy(RequestRef ref) {
    return invalid("request " + ref.requestId() + " of client " + ref.clientId()
        + " was already settled by that client; a late copy of it is ignored");
  }

  private static Failure reusedRequestId(RequestRef ref, String was, String now) {
    return invalid("request id " + ref.requestId() + " of client " + ref.clientId() + " was used for lock '" + was
        + "'; a retry must repeat the same request (got lock '" + now + "')");
  }

  private static Failure tooManyOutcomes(String clientId, Capacity cap) {
    return Result.fail(ErrorCode.LIMIT_EXCEEDED, "client " + clientId + " has " + cap.outcomesPerClientMax()
        + " unsettled requests (limits.outcomes.per.client.max); send settled_up_to with its requests");
  }

  // ------------------------------------------------------------------------------------------------
  // Effective deadlines: a Refresh at time r guarantees every lease and session until r + its length
  // ------------------------------------------------------------------------------------------------

  /** The lease deadline in force: the written one, or later when a leader's Refresh extended it. 0 = no lease. */
  long effectiveExpiry(Holder h) {
    return h.hasLease() ? Math.max(h.expiresAtMs(), meta.refreshedAtMs() + h.leaseMs()) : 0;
  }

  long effectiveExpiry(Session s) {
    return Math.max(s.expiresAtMs(), meta.refreshedAtMs() + s.ttlMs());
  }

  private Holder effective(Holder h) {
    long e = effectiveExpiry(h);
    return e == h.expiresAtMs() ? h : h.withLease(h.leaseMs(), e);
  }

  // ------------------------------------------------------------------------------------------------
  // Queries (read-only)
  // ------------------------------------------------------------------------------------------------

  /**
   * Whether applying this TryLock now would answer "not acquired" and change nothing the answer depends on: the
   * request is new (no waiter, hold, outcome or settle mark of it), its session (if any) is live with that key,
   * its lock exists with the same size and is full or has waiters (a TryLock never jumps the queue). Then a
   * node may answer it from a linearizable read of this state without a log entry: the answer is the one the log
   * would give at the read's point in time. Anything else (a grant, an error, a request seen before, a client at
   * its outcome cap) returns false and goes through the log. Pure: reads only.
   */
  public boolean tryLockFailsNow(Command.Acquire c) {
    if (!c.tryOnly() || firstNonNull(Validate.name(c.name()), Validate.owner(c.owner()), Validate.key(c.key()),
        Validate.sessionKey(c.sessionKey(), c.sessionId() != 0)) != null) {
      return false;
    }
    if (c.size() < 1 || c.size() > Limits.LOCK_SIZE_MAX || c.leaseMs() < 0 || c.leaseMs() > Limits.LEASE_MS_MAX
        || c.attempt() < 0 || c.threadId() < 0 || c.sessionId() < 0) {
      return false;
    }
    LockState lock = locks.get(c.name());
    if (lock == null || lock.size != c.size() || (!lock.isFull() && lock.queue.isEmpty())
        || lock.holders.containsKey(c.key()) || lock.queue.containsKey(c.key())) {
      return false;
    }
    Origin origin = c.origin();
    if (origin.identified()) {
      RequestRef ref = origin.ref();
      if (waitersByRequest.containsKey(ref) || holdersByRequest.containsKey(ref) || outcomes.get(ref) != null
          || outcomes.settled(ref) || outcomes.atCap(ref.clientId(), meta.capacity())) {
        return false;
      }
    }
    return c.sessionId() == 0 || checkSession(c.sessionId(), c.sessionKey()) == null;
  }

  public boolean isLocked(String name) {
    LockState lock = locks.get(name);
    return lock != null && !lock.holders.isEmpty();
  }

  /** Null when the lock does not exist; at most {@link Limits#REPLY_HOLDERS_MAX} holders listed. */
  public LockView getLock(String name) {
    LockState lock = locks.get(name);
    if (lock == null) {
      return null;
    }
    List<Holder> holders = new ArrayList<>(Math.min(lock.holders.size(), Limits.REPLY_HOLDERS_MAX));
    for (Holder h : lock.holders.values()) {
      if (holders.size() == Limits.REPLY_HOLDERS_MAX) {
        break;
      }
      holders.add(effective(h));
    }
    return new LockView(lock.name, lock.size, List.copyOf(holders), lock.holders.size(), lock.queue.size());
  }

  /**
   * Up to {@code limit} locks whose name starts with {@code prefix} and sorts after {@code after}, as summaries
   * (no holders listed; holderCount and waiters set).
   */
  public List<LockView> list(String prefix, String after, int limit) {
    List<LockView> page = new ArrayList<>();
    NavigableMap<String, LockState> tail = after.isEmpty() || after.compareTo(prefix) < 0
        ? locks.tailMap(prefix, true)
        : locks.tailMap(after, false);
    for (LockState lock : tail.values()) {
      if (!lock.name.startsWith(prefix) || page.size() >= limit) {
        break;
      }
      page.add(new LockView(lock.name, lock.size, List.of(), lock.holders.size(), lock.queue.size()));
    }
    return page;
  }

  /** The waiter queued by this request, or null. */
  public Waiter waiter(String clientId, long requestId) {
    return waitersByRequest.get(new RequestRef(clientId, requestId));
  }

  /** The live hold granted to this request (with its effective deadline), or null. */
  public Holder holderOf(String clientId, long requestId) {
    Holder h = holdersByRequest.get(new RequestRef(clientId, requestId));
    return h == null ? null : effective(h);
  }

  /** The live hold of lock {@code name} with this key (with its effective deadline), or null. */
  public Holder holder(String name, String key) {
    LockState lock = locks.get(name);
    Holder h = lock == null ? null : lock.holders.get(key);
    return h == null ? null : effective(h);
  }

  /** The size of a lock that exists, else 0. */
  public long sizeOf(String name) {
    LockState lock = locks.get(name);
    return lock == null ? 0 : lock.size;
  }

  /** The remembered outcome of this request, or null. */
  public Result outcome(String clientId, long requestId) {
    return outcomes.get(new RequestRef(clientId, requestId));
  }

  public Session session(long id) {
    Session s = sessions.get(id);
    return s == null ? null : s.withExpiresAtMs(effectiveExpiry(s));
  }

  /** True when an Expire command at {@code nowMs} would change something. */
  public boolean hasExpiryDue(long nowMs) {
    return (!deadlines.isEmpty() && deadlines.first().atMs() <= nowMs) || outcomes.hasDue(nowMs, meta.capacity());
  }

  /** The earliest lease, wait or session deadline as written, or Long.MAX_VALUE when there is none. */
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

  public long outcomeCount() {
    return outcomes.size();
  }

  public int clientCount() {
    return outcomes.clientCount();
  }

  public Meta meta() {
    return meta;
  }

  // ------------------------------------------------------------------------------------------------
  // Restore (loading persisted records; the store calls these in any order, then finishRestore)
  // ------------------------------------------------------------------------------------------------

  // Restore builds each structure once, from sorted input, instead of inserting record by record: at a million
  // held locks, TreeMap and TreeSet inserts and the garbage of per-lock temporary lists were most of a restart.
  // The store hands records over in key order (locks before holders), which is what these paths are fast for;
  // any other order is still restored correctly. Replaced (not cleared) after a restore: a cleared map keeps
  // its table, sized for every restored record.
  private List<LockState> restoringLocks = new ArrayList<>();
  private Map<String, LockState> restoringByName = new HashMap<>();
  private Map<String, List<Holder>> restoringHolders = new HashMap<>();
  private Map<String, List<Waiter>> restoringWaiters = new HashMap<>();
  private Map<String, String> restoringClientIds = new HashMap<>();
  private List<Deadline> restoringSessionEnds = new ArrayList<>();
  private long restoringHolderCount;
  private long restoringWaiterCount;

  public void restoreMeta(Meta restored) {
    meta = Objects.requireNonNull(restored);
  }

  public void restoreLock(String name, long size) {
    LockState lock = new LockState(name, size);
    if (restoringByName.putIfAbsent(name, lock) != null) {
      throw new IllegalStateException("lock '" + name + "' restored twice");
    }
    restoringLocks.add(lock);
  }

  /** How many locks a restore is about to hand over (an estimate is fine): sizes the maps it fills once. */
  public void expectRestoredLocks(long count) {
    if (restoringByName.isEmpty() && count > 0 && count <= Integer.MAX_VALUE / 2) {
      restoringByName = new HashMap<>(capacityFor(count));
      restoringLocks = new ArrayList<>((int) count);
    }
  }

  /** A HashMap capacity that holds {@code count} entries without a resize. */
  private static int capacityFor(long count) {
    return (int) Math.min(1 << 30, count * 4 / 3 + 1);
  }

  public void restoreHolder(Holder holder) {
    restoringHolderCount++;
    LockState lock = restoringByName.get(holder.name());
    // one String per lock name and per client id, not one per record
    String clientId = holder.clientId().isEmpty() ? holder.clientId()
        : restoringClientIds.computeIfAbsent(holder.clientId(), c -> c);
    if (lock != null && (lock.name != holder.name() || clientId != holder.clientId())) {
      holder = new Holder(lock.name, holder.key(), holder.token(), holder.sessionId(), holder.owner(),
          holder.leaseMs(), holder.expiresAtMs(), holder.acquiredAtMs(), clientId, holder.requestId(),
          holder.attempt());
    }
    if (lock == null) {
      restoringHolders.computeIfAbsent(holder.name(), n -> new ArrayList<>()).add(holder);
    } else if (lock.holders.put(holder) != null) {
      throw new IllegalStateException("holder '" + holder.key() + "' of lock '" + lock.name + "' restored twice");
    }
  }

  public void restoreWaiter(Waiter waiter) {
    restoringWaiterCount++;
    restoringWaiters.computeIfAbsent(waiter.name(), n -> new ArrayList<>()).add(waiter);
  }

  public void restoreSession(Session session) {
    sessions.put(session);
    restoringSessionEnds.add(Deadline.of(session));
    outcomes.restoreSession(session.clientId());
  }

  public void restoreClient(ClientMarks marks) {
    outcomes.restoreClient(marks);
  }

  public void restoreOutcome(String clientId, long requestId, long atMs, boolean aged, Result result) {
    outcomes.restoreOutcome(clientId, requestId, atMs, aged, result);
  }

  /** Rebuilds locks and every derived index from the restored records, then checks the records' invariants. */
  public void finishRestore() {
    for (Map.Entry<String, List<Holder>> e : restoringHolders.entrySet()) {
      LockState lock = restoringByName.get(e.getKey());
      if (lock == null) {
        throw new IllegalStateException("restored holders of lock '" + e.getKey() + "' without its lock record");
      }
      for (Holder h : e.getValue()) {
        restoreHolder(h);
      }
    }
    for (String name : restoringWaiters.keySet()) {
      if (!restoringByName.containsKey(name)) {
        throw new IllegalStateException("restored waiters of lock '" + name + "' without its lock record");
      }
    }
    // Deadlines are built in (kind, name, key or seq, id) order, so that a stable sort by time alone puts them in
    // Deadline.ORDER: with a million leases stamped by a few thousand batches (one now per batch), a comparator
    // sort spent most of its time comparing the names of equal times.
    Sorted.sortIfNeeded(restoringLocks, l -> l.name);
    holdersByRequest = new HashMap<>(capacityFor(restoringHolderCount));
    waitersByRequest = new HashMap<>(capacityFor(restoringWaiterCount));
    List<Deadline> leaseEnds = new ArrayList<>((int) Math.min(Integer.MAX_VALUE - 8, restoringHolderCount));
    List<Deadline> waitEnds = new ArrayList<>();
    for (LockState lock : restoringLocks) {
      int from = leaseEnds.size();
      if (lock.holders.size() > 1) {
        inTokenOrder(lock);
      }
      for (Holder h : lock.holders.values()) {
        index(lock, h, leaseEnds);
      }
      if (leaseEnds.size() - from > 1) {
        leaseEnds.subList(from, leaseEnds.size()).sort(Deadline.ORDER); // one lock's: in key order
      }
      List<Waiter> waiters = restoringWaiters.get(lock.name);
      if (waiters != null) {
        waiters.sort((a, b) -> Long.compare(a.seq(), b.seq()));
        for (Waiter w : waiters) {
          lock.queueToAdd().add(w);
          index(lock, w, waitEnds);
        }
      }
    }
    restoringSessionEnds.sort((a, b) -> Long.compare(((Deadline.SessionEnd) a).sessionId(),
        ((Deadline.SessionEnd) b).sessionId()));
    List<Deadline> all = new ArrayList<>(leaseEnds.size() + waitEnds.size() + restoringSessionEnds.size());
    all.addAll(leaseEnds);
    all.addAll(waitEnds);
    all.addAll(restoringSessionEnds);
    Sorted.fill(locks, restoringLocks, l -> l.name, false);
    Sorted.fill(deadlines, Sorted.stableByTime(all, Deadline::atMs));
    restoringLocks = new ArrayList<>();
    restoringByName = new HashMap<>();
    restoringHolders = new HashMap<>();
    restoringWaiters = new HashMap<>();
    restoringClientIds = new HashMap<>();
    restoringSessionEnds = new ArrayList<>();
    restoringHolderCount = 0;
    restoringWaiterCount = 0;
    TableInvariants.checkRecords(this);
  }

  /** Holders are kept in grant order; the store returns them in key order. */
  private static void inTokenOrder(LockState lock) {
    List<Holder> holders = new ArrayList<>(lock.holders.values());
    holders.sort((a, b) -> Long.compare(a.token(), b.token()));
    lock.holders.clear();
    for (Holder h : holders) {
      lock.holders.put(h);
    }
  }

  /** Throws IllegalStateException naming the first broken invariant. O(state): for tests and restore. */
  public void checkInvariants() {
    TableInvariants.check(this);
  }

  /** For store round-trip tests: every client's settle marks. */
  Map<String, ClientMarks> clientMarks() {
    return outcomes.allMarks();
  }
}
