package io.hasp.bench;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.File;
import javax.net.ssl.SSLException;

/**
 * The bench's raw channels (status probes, the ReadIndex load) secured like the CLI's: {@code HASP_TLS_CA},
 * {@code HASP_TLS_CERT} + {@code HASP_TLS_KEY}, {@code HASP_TOKEN} (unset or empty: plaintext, no token), so
 * {@code ./hasp bench} runs against a secure cluster too.
 */
final class EnvSecurity {
  private EnvSecurity() {}

  static ManagedChannel channel(String address) {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(address);
    String ca = env("HASP_TLS_CA");
    String cert = env("HASP_TLS_CERT");
    String key = env("HASP_TLS_KEY");
    if (ca != null || cert != null) {
      SslContextBuilder ssl = GrpcSslContexts.forClient();
      if (ca != null) {
        ssl.trustManager(new File(ca));
      }
      if (cert != null && key != null) {
        ssl.keyManager(new File(cert), new File(key));
      }
      try {
        b.sslContext(ssl.build());
      } catch (SSLException e) {
        throw new IllegalArgumentException("cannot use HASP_TLS_* files: " + e.getMessage(), e);
      }
    } else {
      b.usePlaintext();
    }
    String token = env("HASP_TOKEN");
    if (token != null) {
      Metadata md = new Metadata();
      md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
      b.intercept(MetadataUtils.newAttachHeadersInterceptor(md));
    }
    return b.build();
  }

  private static String env(String name) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? null : v.trim();
  }
}
