package io.hasp.server.security;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A node's own certificate and key, replaceable while the node runs: each handshake asks for the current ones,
 * so after {@link #set} every new connection presents the new certificate and open connections keep theirs.
 * Each set gets its own alias, and a handshake that chose an alias just before a set still gets the chain and
 * key of that alias (the previous material is kept), never a chain of one and a key of the other.
 */
public final class ReloadingKeyManager extends X509ExtendedKeyManager {
  private static final char[] IN_MEMORY_PASSWORD = "in-memory".toCharArray(); // the key store never leaves the heap

  private record Material(String alias, X509ExtendedKeyManager manager, X509Certificate leaf) {}

  private final AtomicLong generation = new AtomicLong();
  private volatile Material current;
  private volatile Material previous;

  /**
   * Makes {@code key} and {@code chain} (leaf first) the material of new handshakes. Throws when the key does not
   * belong to the leaf certificate.
   */
  public synchronized void set(PrivateKey key, List<X509Certificate> chain) throws GeneralSecurityException {
    if (!matches(key, chain.get(0))) {
      throw new GeneralSecurityException("the private key does not belong to the certificate (subject "
          + chain.get(0).getSubjectX500Principal().getName() + ")");
    }
    String alias = "hasp-" + generation.incrementAndGet();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try {
      ks.load(null, null);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    ks.setKeyEntry(alias, key, IN_MEMORY_PASSWORD, chain.toArray(new X509Certificate[0]));
    // SunX509 names a key by its alias as is (PKIX would prefix it), which the per-set alias relies on
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
    kmf.init(ks, IN_MEMORY_PASSWORD);
    X509ExtendedKeyManager m = null;
    for (KeyManager k : kmf.getKeyManagers()) {
      if (k instanceof X509ExtendedKeyManager x) {
        m = x;
      }
    }
    if (m == null) {
      throw new GeneralSecurityException("the JDK gave no X509ExtendedKeyManager");
    }
    previous = current;
    current = new Material(alias, m, chain.get(0));
  }

  /** The certificate new handshakes present. */
  public X509Certificate certificate() {
    return current.leaf();
  }

  /** True when {@code key} is the private half of the certificate's public key (a signature round trip). */
  static boolean matches(PrivateKey key, X509Certificate cert) {
    String alg = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      case "Ed448" -> "Ed448";
      default -> null;
    };
    if (alg == null) {
      return false;
    }
    try {
      byte[] probe = "hasp key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  private X509ExtendedKeyManager forAlias(String alias) {
    Material p = previous;
    return p != null && p.alias().equals(alias) ? p.manager() : current.manager();
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return current.manager().getClientAliases(keyType, issuers);
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return current.manager().chooseClientAlias(keyType, issuers, socket);
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return current.manager().getServerAliases(keyType, issuers);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return current.manager().chooseServerAlias(keyType, issuers, socket);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return current.manager().chooseEngineClientAlias(keyType, issuers, engine);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return current.manager().chooseEngineServerAlias(keyType, issuers, engine);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return forAlias(alias).getCertificateChain(alias);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return forAlias(alias).getPrivateKey(alias);
  }
}
