package io.hasp.tests;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A test CA made at run time with BouncyCastle (independent of Hasp's own {@code hasp certs}): issues node and
 * client certificates with chosen names, usages and validity, and writes them as PEM (keys as PKCS#8).
 */
final class TestCa {
  /** A certificate and its key. */
  record Issued(X509Certificate cert, PrivateKey key) {
    /** Writes {@code dir/name.pem} and {@code dir/name-key.pem}; returns the certificate file. */
    Path write(Path dir, String name) throws IOException {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(name + ".pem"), pem(cert), StandardCharsets.US_ASCII);
      Files.writeString(dir.resolve(name + "-key.pem"), pem(new JcaPKCS8Generator(key, null)), StandardCharsets.US_ASCII);
      return dir.resolve(name + ".pem");
    }
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  final Issued ca;

  private TestCa(Issued ca) {
    this.ca = ca;
  }

  static TestCa create(String commonName) throws Exception {
    KeyPair kp = keyPair();
    Instant now = Instant.now();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + commonName), serial(),
        Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(30))),
        new X500Name("CN=" + commonName), kp.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    return new TestCa(new Issued(sign(b, kp.getPrivate()), kp.getPrivate()));
  }

  /** Writes the CA certificate to {@code file}. */
  Path writeCa(Path file) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, pem(ca.cert()), StandardCharsets.US_ASCII);
    return file;
  }

  /** A node certificate: server and client use, SAN 127.0.0.1 and localhost, valid now. */
  Issued node(String cn) throws Exception {
    return issue(cn, List.of("127.0.0.1", "localhost"), true, true, Instant.now().minus(Duration.ofMinutes(5)),
        Instant.now().plus(Duration.ofDays(7)));
  }

  /** A client certificate: client use only, no alternative names. */
  Issued client(String cn) throws Exception {
    return issue(cn, List.of(), false, true, Instant.now().minus(Duration.ofMinutes(5)), Instant.now().plus(Duration.ofDays(7)));
  }

  Issued issue(String cn, List<String> names, boolean server, boolean client, Instant notBefore, Instant notAfter)
      throws Exception {
    KeyPair kp = keyPair();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(ca.cert().getSubjectX500Principal().getName()),
        serial(), Date.from(notBefore), Date.from(notAfter), new X500Name("CN=" + cn), kp.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
    List<KeyPurposeId> usages = new ArrayList<>();
    if (server) {
      usages.add(KeyPurposeId.id_kp_serverAuth);
    }
    if (client) {
      usages.add(KeyPurposeId.id_kp_clientAuth);
    }
    b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(usages.toArray(new KeyPurposeId[0])));
    if (!names.isEmpty()) {
      GeneralName[] g = names.stream().map(n -> n.matches("[0-9.]+")
          ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new);
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(g));
    }
    return new Issued(sign(b, ca.key()), kp.getPrivate());
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
  }

  private static BigInteger serial() {
    return new BigInteger(64, RANDOM).add(BigInteger.ONE);
  }

  private static KeyPair keyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static String pem(Object o) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      if (o instanceof org.bouncycastle.util.io.pem.PemObjectGenerator g) {
        w.writeObject(g);
      } else {
        w.writeObject(o);
      }
    }
    return s.toString();
  }
}
