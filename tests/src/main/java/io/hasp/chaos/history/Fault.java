package io.hasp.chaos.history;

import io.hasp.server.cli.HaspCli.Json;

/**
 * One fault window: when the nemesis started it, when it healed it, what it did.
 *
 * @param kind the nemesis (partition-halves, isolate-leader, bridge, kill, kill-leader, pause-leader,
 *     restart-all, clock-offset)
 * @param detail which nodes, in words ("n1 | n2 n3", "kill -9 n2", "n3 +30s")
 * @param startNs nanoseconds since the run started
 * @param endNs when it was healed; -1 while open
 * @param quorumLost whether a majority of nodes could not talk to each other during the window
 */
public record Fault(String kind, String detail, long startNs, long endNs, boolean quorumLost) {
  public String toJson() {
    return "{\"fault\":\"" + kind + "\",\"detail\":" + Json.quote(detail) + ",\"start_ns\":" + startNs
        + ",\"end_ns\":" + endNs + ",\"quorum_lost\":" + quorumLost + "}";
  }
}
