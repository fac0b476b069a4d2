package io.hasp.tests;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.hasp.tests.ldlmwire.LDLMGrpc;
import io.hasp.tests.ldlmwire.LockRequest;
import io.hasp.tests.ldlmwire.LockResponse;
import io.hasp.tests.ldlmwire.RefreshLockRequest;
import io.hasp.tests.ldlmwire.RenewRequest;
import io.hasp.tests.ldlmwire.TryLockRequest;
import io.hasp.tests.ldlmwire.UnlockRequest;
import io.hasp.tests.ldlmwire.UnlockResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * An LDLM client as LDLM's own clients are: one gRPC connection (its session: closing it releases its locks), the
 * password as the raw {@code authorization} metadata, TLS with a CA (and a client certificate) when asked. Built only
 * from the tests' own {@code ldlm_wire.proto}, never from the server's generated classes.
 */
final class LdlmWireClient implements AutoCloseable {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final Channel calls;
  final String address;

  private LdlmWireClient(String address, ManagedChannel channel, String password) {
    this.address = address;
    this.channel = channel;
    this.calls = password == null ? channel : io.grpc.ClientInterceptors.intercept(channel, new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            headers.put(AUTHORIZATION, password);
            super.start(listener, headers);
          }
        };
      }
    });
  }

  static LdlmWireClient plaintext(String address) {
    return plaintext(address, null);
  }

  static LdlmWireClient plaintext(String address, String password) {
    return new LdlmWireClient(address, NettyChannelBuilder.forTarget(address).usePlaintext().build(), password);
  }

  /** TLS trusting {@code ca}; with {@code cert}/{@code key} (may be null) a client certificate too. */
  static LdlmWireClient tls(String address, Path ca, Path cert, Path key, String password) throws Exception {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(ca.toFile());
    if (cert != null) {
      ssl.keyManager(cert.toFile(), key.toFile());
    }
    return new LdlmWireClient(address, NettyChannelBuilder.forTarget(address).sslContext(ssl.build()).build(), password);
  }

  LDLMGrpc.LDLMBlockingStub stub() {
    return LDLMGrpc.newBlockingStub(calls).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  LDLMGrpc.LDLMFutureStub futureStub() {
    return LDLMGrpc.newFutureStub(calls);
  }

  LockResponse lock(String name) {
    return stub().lock(LockRequest.newBuilder().setName(name).build());
  }

  LockResponse lock(LockRequest r) {
    return stub().lock(r);
  }

  LockResponse tryLock(String name) {
    return stub().tryLock(TryLockRequest.newBuilder().setName(name).build());
  }

  LockResponse tryLock(TryLockRequest r) {
    return stub().tryLock(r);
  }

  UnlockResponse unlock(String name, String key) {
    return stub().unlock(UnlockRequest.newBuilder().setName(name).setKey(key).build());
  }

  LockResponse renew(String name, String key, int lockTimeoutSeconds) {
    return stub().renew(RenewRequest.newBuilder().setName(name).setKey(key).setLockTimeoutSeconds(lockTimeoutSeconds)
        .build());
  }

  LockResponse refreshLock(String name, String key, int lockTimeoutSeconds) {
    return stub().refreshLock(RefreshLockRequest.newBuilder().setName(name).setKey(key)
        .setLockTimeoutSeconds(lockTimeoutSeconds).build());
  }

  /** Ends the connection (as a client process that exits): its locks are released by the server. */
  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
