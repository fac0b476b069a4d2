package io.hasp.server.ldlm;

import io.hasp.server.NodeConfig.ConfigException;
import io.hasp.server.NodeConfig.HostPort;
import io.hasp.statemachine.core.Limits;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A node's LDLM settings (keys {@code ldlm.*}, defaults beside them in {@link #addDefaults}), and how LDLM's own
 * flags and {@code LDLM_<FLAG>} variables map onto Hasp's keys, so an LDLM deployment's settings move over as they
 * are: {@code --password} / {@code LDLM_PASSWORD} is {@code ldlm.password}, {@code --tls_cert} / {@code LDLM_TLS_CERT}
 * is Hasp's own {@code tls.cert}, and so on ({@link #ALIASES}).
 *
 * <p>Durations take Hasp's form (500ms, 10s, 2m, 1h, a plain number of milliseconds) and Go's (1m30s, 1.5s), which
 * is what LDLM's settings are written in. Booleans: true/false, 1/0, yes/no, on/off.
 *
 * @param address the LDLM gRPC service's address; null = off (the default for a bare node: the launcher, the
 *     compose file and the Kubernetes manifests set it)
 * @param restAddress LDLM's REST API; null = off (as in LDLM)
 * @param sessionTtl how long an LDLM connection's Hasp session outlives its node: while the node runs it keeps the
 *     session alive and closes it when the connection ends; when the node dies the leader expires it after this
 * @param keepaliveInterval the interval of the server's HTTP/2 pings on an idle connection (LDLM: 1m)
 * @param keepaliveTimeout how long a ping may go unanswered before the connection counts as dead (LDLM: 10s)
 * @param defaultLockTimeout accepted for LDLM's {@code default_lock_timeout}; it only applies to LDLM's state file,
 *     which Hasp does not have (locks are replicated with their own timeouts), so it changes nothing
 * @param noClearOnDisconnect a connection's end (or a REST session's) does not release its locks; those with a
 *     timeout still end by it, the others live until unlocked
 * @param password the password LDLM clients send as their {@code authorization} metadata (REST: HTTP Basic); "" = none
 * @param restSessionTimeout how long a REST session may be idle (sliding; LDLM: 10m); also its Hasp session's TTL
 * @param connectionsMax LDLM connections this node serves at once; calls on more are refused (RESOURCE_EXHAUSTED)
 */
