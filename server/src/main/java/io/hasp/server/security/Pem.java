package io.hasp.server.security;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;

/**
 * Reads and writes PEM files with the JDK alone: X.509 certificates ({@code CERTIFICATE} blocks) and unencrypted
 * PKCS#8 private keys ({@code PRIVATE KEY}) of RSA, EC or EdDSA. Every error names the config key and the file.
 */
public final class Pem {
  private Pem() {}

  private static final String KEY_BEGIN = "-----BEGIN PRIVATE KEY-----";
  private static final String KEY_END = "-----END PRIVATE KEY-----";

  /** The certificates of a PEM file, in file order (a chain: leaf first). */
  public static List<X509Certificate> certificates(String key, Path file) throws CredentialsException {
    byte[] bytes = read(key, file);
    if (!new String(bytes, StandardCharsets.US_ASCII).contains("-----BEGIN CERTIFICATE-----")) {
      throw new CredentialsException(key + " " + file + ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
    }
    try {
      Collection<? extends java.security.cert.Certificate> all =
          CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes));
      List<X509Certificate> out = new ArrayList<>();
      for (java.security.cert.Certificate c : all) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new CredentialsException(key + " " + file + ": no certificate in it");
      }
      return out;
    } catch (CertificateException | RuntimeException e) {
      throw new CredentialsException(key + " " + file + ": not a valid PEM certificate file (" + e.getMessage() + ")", e);
    }
  }

  /** The private key of a PEM PKCS#8 file. */
  public static PrivateKey privateKey(String key, Path file) throws CredentialsException {
    String text = new String(read(key, file), StandardCharsets.US_ASCII);
    int begin = text.indexOf(KEY_BEGIN);
    int end = text.indexOf(KEY_END);
    if (begin < 0 || end < begin) {
      String hint = text.contains("BEGIN RSA PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY")
          ? " (this is a PKCS#1/SEC1 key; convert it to PKCS#8, e.g. openssl pkcs8 -topk8 -nocrypt)"
          : text.contains("BEGIN ENCRYPTED PRIVATE KEY") ? " (encrypted keys are not supported)" : "";
      throw new CredentialsException(key + " " + file + ": no unencrypted PKCS#8 key in it (expected " + KEY_BEGIN
          + ")" + hint);
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(text.substring(begin + KEY_BEGIN.length(), end));
    } catch (IllegalArgumentException e) {
      throw new CredentialsException(key + " " + file + ": the key is not valid base64");
    }
    for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException | RuntimeException e) {
        // the next algorithm
      }
    }
    throw new CredentialsException(key + " " + file + ": not an RSA, EC or EdDSA PKCS#8 private key");
  }

  private static byte[] read(String key, Path file) throws CredentialsException {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new CredentialsException(key + " " + file + ": cannot read it (" + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
    }
  }

  /** PEM text of certificates. */
  public static String encode(List<X509Certificate> certs) {
    StringBuilder b = new StringBuilder();
    for (X509Certificate c : certs) {
      try {
        b.append(block("CERTIFICATE", c.getEncoded()));
      } catch (java.security.cert.CertificateEncodingException e) {
        throw new IllegalStateException(e);
      }
    }
    return b.toString();
  }

  /** PEM text of a PKCS#8 private key. */
  public static String encode(PrivateKey key) {
    return block("PRIVATE KEY", key.getEncoded());
  }

  private static String block(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }
}
