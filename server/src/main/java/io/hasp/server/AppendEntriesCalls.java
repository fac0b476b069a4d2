package io.hasp.server;

import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;

/** Interceptors of the Raft port that act on Ratis' append-entries calls only (every other call passes as it is). */
final class AppendEntriesCalls {
  private AppendEntriesCalls() {}

  /** Wraps the listener of one append-entries call (each message of the stream is a request from the leader). */
  interface Wrapper {
    <Q> ServerCall.Listener<Q> wrap(ServerCall.Listener<Q> listener);
  }

  /** An interceptor that wraps the listener of every append-entries call with {@code wrapper}. */
  static ServerInterceptor intercept(Wrapper wrapper) {
    String method = org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc.getAppendEntriesMethod()
        .getFullMethodName();
    return new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
          ServerCallHandler<Q, A> next) {
        ServerCall.Listener<Q> listener = next.startCall(call, headers);
        return call.getMethodDescriptor().getFullMethodName().equals(method) ? wrapper.wrap(listener) : listener;
      }
    };
  }
}
