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

  // LDLM's server flags, as aliases of Hasp's keys (io.hasp.server.ldlm.LdlmConfig.ALIASES), so an LDLM
  // deployment's command line moves over unchanged.
  @Option(names = {"-l", "--listen_address"}, description = "LDLM: host:port of the LDLM service (ldlm.address)")
  String ldlmListenAddress;

  @Option(names = {"-k", "--keepalive_interval"}, description = "LDLM: ldlm.keepalive.interval (default 1m)")
  String ldlmKeepaliveInterval;

  @Option(names = {"-t", "--keepalive_timeout"}, description = "LDLM: ldlm.keepalive.timeout (default 10s)")
  String ldlmKeepaliveTimeout;

  @Option(names = {"-d", "--default_lock_timeout"}, description = "LDLM: accepted; it applies to LDLM's state file only")
  String ldlmDefaultLockTimeout;

  @Option(names = {"-n", "--no_clear_on_disconnect"}, arity = "0..1", fallbackValue = "true",
      description = "LDLM: a connection's end does not release its locks (ldlm.no.clear.on.disconnect)")
  String ldlmNoClearOnDisconnect;

  @Option(names = "--password", description = "LDLM: the password LDLM clients send (ldlm.password); prefer LDLM_PASSWORD")
  String ldlmPassword;

  @Option(names = "--tls_cert", description = "LDLM: tls.cert") String ldlmTlsCert;
  @Option(names = "--tls_key", description = "LDLM: tls.key") String ldlmTlsKey;
  @Option(names = "--client_ca", description = "LDLM: tls.client.ca (client certificates required)") String ldlmClientCa;

  @Option(names = "--client_cert_verify", arity = "0..1", fallbackValue = "true",
      description = "LDLM: ldlm.client.cert.verify (needs --client_ca)")
  String ldlmClientCertVerify;

  @Option(names = {"-r", "--rest_listen_address"}, description = "LDLM: host:port of LDLM's REST API (ldlm.rest.address)")
  String ldlmRestListenAddress;

  @Option(names = "--rest_session_timeout", description = "LDLM: ldlm.rest.session.timeout (default 10m)")
  String ldlmRestSessionTimeout;

  @Option(names = {"-v", "--log_level"}, description = "LDLM: log.level")
  String ldlmLogLevel;

  /** LDLM's settings that have no meaning in Hasp: accepted, so an LDLM command line starts, and reported. */
  @Option(names = {"-g", "--lock_gc_interval", "-m", "--lock_gc_min_idle", "--shards", "--ipc_socket_file", "-s",
      "--state_file"}, hidden = true)
  java.util.List<String> ldlmIgnored;

  private Map<String, String> ldlmFlags() {
    Map<String, String> f = new LinkedHashMap<>();
    f.put("listen_address", ldlmListenAddress);
    f.put("keepalive_interval", ldlmKeepaliveInterval);
    f.put("keepalive_timeout", ldlmKeepaliveTimeout);
    f.put("default_lock_timeout", ldlmDefaultLockTimeout);
    f.put("no_clear_on_disconnect", ldlmNoClearOnDisconnect);
    f.put("password", ldlmPassword);
    f.put("tls_cert", ldlmTlsCert);
    f.put("tls_key", ldlmTlsKey);
    f.put("client_ca", ldlmClientCa);
    f.put("client_cert_verify", ldlmClientCertVerify);
    f.put("rest_listen_address", ldlmRestListenAddress);
    f.put("rest_session_timeout", ldlmRestSessionTimeout);
    f.put("log_level", ldlmLogLevel);
    Map<String, String> keys = new LinkedHashMap<>();
    f.forEach((flag, value) -> {
      if (value != null) {
        keys.put(io.hasp.server.ldlm.LdlmConfig.ALIASES.get(flag), value);
      }
    });
    return keys;
  }

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
    overrides.putAll(ldlmFlags());
    if (ldlmIgnored != null && !ldlmIgnored.isEmpty()) {
      System.err.println("warning: LDLM's lock_gc_interval, lock_gc_min_idle, shards, ipc_socket_file and state_file "
          + "have no meaning in Hasp (empty locks are deleted at once, state is replicated, ./hasp ldlm is the admin "
          + "tool): ignored");
    }
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
