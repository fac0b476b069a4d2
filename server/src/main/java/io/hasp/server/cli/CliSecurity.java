package io.hasp.server.cli;

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
 * The CLI's TLS and token settings: {@code --tls-ca} / {@code HASP_TLS_CA} (TLS on, trusting that CA file),
 * {@code --tls-cert} + {@code --tls-key} / {@code HASP_TLS_CERT} + {@code HASP_TLS_KEY} (a client certificate for
 * mTLS clusters), {@code --token} / {@code HASP_TOKEN} (sent as {@code authorization: Bearer}). A flag wins over
 * its variable; an empty variable counts as unset.
 */
final class CliSecurity {
  static final CliSecurity PLAINTEXT = new CliSecurity(null, null);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final SslContext tls;
  private final String token;

  private CliSecurity(SslContext tls, String token) {
    this.tls = tls;
    this.token = token;
  }

  static CliSecurity of(Path ca, Path cert, Path key, String token) {
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key (HASP_TLS_CERT, HASP_TLS_KEY) go together");
    }
    if (token != null && (token.isEmpty() || !token.chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
      throw new IllegalArgumentException("--token (HASP_TOKEN) must be printable ASCII without spaces");
    }
    SslContext ctx = null;
    if (ca != null || cert != null) {
      SslContextBuilder b = GrpcSslContexts.forClient();
      try {
        if (ca != null) {
          readable("--tls-ca (HASP_TLS_CA)", ca);
          b.trustManager(ca.toFile());
        }
        if (cert != null) {
          readable("--tls-cert (HASP_TLS_CERT)", cert);
          readable("--tls-key (HASP_TLS_KEY)", key);
          b.keyManager(cert.toFile(), key.toFile());
        }
        ctx = b.build();
      } catch (SSLException | RuntimeException e) {
        if (e instanceof IllegalArgumentException i && i.getMessage() != null && i.getMessage().startsWith("--")) {
          throw i;
        }
        throw new IllegalArgumentException("cannot use the TLS files (" + (ca != null ? "CA " + ca : "")
            + (cert != null ? " cert " + cert + " key " + key : "") + "): " + e.getMessage(), e);
      }
    }
    return new CliSecurity(ctx, token);
  }

  private static void readable(String option, Path p) {
    if (!Files.isReadable(p)) {
      throw new IllegalArgumentException(option + " " + p + ": cannot read the file");
    }
  }

  boolean tls() {
    return tls != null;
  }

  NettyChannelBuilder apply(NettyChannelBuilder b) {
    if (tls != null) {
      b.sslContext(tls);
    } else {
      b.usePlaintext();
    }
    if (token != null) {
      Metadata md = new Metadata();
      md.put(AUTHORIZATION, "Bearer " + token);
      b.intercept(MetadataUtils.newAttachHeadersInterceptor(md));
    }
    return b;
  }
}
