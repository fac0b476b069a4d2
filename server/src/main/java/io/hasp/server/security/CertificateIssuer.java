package io.hasp.server.security;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Makes a small private CA and the certificates of a local cluster with the JDK alone (no openssl, no extra
 * library in the node's runtime): EC P-256 keys, X.509 v3 certificates signed with ECDSA/SHA-256, written out by
 * {@code hasp certs}. The DER encoding is done here (the JDK parses certificates but has no public API to build
 * them); every certificate is parsed back and its signature verified before it is returned.
 *
 * <p>A CA certificate: basicConstraints CA (critical), keyUsage keyCertSign+cRLSign. A leaf: basicConstraints
 * not a CA, keyUsage digitalSignature, extendedKeyUsage serverAuth and/or clientAuth, subjectAltName DNS names and
 * IP addresses. Both carry subject and authority key identifiers.
 */
public final class CertificateIssuer {
  private CertificateIssuer() {}

  /** A certificate and its private key. */
  public record Issued(X509Certificate certificate, PrivateKey key) {}

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int[] ECDSA_SHA256 = {1, 2, 840, 10045, 4, 3, 2};
  private static final int[] COMMON_NAME = {2, 5, 4, 3};
  private static final int[] SUBJECT_KEY_ID = {2, 5, 29, 14};
  private static final int[] KEY_USAGE = {2, 5, 29, 15};
  private static final int[] SUBJECT_ALT_NAME = {2, 5, 29, 17};
  private static final int[] BASIC_CONSTRAINTS = {2, 5, 29, 19};
  private static final int[] AUTHORITY_KEY_ID = {2, 5, 29, 35};
  private static final int[] EXT_KEY_USAGE = {2, 5, 29, 37};
  private static final int[] SERVER_AUTH = {1, 3, 6, 1, 5, 5, 7, 3, 1};
  private static final int[] CLIENT_AUTH = {1, 3, 6, 1, 5, 5, 7, 3, 2};

  /** A new self-signed CA valid from now (minus a minute of clock skew) until {@code notAfter}. */
  public static Issued newCa(String commonName, Instant notAfter) throws GeneralSecurityException {
    KeyPair kp = keyPair();
    List<byte[]> ext = List.of(
        extension(BASIC_CONSTRAINTS, true, seq(bool(true))),
        extension(KEY_USAGE, true, bitString(0x06, 1)), // keyCertSign (bit 5), cRLSign (bit 6)
        extension(SUBJECT_KEY_ID, false, octets(keyId(kp.getPublic()))));
    X509Certificate cert = sign(commonName, commonName, kp.getPublic(), kp.getPrivate(), notAfter, ext);
    cert.verify(kp.getPublic());
    return new Issued(cert, kp.getPrivate());
  }

  /**
   * A certificate signed by {@code ca}: {@code names} are host names or IP literals (subject alternative names);
   * {@code server}/{@code client} set the extended key usages.
   */
  public static Issued issue(Issued ca, String commonName, List<String> names, boolean server, boolean client,
      Instant notAfter) throws GeneralSecurityException {
    KeyPair kp = keyPair();
    List<byte[]> ext = new ArrayList<>();
    ext.add(extension(BASIC_CONSTRAINTS, true, seq()));
    ext.add(extension(KEY_USAGE, true, bitString(0x80, 7))); // digitalSignature (bit 0)
    List<byte[]> usages = new ArrayList<>();
    if (server) {
      usages.add(oid(SERVER_AUTH));
    }
    if (client) {
      usages.add(oid(CLIENT_AUTH));
    }
    if (!usages.isEmpty()) {
      ext.add(extension(EXT_KEY_USAGE, false, seq(usages.toArray(new byte[0][]))));
    }
    if (!names.isEmpty()) {
      List<byte[]> general = new ArrayList<>();
      for (String n : names) {
        general.add(PeerNames.isIpLiteral(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, n.getBytes(StandardCharsets.US_ASCII)));
      }
      ext.add(extension(SUBJECT_ALT_NAME, false, seq(general.toArray(new byte[0][]))));
    }
    ext.add(extension(SUBJECT_KEY_ID, false, octets(keyId(kp.getPublic()))));
    ext.add(extension(AUTHORITY_KEY_ID, false, seq(tlv(0x80, keyId(ca.certificate().getPublicKey())))));
    String issuer = CertRoles.commonName(ca.certificate());
    X509Certificate cert = sign(issuer, commonName, kp.getPublic(), ca.key(), notAfter, ext);
    cert.verify(ca.certificate().getPublicKey());
    return new Issued(cert, kp.getPrivate());
  }

  private static X509Certificate sign(String issuerCn, String subjectCn, PublicKey subjectKey, PrivateKey signer,
      Instant notAfter, List<byte[]> extensions) throws GeneralSecurityException {
    byte[] serial = new byte[16];
    RANDOM.nextBytes(serial);
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // and never starting with a zero byte
    byte[] algorithm = seq(oid(ECDSA_SHA256));
    Instant notBefore = Instant.now().minusSeconds(60);
    byte[] tbs = seq(
        tlv(0xa0, integer(BigInteger.valueOf(2))), // version v3
        integer(new BigInteger(serial)),
        algorithm,
        name(issuerCn),
        seq(time(notBefore), time(notAfter)),
        name(subjectCn),
        subjectKey.getEncoded(), // SubjectPublicKeyInfo, DER already
        tlv(0xa3, seq(extensions.toArray(new byte[0][]))));
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(signer);
    s.update(tbs);
    byte[] der = seq(tbs, algorithm, bitString(s.sign()));
    X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new java.io.ByteArrayInputStream(der));
    return cert;
  }

  private static KeyPair keyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return g.generateKeyPair();
  }

  /** SHA-1 of the key's encoding: the usual way to derive a key identifier (RFC 5280 4.2.1.2, close to method 1). */
  private static byte[] keyId(PublicKey key) throws GeneralSecurityException {
    return Arrays.copyOf(MessageDigest.getInstance("SHA-1").digest(key.getEncoded()), 20);
  }

  private static byte[] ipBytes(String literal) {
    try {
      return InetAddress.getByName(literal).getAddress(); // a literal: no look-up
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP address: " + literal, e);
    }
  }

  // ---- DER ----

  private static byte[] extension(int[] id, boolean critical, byte[] value) {
    return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
  }

  private static byte[] name(String commonName) {
    byte[] atv = seq(oid(COMMON_NAME), tlv(0x0c, commonName.getBytes(StandardCharsets.UTF_8)));
    return seq(tlv(0x31, atv)); // SEQUENCE OF SET OF AttributeTypeAndValue
  }

  private static byte[] time(Instant t) {
    java.time.ZonedDateTime z = t.atZone(ZoneOffset.UTC);
    if (z.getYear() >= 1950 && z.getYear() < 2050) {
      return tlv(0x17, DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").format(z).getBytes(StandardCharsets.US_ASCII));
    }
    return tlv(0x18, DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").format(z).getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] bool(boolean b) {
    return tlv(0x01, new byte[] {(byte) (b ? 0xff : 0)});
  }

  private static byte[] integer(BigInteger i) {
    return tlv(0x02, i.toByteArray());
  }

  private static byte[] octets(byte[] b) {
    return tlv(0x04, b);
  }

  private static byte[] bitString(byte[] b) {
    byte[] v = new byte[b.length + 1];
    System.arraycopy(b, 0, v, 1, b.length);
    return tlv(0x03, v);
  }

  /** A one-byte bit string with {@code unusedBits} trailing bits unused (DER: no trailing zero bits). */
  private static byte[] bitString(int bits, int unusedBits) {
    return tlv(0x03, new byte[] {(byte) unusedBits, (byte) bits});
  }

  private static byte[] oid(int[] arcs) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(40 * arcs[0] + arcs[1]);
    for (int i = 2; i < arcs.length; i++) {
      int v = arcs[i];
      int n = 0;
      byte[] tmp = new byte[5];
      do {
        tmp[n++] = (byte) (v & 0x7f);
        v >>>= 7;
      } while (v != 0);
      for (int j = n - 1; j >= 0; j--) {
        out.write(tmp[j] | (j > 0 ? 0x80 : 0));
      }
    }
    return tlv(0x06, out.toByteArray());
  }

  private static byte[] seq(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return tlv(0x30, out.toByteArray());
  }

  private static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int len = value.length;
    if (len < 0x80) {
      out.write(len);
    } else {
      int bytes = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(len >>> (8 * i));
      }
    }
    out.writeBytes(value);
    return out.toByteArray();
  }
}
