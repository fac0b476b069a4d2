package io.hasp.server.cli;

import io.hasp.server.HaspNode;
import io.hasp.server.NodeClock;
import io.hasp.server.NodeConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs one Hasp node in the foreground until SIGTERM/SIGINT. Prints a line with READY when it serves. */
@Command(name = "node", mixinStandardHelpOptions = true,
    description = {"Run a Hasp node in the foreground.",
        "Configuration: --config FILE (Java properties), then HASP_* environment variables, then these flags."})
public final class NodeCommand implements Callable<Integer> {
  /** Runs a node without the rest of the CLI (what the test fixtures and the container image start). */
  public static void main(String[] args) {
    System.exit(new picocli.CommandLine(new NodeCommand()).execute(args));
  }

  @Option(names = "--config", description = "Config file (keys: node.id, api.address, raft.address, peers, data.dir, "
      + "group.id, election.timeout.min/max, snapshot.threshold.entries, log.segment.size.bytes, log.purge.gap.entries, tick.interval, "
      + "http.address, ready.applied.lag.max, log.format, log.level, limits.*, statefulset.*)")
  Path config;

  @Option(names = "--default-config", description = "Config file read only when it exists and --config is not given "
      + "(the container image passes /etc/hasp/hasp.properties, so a mounted file is used and none is needed)")
  Path defaultConfig;

  @Option(names = "--id", description = "Node id (node.id)")
  String id;

  @Option(names = "--peers", description = "id=raftHost:raftPort/apiHost:apiPort,... (peers)")
  String peers;

  @Option(names = "--data-dir", description = "Data directory (data.dir)")
  String dataDir;

  @Option(names = "--api-address", description = "host:port of the client API (api.address)")
  String apiAddress;

  @Option(names = "--raft-address", description = "host:port of Raft (raft.address)")
  String raftAddress;

  @Option(names = "--http-address", description = "host:port of /metrics, /health, /ready, or off (http.address; "
      + "default: the API host, API port + 200)")
  String httpAddress;

  /**
   * SIGHUP reads the TLS and token files again (they are also watched; this forces it at once) instead of the
   * JVM's default for HUP, which is to exit. Where the signal cannot be taken (e.g. -Xrs) only the watch remains.
   */
  @SuppressWarnings("restriction")
  private static void reloadOnHangUp(HaspNode node) {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> node.reloadCredentials());
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      System.err.println("warning: SIGHUP cannot be handled here (" + e.getMessage() + "); files are still watched");
    }
  }

  @Override
  public Integer call() throws Exception {
    Map<String, String> overrides = new LinkedHashMap<>();
    overrides.put("node.id", id);
    overrides.put("peers", peers);
    overrides.put("data.dir", dataDir);
    overrides.put("api.address", apiAddress);
    overrides.put("raft.address", raftAddress);
    overrides.put("http.address", httpAddress);
    NodeConfig cfg;
    try {
      boolean useDefault = config == null && defaultConfig != null && java.nio.file.Files.exists(defaultConfig);
      Path file = useDefault ? defaultConfig : config;
      cfg = NodeConfig.load(file, System.getenv(), overrides);
    } catch (NodeConfig.ConfigException e) {
      System.err.println("error: INVALID_ARGUMENT: bad node configuration: " + e.getMessage());
      return 2;
    }
    io.hasp.server.ops.LogSetup.apply(cfg.logFormat(), cfg.logLevel());
    CountDownLatch stopped = new CountDownLatch(1);
    HaspNode node;
    try {
      // removed from the group: a clean exit (the shutdown hook closes the node) from a thread of its own, as
      // the ticker thread that notices it is stopped by that close
      node = HaspNode.start(cfg, NodeClock.steady(), () -> Runtime.getRuntime().halt(70),
          () -> new Thread(() -> System.exit(0), "hasp-removed").start());
    } catch (HaspNode.RemovedNodeException e) {
      // like a bad configuration (exit 2): starting it again the same way cannot work, an operator must act
      System.err.println("error: refusing to start: " + e.getMessage());
      return 2;
    } catch (java.io.IOException e) {
      System.err.println("error: cannot start node " + cfg.nodeId() + ": " + e.getMessage());
      return 1;
    }
    reloadOnHangUp(node);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        System.err.println("error while stopping: " + e.getMessage());
      }
      stopped.countDown();
    }, "hasp-shutdown"));
    System.out.println("Hasp node " + cfg.nodeId() + " READY: api " + cfg.apiAddress() + ", raft " + cfg.raftAddress()
        + ", data " + cfg.dataDir() + ", pid " + ProcessHandle.current().pid());
    System.out.flush();
    stopped.await();
    return 0;
  }
}
