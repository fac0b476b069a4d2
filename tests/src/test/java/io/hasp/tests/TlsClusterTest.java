package io.hasp.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.client.HaspClient;
import io.hasp.client.HaspException;
import io.hasp.client.LockHandle;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-node cluster with TLS everywhere, client certificates required on the API port (mTLS), bearer tokens and
 * certificate roles: real handshakes on 127.0.0.1 with certificates made at run time by {@link TestCa}.
 */
class TlsClusterTest {
  @TempDir static Path dir;
  static TestCa ca;
  static Path caPem;
  static Path certs;
  static Path tokensFile;
  static SecureCluster cluster;
  static final String ADMIN_TOKEN = "admin-secret-token-1";
  static final String CLIENT_TOKEN = "client-secret-token-2";

  @BeforeAll
  static void start() throws Exception {
    ca = TestCa.create("test-ca");
    certs = dir.resolve("certs");
    caPem = ca.writeCa(certs.resolve("ca.pem"));
    for (int i = 1; i <= 3; i++) {
      ca.node("n" + i).write(certs, "n" + i);
    }
    ca.client("plain-client").write(certs, "plain-client"); // no role of its own
    ca.client("app-cert").write(certs, "app-cert"); // role client by auth.cert.roles
    ca.client("ops-admin").write(certs, "ops-admin"); // role admin by auth.cert.roles
    tokensFile = dir.resolve("tokens");
    Files.writeString(tokensFile, "# test tokens\n" + sha256(ADMIN_TOKEN) + " root admin\n\n"
        + sha256(CLIENT_TOKEN) + " app client\n");
    cluster = SecureCluster.start(3, dir.resolve("data"), i -> {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("tls.cert", certs.resolve("n" + (i + 1) + ".pem").toString());
      m.put("tls.key", certs.resolve("n" + (i + 1) + "-key.pem").toString());
      m.put("tls.client.ca", caPem.toString()); // also the peers' CA (tls.peer.ca defaults to it)
      m.put("auth.tokens.file", tokensFile.toString());
      m.put("auth.cert.roles", "CN=app-cert=client, CN=ops-admin=admin");
      m.put("tls.reload.interval", "200ms");
      return m;
    });
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static String sha256(String token) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
  }

  /** A TLS client presenting certificate {@code certName} (null: none) with {@code token} (null: none). */
  static HaspClient client(List<String> endpoints, Path trust, String certName, String token) {
    HaspClient.Builder b = HaspClient.builder().endpoints(endpoints).callTimeout(Duration.ofSeconds(4));
    if (trust != null) {
      b.tls(trust);
    }
    if (certName != null) {
      b.tlsClientCert(certs.resolve(certName + ".pem"), certs.resolve(certName + "-key.pem"));
    }
    if (token != null) {
      b.token(token);
    }
    return b.build();
  }

  static HaspClient client(String certName, String token) {
    return client(cluster.endpoints(), caPem, certName, token);
  }