public record LdlmConfig(
    HostPort address,
    HostPort restAddress,
    Duration sessionTtl,
    Duration keepaliveInterval,
    Duration keepaliveTimeout,
    Duration defaultLockTimeout,
    boolean noClearOnDisconnect,
    String password,
    boolean clientCertVerify,
    Duration restSessionTimeout,
    int connectionsMax) {

  /** LDLM's default port (the launcher's n1; n2 and n3 follow). */
  public static final int LDLM_DEFAULT_PORT = 3144;

  /** The {@code ldlm.*} keys with their defaults ("" = off/none); NodeConfig.KEYS holds them too. */
  public static void addDefaults(Map<String, String> m) {
    // LDLM's gRPC service: host:port (":port" = every interface), "" or off = not served
    m.put("ldlm.address", "");
    // LDLM's REST API: host:port, "" or off = not served
    m.put("ldlm.rest.address", "");
    // an LDLM connection is a Hasp session; this is its TTL after its node dies (1s to 1h)
    m.put("ldlm.session.ttl", "10s");
    m.put("ldlm.keepalive.interval", "60s");
    m.put("ldlm.keepalive.timeout", "10s");
    // accepted for LDLM's default_lock_timeout, which applies only to LDLM's state file: no effect here
    m.put("ldlm.default.lock.timeout", "10m");
    m.put("ldlm.no.clear.on.disconnect", "false");
    m.put("ldlm.password", "");
    m.put("ldlm.client.cert.verify", "false");
    m.put("ldlm.rest.session.timeout", "10m");
    m.put("ldlm.connections.max", "10000");
  }

  /** Keys that may be empty. */
  public static final List<String> OPTIONAL_KEYS = List.of("ldlm.address", "ldlm.rest.address", "ldlm.password");

  /** LDLM's flag names (without dashes; LDLM_ + upper case for the variables) and the Hasp key each sets. */
  public static final Map<String, String> ALIASES = aliases();

  private static Map<String, String> aliases() {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("listen_address", "ldlm.address");
    a.put("keepalive_interval", "ldlm.keepalive.interval");
    a.put("keepalive_timeout", "ldlm.keepalive.timeout");
    a.put("default_lock_timeout", "ldlm.default.lock.timeout");
    a.put("no_clear_on_disconnect", "ldlm.no.clear.on.disconnect");
    a.put("password", "ldlm.password");
    a.put("tls_cert", "tls.cert");
    a.put("tls_key", "tls.key");
    a.put("client_ca", "tls.client.ca");
    a.put("client_cert_verify", "ldlm.client.cert.verify");
    a.put("rest_listen_address", "ldlm.rest.address");
    a.put("rest_session_timeout", "ldlm.rest.session.timeout");
    a.put("log_level", "log.level");
    return java.util.Collections.unmodifiableMap(a);
  }

  /**
   * The Hasp keys set by {@code LDLM_<FLAG>} variables in {@code env} (empty values are unset). Hasp's own
   * {@code HASP_*} variables are applied after these, so they win.
   */
  public static Map<String, String> fromLdlmEnv(Map<String, String> env) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> a : ALIASES.entrySet()) {
      String v = env.get("LDLM_" + a.getKey().toUpperCase(Locale.ROOT));
      if (v != null && !v.isBlank()) {
        out.put(a.getValue(), v.trim());
      }
    }
    return out;
  }

  /** Builds and checks the settings; {@code api}, {@code raft}, {@code http} (may be null): addresses taken. */
  public static LdlmConfig from(Map<String, String> v, HostPort api, HostPort raft, HostPort http, boolean clientCa) {
    HostPort address = address("ldlm.address", v.get("ldlm.address"));
    HostPort rest = address("ldlm.rest.address", v.get("ldlm.rest.address"));
    for (HostPort mine : new HostPort[] {address, rest}) {
      if (mine == null) {
        continue;
      }
      String key = mine == address ? "ldlm.address" : "ldlm.rest.address";
      if (mine.equals(api) || mine.equals(raft) || mine.equals(http)) {
        throw new ConfigException(key + " " + mine + " is also this node's "
            + (mine.equals(api) ? "api" : mine.equals(raft) ? "raft" : "http") + " address");
      }
    }
    if (address != null && address.equals(rest)) {
      throw new ConfigException("ldlm.rest.address " + rest + " is also ldlm.address");
    }
    Duration ttl = duration("ldlm.session.ttl", v.get("ldlm.session.ttl"));
    between("ldlm.session.ttl", ttl, Limits.SESSION_TTL_MS_MIN, Limits.SESSION_TTL_MS_MAX);
    Duration restTimeout = duration("ldlm.rest.session.timeout", v.get("ldlm.rest.session.timeout"));
    between("ldlm.rest.session.timeout", restTimeout, Limits.SESSION_TTL_MS_MIN, Limits.SESSION_TTL_MS_MAX);
    Duration kaInterval = duration("ldlm.keepalive.interval", v.get("ldlm.keepalive.interval"));
    between("ldlm.keepalive.interval", kaInterval, 10, Long.MAX_VALUE);
    Duration kaTimeout = duration("ldlm.keepalive.timeout", v.get("ldlm.keepalive.timeout"));
    between("ldlm.keepalive.timeout", kaTimeout, 10, Long.MAX_VALUE);
    boolean verify = bool("ldlm.client.cert.verify", v.get("ldlm.client.cert.verify"));
    if (verify && !clientCa) {
      throw new ConfigException("ldlm.client.cert.verify (LDLM's client_cert_verify) needs tls.client.ca (LDLM's "
          + "client_ca): Hasp verifies client certificates against the CA it is given, never the system's public CAs");
    }
    long connections;
    try {
      connections = Long.parseLong(v.get("ldlm.connections.max"));
    } catch (NumberFormatException e) {
      throw new ConfigException("ldlm.connections.max must be a number, got '" + v.get("ldlm.connections.max") + "'");
    }
    if (connections < 1 || connections > 1_000_000) {
      throw new ConfigException("ldlm.connections.max must be between 1 and 1000000, got " + connections);
    }
    return new LdlmConfig(address, rest, ttl, kaInterval, kaTimeout,
        duration("ldlm.default.lock.timeout", v.get("ldlm.default.lock.timeout")),
        bool("ldlm.no.clear.on.disconnect", v.get("ldlm.no.clear.on.disconnect")),
        v.getOrDefault("ldlm.password", ""), verify, restTimeout, (int) connections);
  }

  /** LDLM's gRPC service is on. */
  public boolean enabled() {
    return address != null;
  }

  /** host:port; ":port" means every interface (as LDLM's Go listener reads it); "" and "off" mean off. */
  static HostPort address(String key, String s) {
    String t = s == null ? "" : s.trim();
    if (t.isEmpty() || t.equalsIgnoreCase("off")) {
      return null;
    }
    if (t.startsWith(":")) {
      t = "0.0.0.0" + t;
    }
    return HostPort.parse(key, t);
  }

  private static void between(String key, Duration d, long minMs, long maxMs) {
    if (d.toMillis() < minMs || d.toMillis() > maxMs) {
      throw new ConfigException(key + " must be between " + minMs + "ms and "
          + (maxMs == Long.MAX_VALUE ? "any length" : maxMs + "ms") + ", got " + d.toMillis() + "ms");
    }
  }

  private static final Pattern GO_PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|\u00b5s|ms|s|m|h)");

  /** Hasp's durations (500ms, 10s, 2m, 1h, plain milliseconds) and Go's (1h30m, 1.5s, 250ms). */
  public static Duration duration(String key, String s) {
    String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
    if (t.matches("\\d{1,18}")) {
      return Duration.ofMillis(Long.parseLong(t));
    }
    Matcher m = GO_PART.matcher(t);
    int at = 0;
    double nanos = 0;
    while (at < t.length() && m.find(at) && m.start() == at) {
      double n = Double.parseDouble(m.group(1));
      nanos += n * switch (m.group(2)) {
        case "ns" -> 1d;
        case "us", "\u00b5s" -> 1e3;
        case "ms" -> 1e6;
        case "s" -> 1e9;
        case "m" -> 60e9;
        default -> 3600e9;
      };
      at = m.end();
    }
    if (t.isEmpty() || at != t.length() || nanos > 1e18) {
      throw new ConfigException(key + ": not a duration: '" + s + "' (e.g. 500ms, 10s, 1m30s)");
    }
    return Duration.ofNanos((long) nanos);
  }

  /** true/false, 1/0, yes/no, on/off. */
  public static boolean bool(String key, String s) {
    return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
      case "true", "1", "yes", "on" -> true;
      case "false", "0", "no", "off" -> false;
      default -> throw new ConfigException(key + ": expected true or false, got '" + s + "'");
    };
  }
}
