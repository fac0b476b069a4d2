package io.hasp.statemachine.core;

import java.util.List;

/** The outcome of one command: a value, never an exception. */
public sealed interface Result {
  /** The command changed nothing and failed for the reason given. */
  record Failure(ErrorCode code, String message) implements Result {}

  /** Acquire granted at once (or, from the dedupe table, earlier). */
  record Granted(Holder holder, long size) implements Result {}

  /** Acquire queued; the grant (or timeout) arrives later as an event. */
  record Queued(Waiter waiter) implements Result {}

  /** TryLock (or a zero wait) found the lock taken or its queue non-empty. */
  record NotAcquired(String name) implements Result {}

  record Renewed(Holder holder, long size) implements Result {}

  /** Names released by a flush or a session close, sorted. */
  record Names(List<String> names) implements Result {}

  record SessionState(Session session) implements Result {}

  /** Success with nothing to report (release, cancel, expire, refresh). */
  record Done() implements Result {}

  Done DONE = new Done();

  static Failure fail(ErrorCode code, String message) {
    return new Failure(code, message);
  }
}
