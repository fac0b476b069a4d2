package io.hasp.server.security;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The peer rule of the Raft port: a connecting certificate must name, as a subject alternative name (DNS or IP),
 * the host of one of the cluster's peers. Peers already need such a name (the other side checks it against the
 * address it dialled), and client certificates from the same CA normally carry none, so a client certificate
 * cannot be used to speak Raft or to forward batches. Host names are compared without any DNS look-up; a
 * {@code *.} wildcard SAN matches one label.
 */
final class PeerNames implements Predicate<X509Certificate> {
  /** The hosts of the group's members now (membership changes), asked at every check. */
  private final Supplier<Collection<String>> peerHosts;

  PeerNames(Supplier<Collection<String>> peerHosts) {
    this.peerHosts = peerHosts;
  }

  static String describe() {
    return "it names none of the members' hosts as a subject alternative name, so it is not a peer's certificate";
  }

  @Override
  public boolean test(X509Certificate cert) {
    Collection<String> hosts = peerHosts.get();
    Set<String> names = hosts.stream().filter(h -> !isIpLiteral(h)).map(h -> h.toLowerCase(Locale.ROOT))
        .collect(Collectors.toUnmodifiableSet());
    Set<InetAddress> addresses = hosts.stream().filter(PeerNames::isIpLiteral).map(PeerNames::literal)
        .collect(Collectors.toUnmodifiableSet());
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return false;
    }
    if (sans == null) {
      return false;
    }
    for (List<?> san : sans) {
      int type = (Integer) san.get(0);
      String value = String.valueOf(san.get(1));
      if (type == 7 && isIpLiteral(value) && addresses.contains(literal(value))) {
        return true;
      }
      if (type == 2 && dnsMatches(names, value.toLowerCase(Locale.ROOT))) {
        return true;
      }
    }
    return false;
  }

  private static boolean dnsMatches(Set<String> names, String san) {
    if (names.contains(san)) {
      return true;
    }
    if (san.startsWith("*.") && san.length() > 2) {
      String suffix = san.substring(1);
      for (String n : names) {
        int dot = n.indexOf('.');
        if (dot > 0 && n.substring(dot).equals(suffix)) {
          return true;
        }
      }
    }
    return false;
  }

  static boolean isIpLiteral(String h) {
    return h.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (h.contains(":") && h.matches("[0-9A-Fa-f:.\\[\\]]+"));
  }

  private static InetAddress literal(String h) {
    try {
      // an IP literal: InetAddress parses it without a look-up
      return InetAddress.getByName(h.startsWith("[") ? h.substring(1, h.length() - 1) : h);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP address: " + h, e);
    }
  }
}
