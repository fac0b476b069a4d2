package io.hasp.chaos.history;

import io.hasp.server.cli.HaspCli.Json;

/**
 * One operation a logical client process ran, from invocation to completion.
 *
 * @param id unique, in invocation order
 * @param process the logical process (one Java client and session each); a process that saw an unknown
 *     outcome is retired and replaced by a new process number
 * @param workload which workload ran it (mutex, semaphore, lease, reads)
 * @param f what was called: acquire, release, is-locked, get-lock, write (the fencing register)
 * @param lock the lock name
 * @param size the lock's size
 * @param invokeNs when it was sent, nanoseconds since the run started
 * @param completeNs when its answer arrived, or -1 when none did (unknown outcome)
 * @param wallMs the harness's wall clock at invocation
 * @param outcome ok (took effect), fail (certainly did not), unknown (may have)
 * @param token the fencing token of a granted acquire or of a register write, else 0
 * @param value what a read saw ("true"/"false" for is-locked; holder tokens joined by ',' for get-lock),
 *     whether a register write was accepted, or the error code of a failure
 */
public record OpRecord(long id, int process, String workload, String f, String lock, long size, long invokeNs,
    long completeNs, long wallMs, Outcome outcome, long token, String value) {

  /** ok, fail or unknown, as Jepsen's :ok, :fail and :info. */
  public enum Outcome { OK, FAIL, UNKNOWN }

  /** Latency in nanoseconds, or -1 for an unknown outcome. */
  public long latencyNs() {
    return completeNs < 0 ? -1 : completeNs - invokeNs;
  }

  /** One JSON object (one line of history.jsonl). */
  public String toJson() {
    return "{\"id\":" + id + ",\"process\":" + process + ",\"workload\":\"" + workload + "\",\"f\":\"" + f
        + "\",\"lock\":" + Json.quote(lock) + ",\"size\":" + size + ",\"invoke_ns\":" + invokeNs
        + ",\"complete_ns\":" + completeNs + ",\"wall_ms\":" + wallMs + ",\"outcome\":\""
        + outcome.name().toLowerCase() + "\",\"token\":" + token + ",\"value\":" + Json.quote(value) + "}";
  }
}
