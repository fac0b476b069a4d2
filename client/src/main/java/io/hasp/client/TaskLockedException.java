package io.hasp.client;

/** A task lock is held by another worker; the task should be skipped (never waits). */
public final class TaskLockedException extends RuntimeException {
  private final String name;

  public TaskLockedException(String name) {
    super("task lock '" + name + "' is held by another worker");
    this.name = name;
  }

  /** The task lock's name. */
  public String name() {
    return name;
  }
}
