package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.tests.ldlmwire.LockResponse;
import io.hasp.tests.ldlmwire.TryLockRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LDLM's password and TLS on real nodes (issue 16, acceptance 1), with certificates made at run time: the password
 * as raw {@code authorization} metadata, accepted and refused ("missing credentials" / "invalid credentials",
 * UNAUTHENTICATED), TLS on the LDLM port and HTTPS with Basic auth on the REST API, through each node in turn; and
 * with client certificates required ({@code tls.client.ca}, {@code ldlm.client.cert.verify}) and Hasp's tokens on,
 * a Hasp token works as the LDLM password.
 */
class LdlmSecurityTest {
  static final String PASSWORD = "s3cret pass";

  @TempDir Path dir;

  private static SSLContext tlsContext(TestCa ca, TestCa.Issued clientCert) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca.ca.cert());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    KeyManagerFactory kmf = null;
    if (clientCert != null) {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("client", clientCert.key(), new char[0], new Certificate[] {clientCert.cert(), ca.ca.cert()});
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, new char[0]);
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private static HttpResponse<String> post(HttpClient http, String address, String path, String basic, String cookie,
      String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://" + address + path))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body == null ? "" : body));
    if (basic != null) {
      b.header("Authorization", "Basic " + Base64.getEncoder().encodeToString(basic.getBytes(StandardCharsets.UTF_8)));
    }
    if (cookie != null) {
      b.header("Cookie", cookie);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertRefused(String description, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), e.toString());
    assertEquals(description, e.getStatus().getDescription());
  }

  @Test
  void passwordAcceptedAndRefusedOverTlsAndHttpsThroughEachNode() throws Exception {
    TestCa ca = TestCa.create("ldlm-test-ca");
    Path caFile = ca.writeCa(dir.resolve("certs/ca.pem"));
    for (int i = 1; i <= 3; i++) {
      ca.node("n" + i).write(dir.resolve("certs"), "n" + i);
    }
    int[] ports = FreePorts.loopback(6);
    try (SecureCluster c = SecureCluster.start(3, dir, i -> {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("tls.cert", dir.resolve("certs/n" + (i + 1) + ".pem").toString());
      m.put("tls.key", dir.resolve("certs/n" + (i + 1) + "-key.pem").toString());
      m.put("tls.peer.ca", caFile.toString());
      m.put("ldlm.address", "127.0.0.1:" + ports[i]);
      m.put("ldlm.rest.address", "127.0.0.1:" + ports[3 + i]);
      m.put("ldlm.password", PASSWORD);
      return m;
    })) {
      HttpClient https = HttpClient.newBuilder().sslContext(tlsContext(ca, null)).build();
      for (int i = 0; i < 3; i++) {
        String ldlm = "127.0.0.1:" + ports[i];
        String rest = "127.0.0.1:" + ports[3 + i];
        assertEquals(ldlm, c.status(i).getLdlmAddress());
        assertEquals(rest, c.status(i).getLdlmRestAddress());
        String n = "secure-n" + (i + 1);
        try (LdlmWireClient good = LdlmWireClient.tls(ldlm, caFile, null, null, PASSWORD);
             LdlmWireClient none = LdlmWireClient.tls(ldlm, caFile, null, null, null);
             LdlmWireClient wrong = LdlmWireClient.tls(ldlm, caFile, null, null, "not it");
             LdlmWireClient plain = LdlmWireClient.plaintext(ldlm, PASSWORD)) {
          LockResponse held = good.lock(n);
          assertTrue(held.getLocked(), held.toString());
          assertRefused("missing credentials", () -> none.tryLock(n));
          assertRefused("invalid credentials", () -> wrong.tryLock(n));
          assertRefused("invalid credentials", () -> wrong.unlock(n, held.getKey()));
          StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
              () -> plain.stub().withDeadlineAfter(10, TimeUnit.SECONDS).tryLock(TryLockRequest.newBuilder().setName(n).build()));
          assertTrue(e.getStatus().getCode() != Status.Code.UNAUTHENTICATED, "plaintext on a TLS port: " + e);
          assertTrue(good.unlock(n, held.getKey()).getUnlocked());
        }
        // REST over HTTPS: Basic auth with the password (the user is ignored)
        HttpResponse<String> noAuth = post(https, rest, "/session", null, null, null);
        assertEquals(401, noAuth.statusCode(), noAuth.body());
        assertEquals("Basic realm=\"Restricted\"", noAuth.headers().firstValue("WWW-Authenticate").orElse(""));
        HttpResponse<String> badAuth = post(https, rest, "/session", "someone:wrong", null, null);
        assertEquals(401, badAuth.statusCode(), badAuth.body());
        assertEquals("Basic realm=\"Restricted\"", badAuth.headers().firstValue("WWW-Authenticate").orElse(""));
        HttpResponse<String> created = post(https, rest, "/session", "anyone:" + PASSWORD, null, null);
        assertEquals(201, created.statusCode(), created.body());
        String cookie = created.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
        HttpResponse<String> locked = post(https, rest, "/v1/lock", ":" + PASSWORD, cookie, "{\"name\":\"" + n + "\"}");
        assertEquals(200, locked.statusCode(), locked.body());
        assertTrue(locked.body().contains("\"locked\":true"), locked.body());
        HttpResponse<String> refused = post(https, rest, "/v1/lock", null, cookie, "{\"name\":\"" + n + "\"}");
        assertEquals(401, refused.statusCode(), refused.body());
      }
    }
  }

  @Test
  void clientCertificatesRequiredAndHaspTokenAsPassword() throws Exception {
    TestCa ca = TestCa.create("ldlm-mtls-ca");
    Path caFile = ca.writeCa(dir.resolve("certs/ca.pem"));
    for (int i = 1; i <= 3; i++) {
      ca.node("n" + i).write(dir.resolve("certs"), "n" + i);
    }
    TestCa.Issued app = ca.client("app");
    Path appCert = app.write(dir.resolve("certs"), "app");
    Path appKey = dir.resolve("certs/app-key.pem");
    String token = "token-" + java.util.UUID.randomUUID();
    Path tokens = dir.resolve("tokens");
    Files.writeString(tokens, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(token.getBytes(StandardCharsets.UTF_8))) + " app client\n");
    int[] ports = FreePorts.loopback(6);
    try (SecureCluster c = SecureCluster.start(3, dir, i -> {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("tls.cert", dir.resolve("certs/n" + (i + 1) + ".pem").toString());
      m.put("tls.key", dir.resolve("certs/n" + (i + 1) + "-key.pem").toString());
      m.put("tls.client.ca", caFile.toString());
      m.put("auth.tokens.file", tokens.toString());
      m.put("ldlm.client.cert.verify", "true");
      m.put("ldlm.address", "127.0.0.1:" + ports[i]);
      m.put("ldlm.rest.address", "127.0.0.1:" + ports[3 + i]);
      return m;
    })) {
      HttpClient withCert = HttpClient.newBuilder().sslContext(tlsContext(ca, app)).build();
      HttpClient withoutCert = HttpClient.newBuilder().sslContext(tlsContext(ca, null)).build();
      for (int i = 0; i < 3; i++) {
        String ldlm = "127.0.0.1:" + ports[i];
        String rest = "127.0.0.1:" + ports[3 + i];
        String n = "mtls-n" + (i + 1);
        try (LdlmWireClient good = LdlmWireClient.tls(ldlm, caFile, appCert, appKey, token);
             LdlmWireClient bearer = LdlmWireClient.tls(ldlm, caFile, appCert, appKey, "Bearer " + token);
             LdlmWireClient noPassword = LdlmWireClient.tls(ldlm, caFile, appCert, appKey, null);
             LdlmWireClient noCert = LdlmWireClient.tls(ldlm, caFile, null, null, token)) {
          LockResponse held = good.lock(n);
          assertTrue(held.getLocked(), held.toString());
          assertTrue(!bearer.tryLock(n).getLocked(), "taken");
          assertRefused("missing credentials", () -> noPassword.tryLock(n));
          StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
              () -> noCert.stub().withDeadlineAfter(10, TimeUnit.SECONDS).tryLock(TryLockRequest.newBuilder().setName(n).build()));
          assertTrue(e.getStatus().getCode() != Status.Code.OK, e.toString());
          assertTrue(good.unlock(n, held.getKey()).getUnlocked());
        }
        HttpResponse<String> created = post(withCert, rest, "/session", "x:" + token, null, null);
        assertEquals(201, created.statusCode(), created.body());
        assertEquals(401, post(withCert, rest, "/session", "x:wrong", null, null).statusCode());
        assertThrows(java.io.IOException.class, () -> post(withoutCert, rest, "/session", "x:" + token, null, null),
            "HTTPS without a client certificate");
      }
      assertTrue(List.of(c.status(0).getTls(), c.status(1).getTls(), c.status(2).getTls()).stream().allMatch(b -> b));
    }
  }
}
