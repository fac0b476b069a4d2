package io.hasp.server.security;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's TLS material and tokens, and where they plug in: the API server (grpc-netty-shaded), the Raft port
 * (Ratis' own shaded gRPC: its server, its connections to peers, and the forwarding service served beside it) and
 * this node's forwarding channels to peers.
 *
 * <p>Everything is read at start (a file that cannot be used fails the start with a message naming the key and
 * the file), then watched: every {@code tls.reload.interval} the files' modification time, size and identity are
 * compared, and a changed group (cert+key, client CA, peer CA, tokens) is read again. New handshakes and calls use
 * the new material; open connections keep what they negotiated. A file that fails to load on a reload is logged
 * and the material in use is kept. {@link #reload()} forces a reload (SIGHUP in the node process).
 */
public final class NodeSecurity implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeSecurity.class);

  private interface Loader {
    void load() throws CredentialsException;
  }

  private record Watched(String what, List<Path> files, Loader loader) {}

  private final SecurityConfig cfg;
  private final String nodeId;
  private final ReloadingKeyManager keys;
  private final ReloadingTrustManager clientTrust;
  private final ReloadingTrustManager peerTrust;
  private volatile TokenTable tokens = TokenTable.EMPTY;
  private final List<Watched> watched = new ArrayList<>();
  private final Map<String, List<Object>> stamps = new HashMap<>();
  private final ScheduledExecutorService watcher;
  private final SslContext apiContext;
  private final org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext peerClientContext;
  private final AuthInterceptor auth;

  private NodeSecurity(SecurityConfig cfg, String nodeId, Supplier<Collection<String>> peerHosts)
      throws CredentialsException {
    this.cfg = cfg;
    this.nodeId = nodeId;
    if (cfg.tls()) {
      keys = new ReloadingKeyManager();
      watch("tls.cert/tls.key", List.of(cfg.cert(), cfg.key()), this::loadKeys);
      clientTrust = cfg.mutualTls() ? new ReloadingTrustManager(null, null) : null;
      if (clientTrust != null) {
        watch("tls.client.ca", List.of(cfg.clientCa()), () -> clientTrust.setOrThrow("tls.client.ca", cfg.clientCa()));
      }
      PeerNames rule = new PeerNames(peerHosts);
      peerTrust = new ReloadingTrustManager(rule, PeerNames.describe());
      String peerKey = cfg.peerCa().equals(cfg.clientCa()) ? "tls.peer.ca (= tls.client.ca)" : "tls.peer.ca";
      watch(peerKey, List.of(cfg.peerCa()), () -> peerTrust.setOrThrow(peerKey, cfg.peerCa()));
    } else {
      keys = null;
      clientTrust = null;
      peerTrust = null;
    }
    if (cfg.tokensFile() != null) {
      watch("auth.tokens.file", List.of(cfg.tokensFile()), this::loadTokens);
    }
    for (Watched w : watched) {
      stamps.put(w.what(), stamp(w.files()));
      w.loader().load();
    }
    try {
      apiContext = cfg.tls() ? apiServerContext() : null;
      peerClientContext = cfg.tls() ? org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts.forClient()
          .keyManager(keys).trustManager(peerTrust).build() : null;
    } catch (SSLException | RuntimeException e) {
      throw new CredentialsException("cannot set up TLS with tls.cert " + cfg.cert() + ": " + e.getMessage(), e);
    }
    this.auth = cfg.auth() ? new AuthInterceptor(() -> tokens, cfg.certRoles()) : null;
    if (cfg.auth() && !cfg.tls()) {
      LOG.warn("auth is on but TLS is off: bearer tokens cross the network in clear text (set tls.cert and tls.key)");
    }
    if (watched.isEmpty()) {
      watcher = null;
    } else {
      watcher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hasp-credentials-" + nodeId);
        t.setDaemon(true);
        return t;
      });
      long ms = cfg.reloadInterval().toMillis();
      watcher.scheduleWithFixedDelay(() -> reload(false), ms, ms, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Reads every configured file; throws naming the key and file of the first one that cannot be used.
   * {@code peerHosts}: the hosts of the group's members now (asked at each peer handshake, so members added later
   * are peers too).
   */
  public static NodeSecurity open(SecurityConfig cfg, String nodeId, Supplier<Collection<String>> peerHosts)
      throws CredentialsException {
    return new NodeSecurity(cfg, nodeId, peerHosts);
  }

  private void watch(String what, List<Path> files, Loader loader) {
    watched.add(new Watched(what, files, loader));
  }

  private SslContext apiServerContext() throws SSLException {
    SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forServer(keys));
    if (clientTrust != null) {
      b.trustManager(clientTrust).clientAuth(ClientAuth.REQUIRE);
    }
    return b.build();
  }

  private void loadKeys() throws CredentialsException {
    List<X509Certificate> chain = Pem.certificates("tls.cert", cfg.cert());
    PrivateKey key = Pem.privateKey("tls.key", cfg.key());
    try {
      keys.set(key, chain);
    } catch (GeneralSecurityException e) {
      throw new CredentialsException("tls.key " + cfg.key() + " and tls.cert " + cfg.cert() + ": " + e.getMessage(), e);
    }
    X509Certificate leaf = chain.get(0);
    Instant now = Instant.now();
    if (leaf.getNotAfter().toInstant().isBefore(now) || leaf.getNotBefore().toInstant().isAfter(now)) {
      LOG.warn("tls.cert {} is not valid now (valid {} to {}): clients will refuse it", cfg.cert(),
          leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant());
    }
    LOG.info("node {} presents {} (serial {}, valid until {})", nodeId, leaf.getSubjectX500Principal().getName(),
        leaf.getSerialNumber().toString(16), leaf.getNotAfter().toInstant());
  }

  private void loadTokens() throws CredentialsException {
    try {
      TokenTable t = TokenTable.read(cfg.tokensFile());
      tokens = t;
      LOG.info("node {} accepts {} token(s) from {}", nodeId, t.size(), cfg.tokensFile());
    } catch (CredentialsException e) {
      throw e;
    } catch (IOException e) {
      throw new CredentialsException("auth.tokens.file " + cfg.tokensFile() + ": " + e.getMessage(), e);
    }
  }

  private static List<Object> stamp(List<Path> files) {
    List<Object> s = new ArrayList<>();
    for (Path f : files) {
      try {
        BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
        s.add(List.of(a.lastModifiedTime(), a.size(), String.valueOf(a.fileKey())));
      } catch (IOException e) {
        s.add("missing");
      }
    }
    return s;
  }

  /** Reads again every file, changed or not (e.g. on SIGHUP). Failures are logged; what is in use stays. */
  public void reload() {
    reload(true);
  }

  private synchronized void reload(boolean force) {
    for (Watched w : watched) {
      List<Object> now = stamp(w.files());
      if (!force && now.equals(stamps.get(w.what()))) {
        continue;
      }
      stamps.put(w.what(), now);
      try {
        w.loader().load();
        LOG.info("node {}: reloaded {}", nodeId, w.what());
      } catch (CredentialsException | RuntimeException e) {
        LOG.error("node {}: cannot reload {}, keeping the one in use: {}", nodeId, w.what(), e.getMessage());
      }
    }
  }

  /** TLS is on for the API and Raft ports. */
  public boolean tls() {
    return cfg.tls();
  }

  /** The Raft port (Ratis' server, its connections to peers, and every service on that port) speaks mutual TLS. */
  public void configureRaft(Parameters parameters) {
    if (cfg.tls()) {
      // TLS.setConf is the default of Ratis' server, admin and client TLS settings; with one shared port the server
      // conf is what its gRPC server and its channels to peers (appends, votes, snapshots) use. mTLS: a node shows
      // its certificate to the peers it connects to, and requires one from every connection.
      GrpcConfigKeys.TLS.setConf(parameters, new GrpcTlsConfig(keys, peerTrust, true));
    }
  }

  /** The context of this node's forwarding channels to peers' Raft ports, or null when TLS is off. */
  public org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext peerClientContext() {
    return peerClientContext;
  }

  /** TLS (and mTLS with tls.client.ca) and, when auth is on, the token and role checks of every API call. */
  public void configureApi(NettyServerBuilder builder) {
    if (apiContext != null) {
      builder.sslContext(apiContext);
    }
    if (auth != null) {
      builder.intercept(auth);
    }
  }

  /**
   * TLS only (and mTLS with tls.client.ca), without Hasp's token and role checks: for the LDLM-compatible port,
   * whose clients authenticate LDLM's way (see {@link #acceptsToken}, {@link #acceptsCertificate}).
   */
  public void configureTlsOnly(NettyServerBuilder builder) {
    if (apiContext != null) {
      builder.sslContext(apiContext);
    }
  }

  /**
   * A JDK {@link javax.net.ssl.SSLContext} with this node's certificate (reloaded like the others) and, with
   * tls.client.ca, its client trust (then {@link #mutualTls()}: require a client certificate); null without TLS.
   * For the HTTPS of the LDLM REST API.
   */
  public javax.net.ssl.SSLContext jdkServerContext() {
    if (keys == null) {
      return null;
    }
    try {
      javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
      ctx.init(new javax.net.ssl.KeyManager[] {keys},
          clientTrust == null ? null : new javax.net.ssl.TrustManager[] {clientTrust}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS for HTTPS: " + e.getMessage(), e);
    }
  }

  /** Clients must present a certificate signed by tls.client.ca. */
  public boolean mutualTls() {
    return clientTrust != null;
  }

  /** Hasp's token or certificate auth is on (auth.tokens.file or auth.cert.roles). */
  public boolean authOn() {
    return cfg.auth();
  }

  /** True when {@code token} (raw, or as "Bearer token") is one of auth.tokens.file's, any role. */
  public boolean acceptsToken(String token) {
    if (cfg.tokensFile() == null || token == null) {
      return false;
    }
    String t = token.trim();
    if (t.regionMatches(true, 0, "Bearer ", 0, 7)) {
      t = t.substring(7).trim();
    }
    return !t.isEmpty() && tokens.find(t) != null;
  }

  /** True when the TLS session's verified client certificate has a role in auth.cert.roles. */
  public boolean acceptsCertificate(javax.net.ssl.SSLSession ssl) {
    if (ssl == null || cfg.certRoles().isEmpty()) {
      return false;
    }
    try {
      java.security.cert.Certificate[] chain = ssl.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x && cfg.certRoles().roleOf(x) != null;
    } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
      return false;
    }
  }

  /** The certificate this node presents now (null without TLS). */
  public X509Certificate certificate() {
    return keys == null ? null : keys.certificate();
  }

  @Override
  public void close() {
    if (watcher != null) {
      watcher.shutdownNow();
    }
  }
}
