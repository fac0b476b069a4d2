package io.hasp.examples;

import io.hasp.client.HaspClient;
import io.hasp.client.TaskLock;
import io.hasp.client.TaskLockedException;

/**
 * Task locking (like Huey's lock_task): every worker runs the periodic task "nightly-report", but never two at
 * once; a worker that finds it running elsewhere skips this run instead of waiting.
 * Args: [runs, default 5] [ms per run, default 300].
 */
public final class TaskWorker {
  public static void main(String[] args) throws Exception {
    int runs = Examples.intArg(args, 0, 5);
    int work = Examples.intArg(args, 1, 300);
    int ran = 0;
    int skipped = 0;
    long pid = ProcessHandle.current().pid();
    try (HaspClient client = Examples.client()) {
      TaskLock report = client.lockTask("nightly-report");
      for (int i = 0; i < runs; i++) {
        try (TaskLock.Held held = report.acquire()) {
          System.out.println("worker " + pid + ": running nightly-report (token " + held.token() + ")");
          Thread.sleep(work);
          ran++;
        } catch (TaskLockedException e) {
          System.out.println("worker " + pid + ": nightly-report is running elsewhere, skipped");
          skipped++;
          Thread.sleep(100);
        }
      }
    }
    System.out.println("worker " + pid + ": ran " + ran + ", skipped " + skipped);
  }
}
