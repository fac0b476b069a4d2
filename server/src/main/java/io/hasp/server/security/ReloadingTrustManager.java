package io.hasp.server.security;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.function.Predicate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies the other side's certificate against a set of CA certificates that can be replaced while the node
 * runs (each handshake uses the current set). The JDK's PKIX checks do the work, including the host name check a
 * TLS client asks for; {@code clientRule}, when given, is one more condition on a client's leaf certificate (the
 * peer rule of the Raft port: see {@link PeerNames}).
 */
public final class ReloadingTrustManager extends X509ExtendedTrustManager {
  private final Predicate<X509Certificate> clientRule;
  private final String clientRuleText;
  private volatile X509ExtendedTrustManager delegate;

  /** {@code clientRule} may be null (no extra condition); {@code clientRuleText} says what it asks, for errors. */
  public ReloadingTrustManager(Predicate<X509Certificate> clientRule, String clientRuleText) {
    this.clientRule = clientRule;
    this.clientRuleText = clientRuleText;
  }

  /** Trusts exactly these CA certificates from now on. */
  public void set(List<X509Certificate> cas) throws GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try {
      ks.load(null, null);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    for (int i = 0; i < cas.size(); i++) {
      ks.setCertificateEntry("ca-" + i, cas.get(i));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(ks);
    for (TrustManager t : tmf.getTrustManagers()) {
      if (t instanceof X509ExtendedTrustManager x) {
        delegate = x;
        return;
      }
    }
    throw new GeneralSecurityException("the JDK gave no X509ExtendedTrustManager");
  }

  /** Reads the CA certificates of a PEM file and trusts exactly them; errors name {@code key} and the file. */
  void setOrThrow(String key, java.nio.file.Path file) throws CredentialsException {
    List<X509Certificate> cas = Pem.certificates(key, file);
    try {
      set(cas);
    } catch (GeneralSecurityException e) {
      throw new CredentialsException(key + " " + file + ": cannot use these CA certificates (" + e.getMessage() + ")", e);
    }
  }

  private void checkRule(X509Certificate[] chain) throws CertificateException {
    if (clientRule != null && (chain == null || chain.length == 0 || !clientRule.test(chain[0]))) {
      throw new CertificateException("the certificate "
          + (chain == null || chain.length == 0 ? "" : "of " + chain[0].getSubjectX500Principal().getName() + " ")
          + "is signed by a trusted CA but " + clientRuleText);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    delegate.checkClientTrusted(chain, authType, socket);
    checkRule(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    delegate.checkClientTrusted(chain, authType, engine);
    checkRule(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    delegate.checkClientTrusted(chain, authType);
    checkRule(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    delegate.checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    delegate.checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    delegate.checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }
}
