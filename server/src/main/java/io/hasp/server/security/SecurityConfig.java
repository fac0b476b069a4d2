package io.hasp.server.security;

import io.hasp.server.NodeConfig.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A node's TLS and authentication settings, checked for consistency (the files themselves are read when the node
 * starts, see {@link NodeSecurity}).
 *
 * <ul>
 *   <li>{@code tls.cert} (PEM chain, leaf first) and {@code tls.key} (PEM PKCS#8) go together; with them the API port
 *       and the Raft port speak TLS only.
 *   <li>{@code tls.client.ca}: clients of the API port must present a certificate signed by it (mTLS).
 *   <li>{@code tls.peer.ca}: the CA peers' certificates are verified with, in both directions (a node presents
 *       {@code tls.cert} to its peers as a client too). Defaults to {@code tls.client.ca}. There is no fallback to
 *       the system trust store: mutual authentication against public CAs would let any holder of any public
 *       certificate into the Raft port. A peer's certificate must also name (SAN) one of the peers' hosts.
 *   <li>{@code auth.tokens.file} and {@code auth.cert.roles}: see {@link TokenTable} and {@link CertRoles}; auth is
 *       on when either is set.
 * </ul>
 */
public record SecurityConfig(
    Path cert,
    Path key,
    Path clientCa,
    Path peerCa,
    Duration reloadInterval,
    Path tokensFile,
    CertRoles certRoles) {

  /** Keys this record is made from, with their defaults ("" = off); NodeConfig.KEYS holds them too. */
  public static void addDefaults(Map<String, String> keys) {
    keys.put("tls.cert", "");
    keys.put("tls.key", "");
    keys.put("tls.client.ca", "");
    keys.put("tls.peer.ca", "");
    // how often the cert, key, CA and tokens files are checked for changes (new handshakes then use the new ones)
    keys.put("tls.reload.interval", "5s");
    keys.put("auth.tokens.file", "");
    keys.put("auth.cert.roles", "");
  }

  /** The keys that may be empty (= off). */
  public static final List<String> OPTIONAL_KEYS =
      List.of("tls.cert", "tls.key", "tls.client.ca", "tls.peer.ca", "auth.tokens.file", "auth.cert.roles");

  /** Settings with everything off (plaintext, no auth). */
  public static final SecurityConfig OFF = new SecurityConfig(null, null, null, null, Duration.ofSeconds(5), null,
      CertRoles.NONE);

  /** Builds and checks the settings from the node's key/value map. */
  public static SecurityConfig from(Map<String, String> v, java.util.function.BiFunction<String, String, Duration> duration) {
    Path cert = path(v.get("tls.cert"));
    Path key = path(v.get("tls.key"));
    Path clientCa = path(v.get("tls.client.ca"));
    Path peerCa = path(v.get("tls.peer.ca"));
    if ((cert == null) != (key == null)) {
      throw new ConfigException("tls.cert and tls.key go together: " + (cert == null ? "tls.key" : "tls.cert")
          + " is set but " + (cert == null ? "tls.cert" : "tls.key") + " is not");
    }
    if (cert == null && (clientCa != null || peerCa != null)) {
      throw new ConfigException((clientCa != null ? "tls.client.ca" : "tls.peer.ca")
          + " needs tls.cert and tls.key (TLS is off without them)");
    }
    if (cert != null && peerCa == null) {
      if (clientCa == null) {
        throw new ConfigException("tls.peer.ca is needed with tls.cert: peers verify each other's certificates "
            + "with it (it defaults to tls.client.ca, which is not set either)");
      }
      peerCa = clientCa;
    }
    Duration reload = duration.apply("tls.reload.interval", v.get("tls.reload.interval"));
    if (reload.toMillis() < 100) {
      throw new ConfigException("tls.reload.interval must be at least 100ms, got '" + v.get("tls.reload.interval") + "'");
    }
    CertRoles roles = CertRoles.parse("auth.cert.roles", v.get("auth.cert.roles"));
    if (!roles.isEmpty() && clientCa == null) {
      throw new ConfigException("auth.cert.roles needs tls.client.ca: only verified client certificates can carry a role");
    }
    return new SecurityConfig(cert, key, clientCa, peerCa, reload, path(v.get("auth.tokens.file")), roles);
  }

  private static Path path(String s) {
    return s == null || s.isBlank() ? null : Path.of(s.trim()).toAbsolutePath();
  }

  /** The API and Raft ports speak TLS. */
  public boolean tls() {
    return cert != null;
  }

  /** API clients must present a certificate signed by {@link #clientCa}. */
  public boolean mutualTls() {
    return clientCa != null;
  }

  /** Calls on the API port need a known bearer token or a certificate mapped to a role. */
  public boolean auth() {
    return tokensFile != null || !certRoles.isEmpty();
  }
}
