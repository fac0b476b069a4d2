package io.hasp.client;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * How the client's channels are secured: TLS (trusting a CA file, or the JVM's default trust), a client
 * certificate for clusters that require one (mTLS), and a bearer token sent as {@code authorization} metadata
 * on every call. Built once per client; every channel shares it.
 */
final class ChannelSecurity {
  static final ChannelSecurity PLAINTEXT = new ChannelSecurity(null, null);
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final SslContext tls;
  private final ClientInterceptor token;

  private ChannelSecurity(SslContext tls, ClientInterceptor token) {
    this.tls = tls;
    this.token = token;
  }

  /**
   * {@code tls}: TLS on; {@code caPem}: CA certificates to trust (null: the JVM's default trust); {@code certPem}
   * and {@code keyPem}: this client's certificate chain and PKCS#8 key (both or neither); {@code token}: bearer
   * token or null. Throws IllegalArgumentException naming the option and file that cannot be used.
   */
  static ChannelSecurity of(boolean tls, Path caPem, Path certPem, Path keyPem, String token) {
    SslContext ctx = null;
    if (tls) {
      SslContextBuilder b = GrpcSslContexts.forClient();
      if (caPem != null) {
        readable("tls CA", caPem);
        try {
          b.trustManager(caPem.toFile());
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("tls CA " + caPem + ": not a PEM certificate file (" + e.getMessage() + ")", e);
        }
      }
      if (certPem != null) {
        readable("tls client certificate", certPem);
        readable("tls client key", keyPem);
        try {
          b.keyManager(certPem.toFile(), keyPem.toFile());
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("tls client certificate " + certPem + " / key " + keyPem
              + ": not a PEM certificate and PKCS#8 key (" + e.getMessage() + ")", e);
        }
      }
      try {
        ctx = b.build();
      } catch (SSLException | RuntimeException e) {
        throw new IllegalArgumentException("cannot set up TLS: " + e.getMessage(), e);
      }
    }
    ClientInterceptor auth = null;
    if (token != null) {
      Metadata md = new Metadata();
      md.put(AUTHORIZATION, "Bearer " + token);
      auth = MetadataUtils.newAttachHeadersInterceptor(md);
    }
    return new ChannelSecurity(ctx, auth);
  }

  private static void readable(String what, Path p) {
    if (!Files.isReadable(p)) {
      throw new IllegalArgumentException(what + " " + p + ": cannot read the file");
    }
  }

  /** Checks a bearer token: printable ASCII without spaces (it travels as HTTP/2 header text). */
  static String checkToken(String token) {
    if (token == null || token.isEmpty() || !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException("a token must be non-empty printable ASCII without spaces");
    }
    return token;
  }

  boolean tls() {
    return tls != null;
  }

  /** Applies TLS (or plaintext) and the token to a new channel. */
  NettyChannelBuilder apply(NettyChannelBuilder b) {
    if (tls != null) {
      b.sslContext(tls);
    } else {
      b.usePlaintext();
    }
    if (token != null) {
      b.intercept(token);
    }
    return b;
  }
}
