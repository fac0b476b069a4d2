package io.hasp.statemachine.core;

import java.util.List;

/** The outcome of one command: a value, never an exception. */
public sealed interface Result {
  /** The command changed nothing (beyond settling its client's earlier requests) and failed for the reason given. */
  record Failure(ErrorCode code, String message) implements Result {}

  /** Acquire granted at once, or earlier (a retry finds the live hold of its request). */
  record Granted(Holder holder, long size) implements Result {}

  /** Acquire queued; the grant (or timeout) arrives later as an event. */
  record Queued(Waiter waiter) implements Result {}

  /** TryLock (or a zero wait) found the lock taken or its queue non-empty. */
  record NotAcquired(String name) implements Result {}

  record Renewed(Holder holder, long size) implements Result {}

  /**
   * Names released by a flush or a session close, sorted, at most {@link Limits#REPLY_NAMES_MAX} of them.
   *
   * @param total how many names were released in all
   * @param resumeAfter a flush of every lock that stopped after this name (more remain); empty when done
   */
  record Names(List<String> names, long total, String resumeAfter) implements Result {}

  record SessionState(Session session) implements Result {}

  /** What an {@link Command.Abandon} found. */
  record Abandoned(AbandonOutcome outcome) implements Result {}

  enum AbandonOutcome {
    /** The request waited; its waiter is gone. */
    WAITER_REMOVED,
    /** The request had been granted; the hold is released. */
    GRANT_RELEASED,
    /** The request had already ended (answered, timed out, released): nothing to undo. */
    ALREADY_SETTLED,
    /** A newer attempt of the request was made since the one abandoned: it is left alone. */
    NEWER_ATTEMPT,
    /** The request never arrived; it is refused should it arrive later. */
    NOT_SEEN
  }

  /** Success with nothing to report (release, expire, refresh). */
  record Done() implements Result {}

  Done DONE = new Done();

  static Failure fail(ErrorCode code, String message) {
    return new Failure(code, message);
  }

  static Names names(List<String> all, String resumeAfter) {
    List<String> shown = all.size() > Limits.REPLY_NAMES_MAX ? all.subList(0, Limits.REPLY_NAMES_MAX) : all;
    return new Names(List.copyOf(shown), all.size(), resumeAfter);
  }
}
