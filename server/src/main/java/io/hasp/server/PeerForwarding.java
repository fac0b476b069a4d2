package io.hasp.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.ForwardedBatch;
import io.hasp.server.Errors.HaspError;
import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.ratis.proto.RaftProtos.TermIndexProto;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.ServerCalls;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;

/**
 * Node-to-node forwarding of command batches, served on the Raft port next to Ratis' own services (so only
 * what may reach the Raft port, the peers, can reach it, and it is protected as Raft traffic is). Uses Ratis'
 * shaded gRPC and plain bytes: a {@link ForwardedBatch} in, a {@link BatchReply} out; failures travel as a
 * status with the {@code hasp-error-code} and {@code hasp-leader} trailers.
 */
final class PeerForwarding implements Closeable {
  static final String SERVICE = "hasp.internal.v1.Peer";
  private static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code",
      Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> LEADER = Metadata.Key.of("hasp-leader", Metadata.ASCII_STRING_MARSHALLER);

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
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

  static final MethodDescriptor<byte[], byte[]> FORWARD_BATCH = unary("ForwardBatch");

  /** A member's last log entry (term and index, a Ratis TermIndexProto): what {@link LeaderLoss} ranks by. */
  static final MethodDescriptor<byte[], byte[]> LAST_ENTRY = unary("LastEntry");

  /** A unary method of this service whose messages are bytes (each side parses its own). */
  private static MethodDescriptor<byte[], byte[]> unary(String name) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
        .setRequestMarshaller(BYTES)
        .setResponseMarshaller(BYTES)
        .build();
  }

  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** Mutual TLS to peers' Raft ports (this node's certificate, the peer CA), or null for plaintext. */
  private final org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext tls;

  PeerForwarding(org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext tls) {
    this.tls = tls;
  }

  /**
   * The service every member serves: {@code append} appends one forwarded batch (on the leader) and completes with
   * its replies; {@code lastEntry} is the member's last log entry, or null while it has no log open.
   */
  static ServerServiceDefinition service(Function<ForwardedBatch, CompletableFuture<BatchReply>> append,
      Supplier<TermIndex> lastEntry) {
    return ServerServiceDefinition.builder(SERVICE)
        .addMethod(LAST_ENTRY, ServerCalls.asyncUnaryCall((byte[] request, StreamObserver<byte[]> out) -> {
          TermIndex last = lastEntry.get();
          if (last == null) {
            out.onError(Status.UNAVAILABLE.withDescription("no log open yet").asRuntimeException());
          } else {
            out.onNext(last.toProto().toByteArray());
            out.onCompleted();
          }
        }))
        .addMethod(FORWARD_BATCH, ServerCalls.asyncUnaryCall((byte[] request, StreamObserver<byte[]> out) -> {
          ForwardedBatch batch;
          try {
            batch = ForwardedBatch.parseFrom(request);
          } catch (InvalidProtocolBufferException e) {
            out.onError(toStatus(new HaspError(ErrorCode.INVALID_ARGUMENT, "malformed forwarded batch")));
            return;
          }
          CompletableFuture<BatchReply> f;
          try {
            f = append.apply(batch);
          } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
          }
          f.whenComplete((reply, error) -> {
            try {
              if (error != null) {
                out.onError(toStatus(Errors.unwrap(error)));
              } else {
                out.onNext(reply.toByteArray());
                out.onCompleted();
              }
            } catch (RuntimeException e) {
              // the forwarding node left; it retries
            }
          });
        }))
        .build();
  }

  /** Sends a batch to the leader's Raft address; completes with the replies or a {@link HaspError}. */
  CompletableFuture<BatchReply> forward(String raftAddress, ForwardedBatch batch, long timeoutMs) {
    CompletableFuture<BatchReply> f = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(channel(raftAddress).newCall(FORWARD_BATCH,
        CallOptions.DEFAULT.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)), batch.toByteArray(),
        new StreamObserver<>() {
          @Override
          public void onNext(byte[] value) {
            try {
              f.complete(BatchReply.parseFrom(value));
            } catch (InvalidProtocolBufferException e) {
              f.completeExceptionally(new HaspError(ErrorCode.INTERNAL, "unreadable forwarded reply"));
            }
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(fromStatus(t, raftAddress));
          }

          @Override
          public void onCompleted() {}
        });
    return f;
  }

  /** The last log entry of the member at {@code raftAddress}; completes exceptionally when it does not answer. */
  CompletableFuture<TermIndex> lastEntry(String raftAddress, long timeoutMs) {
    CompletableFuture<TermIndex> f = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(channel(raftAddress).newCall(LAST_ENTRY,
        CallOptions.DEFAULT.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)), new byte[0],
        new StreamObserver<>() {
          @Override
          public void onNext(byte[] value) {
            try {
              f.complete(TermIndex.valueOf(TermIndexProto.parseFrom(value)));
            } catch (org.apache.ratis.thirdparty.com.google.protobuf.InvalidProtocolBufferException e) {
              f.completeExceptionally(e);
            }
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    return f;
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> {
      NettyChannelBuilder b = NettyChannelBuilder.forTarget(a);
      if (tls != null) {
        b.sslContext(tls);
      } else {
        b.usePlaintext();
      }
      return b.keepAliveTime(10, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).build();
    });
  }

  private static StatusRuntimeException toStatus(Throwable t) {
    HaspError e = t instanceof HaspError h ? h
        : new HaspError(ErrorCode.INTERNAL, "internal error: " + t.getClass().getSimpleName());
    Metadata trailers = new Metadata();
    trailers.put(ERROR_CODE, e.code().name());
    if (e.leaderHint() != null && !e.leaderHint().isEmpty()) {
      trailers.put(LEADER, e.leaderHint());
    }
    return Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException(trailers);
  }

  private static HaspError fromStatus(Throwable t, String address) {
    if (t instanceof StatusRuntimeException s && s.getTrailers() != null && s.getTrailers().get(ERROR_CODE) != null) {
      ErrorCode code;
      try {
        code = ErrorCode.valueOf(s.getTrailers().get(ERROR_CODE));
      } catch (IllegalArgumentException e) {
        code = ErrorCode.INTERNAL;
      }
      return new HaspError(code, s.getStatus().getDescription(), s.getTrailers().get(LEADER));
    }
    Status st = Status.fromThrowable(t);
    return new HaspError(ErrorCode.NO_QUORUM, "no quorum reachable from this node (leader at " + address
        + " unreachable: " + st.getCode() + ")");
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
  }
}
