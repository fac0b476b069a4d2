package io.hasp.chaos.cluster;

import java.util.List;
import java.util.Set;

/**
 * A cluster of real Hasp nodes the nemesis can hurt: containers ({@link DockerBackend}) or local processes
 * ({@link LocalBackend}). Node numbers are 0-based; node i is called {@code n(i+1)}. Every method that changes
 * the cluster returns when the change is in effect.
 */
public interface Backend extends AutoCloseable {
  String name();

  int size();

  /** The client API address of every node, host:port as the harness reaches it. */
  List<String> endpoints();

  /** Starts every node and waits until each prints READY. */
  void startAll() throws Exception;

  /** SIGKILL; the node's data stays. */
  void kill(int node) throws Exception;

  /** Starts a killed node again on its data and waits until it is READY. */
  void start(int node) throws Exception;

  /**
   * Starts the given killed nodes again on their data all at once (a power cut's end: none waits for another to be
   * up), then waits until each is READY.
   */
  void startTogether(List<Integer> nodes) throws Exception;

  boolean isRunning(int node);

  /**
   * Waits until the node's process ends by itself (a node removed from the group exits); true when it did within
   * {@code timeoutMs}. Afterwards it counts as stopped: {@link #start} brings it back on its data.
   */
  boolean awaitExit(int node, long timeoutMs) throws Exception;

  /** Null when {@link #startEmptyJoining} works here, else why not (said plainly in the report). */
  String rejoinUnsupportedReason();

  /**
   * Stops the node if it runs, deletes its data and starts it as a node that joins a running group (join=true):
   * how a removed member comes back. Waits until it is READY.
   */
  void startEmptyJoining(int node) throws Exception;

  /** SIGSTOP (pause); {@link #resume} sends SIGCONT. */
  void pause(int node) throws Exception;

  void resume(int node) throws Exception;

  /**
   * Replaces the current network faults by dropping every packet between the nodes of each pair (both ways).
   * An empty set heals the network. Traffic between the harness's clients and the nodes is never cut.
   */
  void cut(Set<Pair> pairs) throws Exception;

  /** Null when clock offsets work here, else why not (said plainly in the report). */
  String clockUnsupportedReason();

  /** Shifts node's wall clock by offsetMs (0 = real time) while it runs; monotonic time stays real. */
  void clockOffset(int node, long offsetMs) throws Exception;

  /** The last lines of a node's log, for the report when something goes wrong. */
  String logTail(int node, int lines);

  /** Stops every node and removes everything the backend made: processes, rules, cgroups, containers, dirs. */
  @Override
  void close();

  /** An unordered pair of node numbers. */
  record Pair(int a, int b) {
    public Pair {
      if (a == b) {
        throw new IllegalArgumentException("a node cannot be cut from itself");
      }
      if (a > b) {
        int t = a;
        a = b;
        b = t;
      }
    }
  }

  /** Every pair with one node in {@code x} and the other in {@code y} (nodes in both are left connected). */
  /**
   * The pairs to cut so that only the nodes of each side talk to each other: every node only in {@code x} from
   * every node only in {@code y}. A node in both (the bridge) stays connected to everyone.
   */
  public static Set<Pair> between(Set<Integer> x, Set<Integer> y) {
    Set<Pair> out = new java.util.LinkedHashSet<>();
    for (int a : x) {
      for (int b : y) {
        if (!y.contains(a) && !x.contains(b)) {
          out.add(new Pair(a, b));
        }
      }
    }
    return out;
  }

  static String nodeName(int node) {
    return "n" + (node + 1);
  }

  static String describe(List<Set<Integer>> groups) {
    StringBuilder b = new StringBuilder();
    for (Set<Integer> g : groups) {
      if (b.length() > 0) {
        b.append(" | ");
      }
      b.append(String.join(" ", g.stream().sorted().map(Backend::nodeName).toList()));
    }
    return b.toString();
  }
}
