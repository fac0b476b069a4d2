package io.hasp.server;

import io.hasp.statemachine.core.Capacity;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * A node's configuration: typed keys with their defaults beside them. Sources, later ones winning: the
 * config file (Java properties), environment variables ({@code HASP_} + key upper-cased with {@code .} as
 * {@code _}, e.g. {@code HASP_NODE_ID}), then command-line overrides.
 *
 * <p>Peers: {@code peers=n1=127.0.0.1:7101/127.0.0.1:7001,n2=...} — id, Raft address, API address.
 */
public record NodeConfig(
    String nodeId,
    HostPort apiAddress,
    HostPort raftAddress,
    List<Peer> peers,
    Path dataDir,
    String groupId,
    Duration electionTimeoutMin,
    Duration electionTimeoutMax,
    long snapshotThresholdEntries,
    long logSegmentSizeBytes,
    long logPurgeGapEntries,
    boolean readLeaderLease,
    Duration tickInterval,
    Capacity capacity,
    int requestBytesMax,
    int callsPerConnectionMax,
    boolean join,
    boolean unsafeLocalGrants,
    HostPort httpAddress,
    long readyAppliedLagMax,
    String logFormat,
    String logLevel,
    io.hasp.server.security.SecurityConfig security,
    io.hasp.server.ldlm.LdlmConfig ldlm) {

  /** Every key a config file may hold, with its default ("" = required). */
  public static final Map<String, String> KEYS = defaults();

  private static Map<String, String> defaults() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node.id", "");
    m.put("api.address", "");
    m.put("raft.address", "");
    m.put("peers", "");
    m.put("data.dir", "");
    m.put("group.id", "02511d47-d67c-49a3-9011-abb3109a44c1");
    m.put("election.timeout.min", "150ms");
    // A follower campaigns after one to two random timeouts of silence (Ratis sleeps a random timeout, then
    // checks for one): 150-200 ms found a dead leader's successor ~55 ms sooner than 150-300 ms (peers harness
    // W7, first grant 320-411 ms against 377-476 ms) with the same minimum, so the same leader lease.
    m.put("election.timeout.max", "200ms");
    m.put("snapshot.threshold.entries", "10000");
    m.put("log.segment.size.bytes", "1048576");
    m.put("log.purge.gap.entries", "1024");
    // Linearizable reads (IsLocked, GetLock, ListLocks, a TryLock's "not acquired") on the leader are answered
    // from its lease while a majority acknowledged its heartbeats within 0.9 x election.timeout.min, measured on
    // the monotonic clock: no network round per read. A follower elects no one while it hears from a leader within
    // election.timeout.min (pre-vote), so no other leader can commit meanwhile. false = a heartbeat round per read.
    m.put("read.leader.lease", "true");
    m.put("tick.interval", "50ms");
    // Bounds of what clients can grow (replicated: the leader's values apply to the whole cluster, see Capacity).
    Capacity d = Capacity.DEFAULT;
    m.put("limits.locks.max", Long.toString(d.locksMax()));
    m.put("limits.holders.max", Long.toString(d.holdersMax()));
    m.put("limits.waiters.per.lock.max", Integer.toString(d.waitersPerLockMax()));
    m.put("limits.waiters.max", Long.toString(d.waitersMax()));
    m.put("limits.sessions.max", Integer.toString(d.sessionsMax()));
    m.put("limits.outcomes.per.client.max", Integer.toString(d.outcomesPerClientMax()));
    m.put("limits.outcomes.sessionless.max", Integer.toString(d.sessionlessOutcomesMax()));
    m.put("limits.outcomes.sessionless.retention", d.sessionlessOutcomeRetentionMs() + "ms");
    // Bounds of this node's API: the size of one request, and concurrent calls on one connection.
    m.put("limits.request.bytes.max", Integer.toString(1 << 20));
    m.put("limits.calls.per.connection.max", "10000");
    // A node that joins a running group (member add): it starts outside the group of its peers (Ratis'
    // initializing state), so it never campaigns, and waits for the leader to add it. Matters while its Raft log is
    // empty; a node with data and join=false refuses to start if its own latest configuration leaves it out.
    m.put("join", "false");
    // Kubernetes: node.id and peers from the pod name and the headless Service (statefulset.*, see StatefulSetPeers)
    StatefulSetPeers.addDefaults(m);
    // TEST ONLY, breaks safety on purpose: TryLock is answered from this node's local state without consensus.
    // It exists so the chaos harness can show that it catches a double grant. Never set it in production.
    m.put("unsafe.local.grants", "false");
    // Operations (see io.hasp.server.ops): the HTTP port of /metrics, /health and /ready ("" = the API host on
    // the API port + 200, "off" = none); how far this node's applied index may trail the commit index and still
    // be ready; logs as text lines or JSON objects, and the level of Hasp's own loggers.
    m.put("http.address", "");
    m.put("ready.applied.lag.max", "1000");
    m.put("log.format", "text");
    m.put("log.level", "info");
    // TLS and auth (off when empty): tls.cert, tls.key, tls.client.ca, tls.peer.ca, tls.reload.interval,
    // auth.tokens.file, auth.cert.roles; see SecurityConfig
    io.hasp.server.security.SecurityConfig.addDefaults(m);
    // LDLM wire compatibility (io.hasp.server.ldlm): ldlm.address (off by default), ldlm.rest.address, ldlm.session.ttl,
    // ...; LDLM's own flags and LDLM_* variables are aliases of these and of tls.* (LdlmConfig.ALIASES)
    io.hasp.server.ldlm.LdlmConfig.addDefaults(m);
    return m;
  }

  /** host:port. */
  public record HostPort(String host, int port) {
    public static HostPort parse(String key, String s) {
      int colon = s.lastIndexOf(':');
      if (colon <= 0 || colon == s.length() - 1) {
        throw new ConfigException(key + ": expected host:port, got '" + s + "'");
      }
      int port;
      try {
        port = Integer.parseInt(s.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new ConfigException(key + ": port is not a number in '" + s + "'");
      }
      if (port < 1 || port > 65535) {
        throw new ConfigException(key + ": port out of range in '" + s + "'");
      }
      return new HostPort(s.substring(0, colon), port);
    }

    @Override
    public String toString() {
      return host + ":" + port;
    }
  }

  /** One member of the Raft group. */
  public record Peer(String id, HostPort raftAddress, HostPort apiAddress) {}

  /** A configuration that cannot work; the message says which key and why. */
  public static final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
      super(message);
    }
  }

  /** Loads and validates: file (may be null), then env, then overrides. */
  public static NodeConfig load(Path file, Map<String, String> env, Map<String, String> overrides) throws IOException {
    Map<String, String> values = new LinkedHashMap<>(KEYS);
    if (file != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(file)) {
        p.load(r);
      }
      for (String k : p.stringPropertyNames()) {
        if (!KEYS.containsKey(k)) {
          throw new ConfigException(file + ": unknown key '" + k + "' (known: " + String.join(", ", KEYS.keySet()) + ")");
        }
        values.put(k, p.getProperty(k).trim());
      }
    }
    // LDLM's variables (LDLM_PASSWORD, LDLM_TLS_CERT, ...) as aliases; Hasp's own variables below win over them
    values.putAll(io.hasp.server.ldlm.LdlmConfig.fromLdlmEnv(env));
    for (String k : KEYS.keySet()) {
      String v = env.get("HASP_" + k.toUpperCase(Locale.ROOT).replace('.', '_'));
      if (v != null && !v.isBlank()) {
        values.put(k, v.trim());
      }
    }
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      if (!KEYS.containsKey(e.getKey())) {
        throw new ConfigException("unknown key '" + e.getKey() + "'");
      }
      if (e.getValue() != null) {
        values.put(e.getKey(), e.getValue().trim());
      }
    }
    StatefulSetPeers.resolve(values, env);
    return fromValues(values);
  }

  static NodeConfig fromValues(Map<String, String> v) {
    for (Map.Entry<String, String> e : v.entrySet()) {
      if (e.getValue().isEmpty() && !e.getKey().equals("api.address") && !e.getKey().equals("raft.address")
          && !e.getKey().equals("http.address")
          && !io.hasp.server.security.SecurityConfig.OPTIONAL_KEYS.contains(e.getKey())
          && !io.hasp.server.ldlm.LdlmConfig.OPTIONAL_KEYS.contains(e.getKey())) {
        throw new ConfigException("missing required key '" + e.getKey() + "'");
      }
    }
    String id = v.get("node.id");
    List<Peer> peers = parsePeers(v.get("peers"));
    Peer self = peers.stream().filter(p -> p.id().equals(id)).findFirst().orElseThrow(() ->
        new ConfigException("node.id '" + id + "' is not in peers (" + v.get("peers") + ")"));
    HostPort raft = v.get("raft.address").isEmpty() ? self.raftAddress() : HostPort.parse("raft.address", v.get("raft.address"));
    HostPort api = v.get("api.address").isEmpty() ? self.apiAddress() : HostPort.parse("api.address", v.get("api.address"));
    if (!raft.equals(self.raftAddress())) {
      throw new ConfigException("raft.address " + raft + " differs from this node's entry in peers (" + self.raftAddress() + ")");
    }
    if (!api.equals(self.apiAddress())) {
      throw new ConfigException("api.address " + api + " differs from this node's entry in peers (" + self.apiAddress() + ")");
    }
    Duration min = parseDuration("election.timeout.min", v.get("election.timeout.min"));
    Duration max = parseDuration("election.timeout.max", v.get("election.timeout.max"));
    if (min.toMillis() < 50 || max.compareTo(min) <= 0) {
      throw new ConfigException("election.timeout.min must be >= 50ms and below election.timeout.max");
    }
    try {
      java.util.UUID.fromString(v.get("group.id"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("group.id must be a UUID, got '" + v.get("group.id") + "'");
    }
    HostPort http = httpAddress(v.get("http.address"), api, raft);
    io.hasp.server.security.SecurityConfig security = io.hasp.server.security.SecurityConfig.from(v, NodeConfig::parseDuration);
    return new NodeConfig(id, api, raft, peers, Path.of(v.get("data.dir")).toAbsolutePath(), v.get("group.id"),
        min, max, parsePositiveLong("snapshot.threshold.entries", v.get("snapshot.threshold.entries")),
        parsePositiveLong("log.segment.size.bytes", v.get("log.segment.size.bytes")),
        parsePositiveLong("log.purge.gap.entries", v.get("log.purge.gap.entries")),
        parseBoolean("read.leader.lease", v.get("read.leader.lease")),
        parseDuration("tick.interval", v.get("tick.interval")),
        capacity(v),
        (int) Math.min(64L << 20, parsePositiveLong("limits.request.bytes.max", v.get("limits.request.bytes.max"))),
        (int) Math.min(Integer.MAX_VALUE, parsePositiveLong("limits.calls.per.connection.max",
            v.get("limits.calls.per.connection.max"))),
        parseBoolean("join", v.get("join")),
        parseBoolean("unsafe.local.grants", v.get("unsafe.local.grants")),
        http,
        parsePositiveLong("ready.applied.lag.max", v.get("ready.applied.lag.max")),
        oneOf("log.format", v.get("log.format"), "text", "json"),
        oneOf("log.level", v.get("log.level"), "trace", "debug", "info", "warn", "error"),
        security,
        io.hasp.server.ldlm.LdlmConfig.from(v, api, raft, http, security.mutualTls()));
  }

  /** Offset of the derived HTTP port from the API port (the launcher's node i on base B: B+200+i). */
  public static final int HTTP_PORT_OFFSET = 200;

  /** http.address: "" derives it from the API address, "off" (null here) turns the HTTP endpoint off. */
  private static HostPort httpAddress(String s, HostPort api, HostPort raft) {
    HostPort http;
    if (s.equalsIgnoreCase("off")) {
      return null;
    } else if (s.isEmpty()) {
      int port = api.port() + HTTP_PORT_OFFSET;
      if (port > 65535) {
        throw new ConfigException("http.address: the derived port " + port + " (api port + " + HTTP_PORT_OFFSET
            + ") is out of range; set http.address to host:port or off");
      }
      http = new HostPort(api.host(), port);
    } else {
      http = HostPort.parse("http.address", s);
    }
    if (http.equals(api) || http.equals(raft)) {
      throw new ConfigException("http.address " + http + " is also this node's " + (http.equals(api) ? "api" : "raft")
          + " address");
    }
    return http;
  }

  private static String oneOf(String key, String s, String... allowed) {
    String t = s.toLowerCase(Locale.ROOT);
    for (String a : allowed) {
      if (a.equals(t)) {
        return a;
      }
    }
    throw new ConfigException(key + ": expected one of " + String.join(", ", allowed) + ", got '" + s + "'");
  }

  private static Capacity capacity(Map<String, String> v) {
    return new Capacity(
        parsePositiveLong("limits.locks.max", v.get("limits.locks.max")),
        parsePositiveLong("limits.holders.max", v.get("limits.holders.max")),
        intKey("limits.waiters.per.lock.max", v),
        parsePositiveLong("limits.waiters.max", v.get("limits.waiters.max")),
        intKey("limits.sessions.max", v),
        intKey("limits.outcomes.per.client.max", v),
        intKey("limits.outcomes.sessionless.max", v),
        Math.max(1, parseDuration("limits.outcomes.sessionless.retention",
            v.get("limits.outcomes.sessionless.retention")).toMillis()));
  }

  private static int intKey(String key, Map<String, String> v) {
    long n = parsePositiveLong(key, v.get(key));
    if (n > Integer.MAX_VALUE) {
      throw new ConfigException(key + " must be at most " + Integer.MAX_VALUE + ", got " + n);
    }
    return (int) n;
  }

  private static boolean parseBoolean(String key, String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new ConfigException(key + ": expected true or false, got '" + s + "'");
    };
  }

  /** Parses and checks a peer list: unique ids, unique addresses, an odd-or-any count of at least 1. */
  public static List<Peer> parsePeers(String s) {
    List<Peer> peers = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    Set<HostPort> addresses = new HashSet<>();
    for (String entry : s.split(",")) {
      entry = entry.trim();
      if (entry.isEmpty()) {
        continue;
      }
      int eq = entry.indexOf('=');
      int slash = entry.indexOf('/');
      if (eq <= 0 || slash < eq) {
        throw new ConfigException("peers: expected id=raftHost:raftPort/apiHost:apiPort, got '" + entry + "'");
      }
      String id = entry.substring(0, eq);
      if (!id.matches("[A-Za-z0-9_.-]{1,64}")) {
        throw new ConfigException("peers: bad node id '" + id + "' (letters, digits, _ . - only)");
      }
      Peer p = new Peer(id, HostPort.parse("peers", entry.substring(eq + 1, slash)),
          HostPort.parse("peers", entry.substring(slash + 1)));
      if (!ids.add(id)) {
        throw new ConfigException("peers: node id '" + id + "' appears twice");
      }
      if (!addresses.add(p.raftAddress()) || !addresses.add(p.apiAddress())) {
        throw new ConfigException("peers: address of '" + id + "' is used twice");
      }
      peers.add(p);
    }
    if (peers.isEmpty()) {
      throw new ConfigException("peers: no peers given");
    }
    return List.copyOf(peers);
  }

  /** 500ms, 10s, 2m, 1h, or a plain number of milliseconds. */
  public static Duration parseDuration(String key, String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    long mult;
    String num;
    if (t.endsWith("ms")) {
      mult = 1;
      num = t.substring(0, t.length() - 2);
    } else if (t.endsWith("s")) {
      mult = 1000;
      num = t.substring(0, t.length() - 1);
    } else if (t.endsWith("m")) {
      mult = 60_000;
      num = t.substring(0, t.length() - 1);
    } else if (t.endsWith("h")) {
      mult = 3_600_000;
      num = t.substring(0, t.length() - 1);
    } else {
      mult = 1;
      num = t;
    }
    try {
      long n = Long.parseLong(num.trim());
      if (n < 0) {
        throw new ConfigException(key + ": duration must not be negative, got '" + s + "'");
      }
      return Duration.ofMillis(Math.multiplyExact(n, mult));
    } catch (NumberFormatException | ArithmeticException e) {
      throw new ConfigException(key + ": not a duration: '" + s + "' (use e.g. 500ms, 10s, 2m)");
    }
  }

  private static long parsePositiveLong(String key, String s) {
    try {
      long n = Long.parseLong(s);
      if (n <= 0) {
        throw new ConfigException(key + " must be positive, got " + s);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new ConfigException(key + " must be a number, got '" + s + "'");
    }
  }

  public Peer self() {
    return peers.stream().filter(p -> p.id().equals(nodeId)).findFirst().orElseThrow();
  }
}