  @Test
  void aTlsClientLocksThroughEveryNodeAndTheWritesReplicate() throws Exception {
    int leader = cluster.leaderIndex(Duration.ofSeconds(30));
    int follower = (leader + 1) % 3;
    // calls to a follower: its writes are forwarded to the leader over the Raft port (TLS); raw stubs, since the
    // Java client would move to the leader it learns of
    io.grpc.ManagedChannel ch = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forTarget(cluster.endpoints().get(follower))
        .sslContext(io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient().trustManager(caPem.toFile())
            .keyManager(certs.resolve("plain-client.pem").toFile(), certs.resolve("plain-client-key.pem").toFile())
            .build())
        .intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(bearer(CLIENT_TOKEN)))
        .build();
    try {
      io.hasp.proto.HaspGrpc.HaspBlockingStub stub = io.hasp.proto.HaspGrpc.newBlockingStub(ch)
          .withDeadlineAfter(30, TimeUnit.SECONDS);
      Rpc rpc = new Rpc();
      io.hasp.proto.LockResponse r = stub.tryLock(rpc.lock("tls-replicated").setLeaseMs(60_000).build());
      assertTrue(r.getLocked(), r.toString());
      stub.unlock(rpc.unlock("tls-replicated", r.getGrant().getKey()));
    } finally {
      ch.shutdownNow();
    }
    try (HaspClient c = client(List.of(cluster.endpoints().get(follower)), caPem, "plain-client", CLIENT_TOKEN)) {
      LockHandle h = c.lock("tls-replicated");
      assertTrue(c.isLocked("tls-replicated"));
      c.unlock(h);
      assertFalse(c.isLocked("tls-replicated"));
    }
    long commit = cluster.status(leader).getCommitIndex();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int i = 0; i < 3; i++) {
      while (cluster.status(i).getAppliedIndex() < commit) {
        assertTrue(System.nanoTime() - deadline < 0, "n" + (i + 1) + " did not apply up to " + commit);
        ProcessCluster.sleep(20);
      }
      ClusterStatusResponse s = cluster.status(i);
      assertTrue(s.getTls(), "status says TLS for n" + (i + 1));
    }
  }

  static io.grpc.Metadata bearer(String token) {
    io.grpc.Metadata md = new io.grpc.Metadata();
    md.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return md;
  }

  @Test
  void aPlaintextClientGetsAClearErrorWithinItsBudget() {
    try (HaspClient c = HaspClient.builder().endpoints(cluster.endpoints()).callTimeout(Duration.ofSeconds(3))
        .token(ADMIN_TOKEN).build()) {
      long t0 = System.nanoTime();
      HaspException e = assertThrows(HaspException.class, () -> c.isLocked("x"));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms < 15_000, "bounded by the call budget, took " + ms + " ms");
      assertEquals(ErrorCode.NO_QUORUM, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("UNAVAILABLE"), e.getMessage());
      assertTrue(e.getMessage().contains("if the cluster speaks TLS, configure the client with tls(caPem)"), e.getMessage());
    }
  }

  @Test
  void aClientWithTheWrongCaFailsClearly() throws Exception {
    Path otherCa = TestCa.create("other-ca").writeCa(dir.resolve("other/ca.pem"));
    try (HaspClient c = client(cluster.endpoints(), otherCa, "plain-client", ADMIN_TOKEN)) {
      HaspException e = assertThrows(HaspException.class, () -> c.isLocked("x"));
      assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
      assertTrue(e.getMessage().contains("certification path"), e.getMessage());
    }
  }

  @Test
  void withMutualTlsAClientWithoutACertificateIsRefused() {
    try (HaspClient c = client(null, ADMIN_TOKEN)) {
      HaspException e = assertThrows(HaspException.class, () -> c.isLocked("x"));
      assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
      assertTrue(e.getMessage().contains("CERTIFICATE_REQUIRED"), e.getMessage());
    }
  }

  @Test
  void noOrUnknownTokenIsUnauthenticated() {
    try (HaspClient c = client("plain-client", null)) {
      HaspException e = assertThrows(HaspException.UnauthenticatedException.class, () -> c.isLocked("x"));
      assertEquals(ErrorCode.UNAUTHENTICATED, e.code());
      assertTrue(e.getMessage().contains("no bearer token"), e.getMessage());
    }
    try (HaspClient c = client("plain-client", "not-a-known-token")) {
      HaspException e = assertThrows(HaspException.UnauthenticatedException.class, () -> c.lock("x"));
      assertTrue(e.getMessage().contains("unknown bearer token"), e.getMessage());
      assertFalse(e.getMessage().contains("not-a-known-token"), "the token is never echoed: " + e.getMessage());
    }
  }

  @Test
  void aClientTokenCannotFlushOrListAndAnAdminTokenCan() {
    try (HaspClient app = client("plain-client", CLIENT_TOKEN); HaspClient root = client("plain-client", ADMIN_TOKEN)) {
      app.lock("tls-flush-me", io.hasp.client.LockOptions.builder().autoRenew(false).lease(Duration.ofMinutes(5)).build());
      HaspException denied = assertThrows(HaspException.PermissionDeniedException.class,
          () -> app.flushLocks("tls-flush-me"));
      assertEquals(ErrorCode.PERMISSION_DENIED, denied.code());
      assertTrue(denied.getMessage().contains("hasp.v1.Hasp/FlushLocks needs role admin"), denied.getMessage());
      assertTrue(denied.getMessage().contains("'app' has role client"), denied.getMessage());
      assertThrows(HaspException.PermissionDeniedException.class, () -> app.listLocks(""));
      assertTrue(app.isLocked("tls-flush-me"));
      assertEquals(Set.of("tls-flush-me"), root.flushLocks("tls-flush-me"));
      assertFalse(root.isLocked("tls-flush-me"));
      assertTrue(root.listLocks("tls-flush-").isEmpty());
    }
  }

  @Test
  void aCertificateWithARoleNeedsNoToken() {
    try (HaspClient app = client("app-cert", null); HaspClient ops = client("ops-admin", null)) {
      LockHandle h = app.lock("tls-cert-role", io.hasp.client.LockOptions.builder().autoRenew(false)
          .lease(Duration.ofMinutes(5)).build());
      HaspException e = assertThrows(HaspException.PermissionDeniedException.class, () -> app.flushLocks());
      assertTrue(e.getMessage().contains("certificate 'app-cert' has role client"), e.getMessage());
      assertTrue(ops.flushLocks("tls-cert-role").contains("tls-cert-role"));
      assertFalse(h.isValid() && app.isLocked("tls-cert-role"));
    }
  }

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> FORWARD = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("hasp.internal.v1.Peer/ForwardBatch")
      .setRequestMarshaller(BYTES)
      .setResponseMarshaller(BYTES)
      .build();

  /** Calls the forwarding service on node 0's Raft port over {@code channel}; returns the failure. */
  static StatusRuntimeException forwardGarbage(ManagedChannel channel) {
    try {
      return assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(channel, FORWARD,
          CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[] {(byte) 0xff}));
    } finally {
      channel.shutdownNow();
    }
  }

  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);

  @Test
  void healthNeedsNoTokenButTheAdminServiceNeedsRoleAdmin() throws Exception {
    io.grpc.ManagedChannel ch = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forTarget(cluster.endpoints().get(0)).sslContext(io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts
        .forClient().trustManager(caPem.toFile())
        .keyManager(certs.resolve("plain-client.pem").toFile(), certs.resolve("plain-client-key.pem").toFile())
        .build()).build();
    try {
      // a probe sends no credentials: the health service answers it
      io.grpc.health.v1.HealthCheckResponse h = io.grpc.health.v1.HealthGrpc.newBlockingStub(ch)
          .withDeadlineAfter(10, TimeUnit.SECONDS).check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
      assertTrue(h.getStatus() == io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING
          || h.getStatus() == io.grpc.health.v1.HealthCheckResponse.ServingStatus.NOT_SERVING, h.toString());
      // membership changes are admin-only: without a token unauthenticated, with a client token denied
      io.hasp.proto.HaspAdminGrpc.HaspAdminBlockingStub admin = io.hasp.proto.HaspAdminGrpc.newBlockingStub(ch)
          .withDeadlineAfter(10, TimeUnit.SECONDS);
      io.grpc.StatusRuntimeException anonymous = assertThrows(io.grpc.StatusRuntimeException.class,
          () -> admin.listMembers(io.hasp.proto.ListMembersRequest.getDefaultInstance()));
      io.grpc.Metadata.Key<String> code = io.grpc.Metadata.Key.of("hasp-error-code",
          io.grpc.Metadata.ASCII_STRING_MARSHALLER);
      assertEquals("UNAUTHENTICATED", anonymous.getTrailers().get(code), anonymous.toString());
      io.grpc.Metadata bearer = new io.grpc.Metadata();
      bearer.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
          "Bearer " + CLIENT_TOKEN);
      io.grpc.StatusRuntimeException denied = assertThrows(io.grpc.StatusRuntimeException.class, () -> admin
          .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(bearer))
          .removeMember(io.hasp.proto.RemoveMemberRequest.newBuilder().setId("n2").build()));
      assertEquals("PERMISSION_DENIED", denied.getTrailers().get(code), denied.toString());
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void theRaftPortTakesOnlyPeersOverTls() throws Exception {
    String raft = cluster.raftAddress(0);
    // plaintext: refused at the TLS layer, never reaches a service
    StatusRuntimeException plain = forwardGarbage(NettyChannelBuilder.forTarget(raft).usePlaintext().build());
    assertEquals(Status.Code.UNAVAILABLE, plain.getStatus().getCode(), plain.toString());
    assertNull(plain.getTrailers() == null ? null : plain.getTrailers().get(ERROR_CODE), plain.toString());
    // a client certificate from the same CA: valid, but it names no peer host, so it is no peer
    StatusRuntimeException client = forwardGarbage(NettyChannelBuilder.forTarget(raft).sslContext(GrpcSslContexts
        .forClient().trustManager(caPem.toFile())
        .keyManager(certs.resolve("plain-client.pem").toFile(), certs.resolve("plain-client-key.pem").toFile())
        .build()).build());
    assertEquals(Status.Code.UNAVAILABLE, client.getStatus().getCode(), client.toString());
    assertNull(client.getTrailers() == null ? null : client.getTrailers().get(ERROR_CODE), client.toString());
    // a peer's certificate: the call reaches the forwarding service, which refuses the malformed batch
    StatusRuntimeException peer = forwardGarbage(NettyChannelBuilder.forTarget(raft).sslContext(GrpcSslContexts
        .forClient().trustManager(caPem.toFile())
        .keyManager(certs.resolve("n2.pem").toFile(), certs.resolve("n2-key.pem").toFile()).build()).build());
    assertEquals("INVALID_ARGUMENT", peer.getTrailers().get(ERROR_CODE), peer.toString());
    assertTrue(peer.getStatus().getDescription().contains("malformed forwarded batch"), peer.toString());
  }

  @Test
  void aTokenAddedToTheFileIsAcceptedWithoutARestart() throws Exception {
    String fresh = "fresh-token-" + System.nanoTime();
    try (HaspClient c = client("plain-client", fresh)) {
      assertThrows(HaspException.UnauthenticatedException.class, () -> c.isLocked("x"));
      Files.writeString(tokensFile, sha256(fresh) + " fresh admin\n", StandardOpenOption.APPEND);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        try {
          assertTrue(c.flushLocks("tls-nothing-held").isEmpty()); // admin-only: the new line's role holds
          break;
        } catch (HaspException.UnauthenticatedException e) {
          assertTrue(System.nanoTime() - deadline < 0, "the new token was not accepted within 30 s");
          ProcessCluster.sleep(100);
        }
      }
    }
  }

  /** The certificate node 0's API port presents to a new connection. */
  static X509Certificate presentedBy(String apiAddress) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca.ca.cert());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trust);
    TestCa.Issued me = ca.client("probe");
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("me", me.key(), "x".toCharArray(), new X509Certificate[] {me.cert()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
    kmf.init(keys, "x".toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    int colon = apiAddress.lastIndexOf(':');
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(apiAddress.substring(0, colon),
        Integer.parseInt(apiAddress.substring(colon + 1)))) {
      s.setSoTimeout(10_000);
      SSLParameters p = s.getSSLParameters();
      p.setApplicationProtocols(new String[] {"h2"});
      s.setSSLParameters(p);
      s.startHandshake();
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }

  @Test
  void replacedCertificateFilesAreServedToNewConnections() throws Exception {
    String api = cluster.endpoints().get(0);
    BigInteger before = presentedBy(api).getSerialNumber();
    TestCa.Issued renewed = ca.node("n1");
    assertFalse(before.equals(renewed.cert().getSerialNumber()));
    // written beside and moved into place, as a certificate manager would
    Path staged = dir.resolve("staged");
    renewed.write(staged, "n1");
    Files.move(staged.resolve("n1-key.pem"), certs.resolve("n1-key.pem"), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    Files.move(staged.resolve("n1.pem"), certs.resolve("n1.pem"), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!presentedBy(api).getSerialNumber().equals(renewed.cert().getSerialNumber())) {
      assertTrue(System.nanoTime() - deadline < 0, "n1 still presents its old certificate after 30 s");
      ProcessCluster.sleep(100);
    }
    // and the cluster still works through n1 with it (API and its peer connections)
    try (HaspClient c = client(List.of(api), caPem, "plain-client", ADMIN_TOKEN)) {
      c.unlock(c.lock("tls-after-reload"));
    }
  }

  @Test
  void anExpiredServerCertificateFailsClearly() throws Exception {
    Path d = dir.resolve("expired");
    Instant past = Instant.now().minus(Duration.ofDays(2));
    ca.issue("n1", List.of("127.0.0.1", "localhost"), true, true, past.minus(Duration.ofDays(1)), past).write(d, "n1");
    try (SecureCluster one = SecureCluster.start(1, d.resolve("data"), i -> Map.of(
        "tls.cert", d.resolve("n1.pem").toString(), "tls.key", d.resolve("n1-key.pem").toString(),
        "tls.peer.ca", caPem.toString()));
        HaspClient c = HaspClient.builder().endpoints(one.endpoints()).tls(caPem).callTimeout(Duration.ofSeconds(3))
            .build()) {
      HaspException e = assertThrows(HaspException.class, () -> c.isLocked("x"));
      assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
      assertTrue(e.getMessage().contains("CertificateExpiredException"), e.getMessage());
    }
  }
}
