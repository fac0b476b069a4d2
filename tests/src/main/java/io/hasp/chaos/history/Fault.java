package io.hasp.chaos.history;

import io.hasp.server.cli.HaspCli.Json;

/**
 * One fault window: when the nemesis started it, when it healed it, what it did.
 *
 * @param kind the nemesis (partition-halves, isolate-leader, bridge, kill, kill-leader, pause-leader,
 *     restart-all, clock-offset, membership)
 * @param detail which nodes, in words ("n1 | n2 n3", "kill -9 n2", "n3 +30s")
 * @param startNs nanoseconds since the run started
 * @param endNs when it was healed; -1 while open
 * @param quorumLost whether a majority of nodes could not talk to each other during the window
 * @param failure why the nemesis could not carry the fault out as planned ("" when it did): a finding about
 *     the system under test (e.g. a member added back never caught up), checked by {@code Checks.nemesis}
 */
public record Fault(String kind, String detail, long startNs, long endNs, boolean quorumLost, String failure) {
  public Fault {
    failure = failure == null ? "" : failure;
  }

  public Fault(String kind, String detail, long startNs, long endNs, boolean quorumLost) {
    this(kind, detail, startNs, endNs, quorumLost, "");
  }

  public boolean failed() {
    return !failure.isEmpty();
  }

  /** This fault healed at {@code ns}. */
  public Fault withEnd(long ns) {
    return new Fault(kind, detail, startNs, ns, quorumLost, failure);
  }

  /** This fault with {@code why} added to the reasons it could not be carried out. */
  public Fault withFailure(String why) {
    return new Fault(kind, detail, startNs, endNs, quorumLost, failed() ? failure + "; " + why : why);
  }

  /** This fault with {@code note} appended to its detail. */
  public Fault withNote(String note) {
    return new Fault(kind, detail + note, startNs, endNs, quorumLost, failure);
  }

  public String toJson() {
    return "{\"fault\":\"" + kind + "\",\"detail\":" + Json.quote(detail) + ",\"start_ns\":" + startNs
        + ",\"end_ns\":" + endNs + ",\"quorum_lost\":" + quorumLost
        + (failed() ? ",\"failure\":" + Json.quote(failure) : "") + "}";
  }
}
