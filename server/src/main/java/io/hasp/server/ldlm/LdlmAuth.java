package io.hasp.server.ldlm;

import io.hasp.server.security.NodeSecurity;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import javax.net.ssl.SSLSession;

/**
 * Who may call the LDLM service and REST API. LDLM's way: the {@code authorization} metadata (REST: the password
 * of HTTP Basic auth, the user ignored) is the password itself, no prefix. Accepted:
 *
 * <ul>
 *   <li>{@code ldlm.password} (LDLM's {@code --password}), compared in constant time;
 *   <li>when Hasp's own auth is on, any token of {@code auth.tokens.file} sent as that password (with or without
 *       "Bearer "), or a verified client certificate that {@code auth.cert.roles} gives a role, so turning on
 *       Hasp's auth never leaves the LDLM port open.
 * </ul>
 *
 * With neither a password nor Hasp's auth, the LDLM port is open, as LDLM is without a password.
 */
final class LdlmAuth {
  static final String MISSING = "missing credentials";
  static final String INVALID = "invalid credentials";

  private final byte[] password;
  private final NodeSecurity security;

  LdlmAuth(String password, NodeSecurity security) {
    this.password = password.isEmpty() ? null : password.getBytes(StandardCharsets.UTF_8);
    this.security = security;
  }

  boolean required() {
    return password != null || security.authOn();
  }

  /** Null when the caller may go on, else why not: {@link #MISSING} or {@link #INVALID}. */
  String check(String presented, SSLSession ssl) {
    if (!required()) {
      return null;
    }
    if (presented == null) {
      return security.acceptsCertificate(ssl) ? null : MISSING;
    }
    boolean ok = password != null && MessageDigest.isEqual(password, presented.getBytes(StandardCharsets.UTF_8));
    return ok || security.acceptsToken(presented) ? null : INVALID;
  }
}
