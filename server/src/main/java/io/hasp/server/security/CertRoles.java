package io.hasp.server.security;

import io.hasp.server.NodeConfig.ConfigException;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Roles for verified client certificates (mTLS), used when a call carries no bearer token. Syntax of
 * {@code auth.cert.roles}: comma-separated {@code CN=<common name>=<role>} entries, e.g.
 * {@code CN=ops-admin=admin,CN=app=client}; the certificate's subject CN must equal the name exactly (case
 * sensitive); {@code CN=*=<role>} gives that role to every certificate no other entry names. A common name in
 * this list cannot hold {@code ,} or {@code =}.
 */
public final class CertRoles {
  static final CertRoles NONE = new CertRoles(Map.of(), null);

  private final Map<String, Role> byCommonName;
  private final Role anyCertificate;

  private CertRoles(Map<String, Role> byCommonName, Role anyCertificate) {
    this.byCommonName = byCommonName;
    this.anyCertificate = anyCertificate;
  }

  static CertRoles parse(String key, String s) {
    if (s == null || s.isBlank()) {
      return NONE;
    }
    Map<String, Role> m = new LinkedHashMap<>();
    Role any = null;
    for (String raw : s.split(",")) {
      String entry = raw.trim();
      if (entry.isEmpty()) {
        continue;
      }
      int last = entry.lastIndexOf('=');
      if (!entry.regionMatches(true, 0, "CN=", 0, 3) || last <= 3 || last == entry.length() - 1) {
        throw new ConfigException(key + ": expected CN=<common name>=<role> entries, got '" + entry + "'");
      }
      String cn = entry.substring(3, last).trim();
      Role role = Role.parse(entry.substring(last + 1).trim());
      if (role == null) {
        throw new ConfigException(key + ": role must be client or admin in '" + entry + "'");
      }
      if (cn.isEmpty() || cn.contains("=")) {
        throw new ConfigException(key + ": bad common name in '" + entry + "'");
      }
      if (cn.equals("*")) {
        any = role;
      } else if (m.put(cn, role) != null) {
        throw new ConfigException(key + ": CN=" + cn + " appears twice");
      }
    }
    return new CertRoles(Map.copyOf(m), any);
  }

  boolean isEmpty() {
    return byCommonName.isEmpty() && anyCertificate == null;
  }

  /** The role of a verified client certificate, or null when this list gives it none. */
  Role roleOf(X509Certificate cert) {
    String cn = commonName(cert);
    Role r = cn == null ? null : byCommonName.get(cn);
    return r != null ? r : anyCertificate;
  }

  /** The subject's CN (the last one when there are several), or null. */
  static String commonName(X509Certificate cert) {
    try {
      String cn = null;
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          cn = String.valueOf(rdn.getValue());
        }
      }
      return cn;
    } catch (InvalidNameException e) {
      return null;
    }
  }
}
