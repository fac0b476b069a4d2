package io.hasp.client;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.PeerInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Calls with failover: the same request (same request id) is sent to the leader first when it is known, then to
 * the other endpoints, following NOT_LEADER hints, with capped exponential backoff and jitter, until the
 * call's time budget is spent. Only transport failures, NO_QUORUM and NOT_LEADER are retried.
 */
final class Transport implements AutoCloseable {
  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> LEADER = Metadata.Key.of("hasp-leader", Metadata.ASCII_STRING_MARSHALLER);
  static final long BACKOFF_MIN_MS = 25;
  static final long BACKOFF_MAX_MS = 1_000;

  private final List<String> endpoints;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final ScheduledExecutorService scheduler;
  private volatile String preferred;

  Transport(List<String> endpoints, ScheduledExecutorService scheduler) {
    this.endpoints = List.copyOf(endpoints);
    this.scheduler = scheduler;
    this.preferred = endpoints.get(0);
  }

  ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
  }

  /** What to do after a failed attempt: the pure retry policy. */
  record Decision(boolean retry, String hint) {}

  static Decision decide(StatusRuntimeException e) {
    String code = e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE);
    if (code == null) {
      Status.Code c = e.getStatus().getCode();
      return new Decision(c == Status.Code.UNAVAILABLE || c == Status.Code.DEADLINE_EXCEEDED, null);
    }
    if (code.equals("NOT_LEADER")) {
      return new Decision(true, e.getTrailers().get(LEADER));
    }
    return new Decision(code.equals("NO_QUORUM"), null);
  }

  /** Backoff before attempt n (1-based) after a full round of endpoints failed: capped, with full jitter. */
  static long backoffMs(int round) {
    long cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS << Math.min(10, round));
    return ThreadLocalRandom.current().nextLong(BACKOFF_MIN_MS, Math.max(BACKOFF_MIN_MS + 1, cap));
  }

  /** Maps a final failure to a typed exception (no server stack traces ever reach the caller). */
  static HaspException toException(Throwable t) {
    if (t instanceof HaspException h) {
      return h;
    }
    if (t instanceof StatusRuntimeException e) {
      String code = e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE);
      String d = e.getStatus().getDescription();
      if (code != null) {
        ErrorCode c;
        try {
          c = ErrorCode.valueOf(code);
        } catch (IllegalArgumentException x) {
          c = ErrorCode.INTERNAL;
        }
        String message = d != null && d.startsWith(code + ": ") ? d.substring(code.length() + 2) : String.valueOf(d);
        return HaspException.of(c, message);
      }
      if (e.getStatus().getCode() == Status.Code.UNAVAILABLE || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
        return new HaspException.NoQuorumException("no node answered in time (" + e.getStatus().getCode() + ")");
      }
      return new HaspException(ErrorCode.INTERNAL, e.getStatus().getCode() + (d == null ? "" : ": " + d));
    }
    return new HaspException(ErrorCode.INTERNAL, t.toString());
  }

  /**
   * Sends {@code request} until it succeeds or {@code budgetMs} passes. {@code attemptMs} is one try's
   * deadline (0 = none: a Lock that may wait long). Completes with the response or a {@link HaspException}.
   */
  <Q, R> CompletableFuture<R> call(MethodDescriptor<Q, R> method, Q request, long budgetMs, long attemptMs) {
    CompletableFuture<R> result = new CompletableFuture<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMs);
    attempt(method, request, deadline, attemptMs, 0, preferred, result, new ClientCall<?, ?>[1]);
    return result;
  }

  private <Q, R> void attempt(MethodDescriptor<Q, R> method, Q request, long deadline, long attemptMs, int n,
      String address, CompletableFuture<R> result, ClientCall<?, ?>[] current) {
    if (result.isDone()) {
      return;
    }
    CallOptions options = CallOptions.DEFAULT;
    if (attemptMs > 0) {
      options = options.withDeadlineAfter(attemptMs, TimeUnit.MILLISECONDS);
    }
    ClientCall<Q, R> call = channel(address).newCall(method, options);
    current[0] = call;
    result.whenComplete((r, e) -> {
      if (result.isCancelled()) {
        call.cancel("cancelled by the caller", null);
      }
    });
    ClientCalls.asyncUnaryCall(call, request, new StreamObserver<R>() {
      @Override
      public void onNext(R value) {
        preferred = address;
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        StatusRuntimeException e = t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
        Decision d = decide(e);
        if (!d.retry() || System.nanoTime() > deadline || result.isDone()) {
          result.completeExceptionally(toException(e));
          return;
        }
        String next = d.hint() != null && !d.hint().isEmpty() ? d.hint() : endpoints.get((endpoints.indexOf(address) + 1 + endpoints.size()) % endpoints.size());
        if (address.equals(preferred)) {
          preferred = next; // later calls should not start at a node that just failed them
        }
        long delay = (n + 1) % endpoints.size() == 0 ? backoffMs((n + 1) / endpoints.size()) : 0;
        scheduler.schedule(() -> attempt(method, request, deadline, attemptMs, n + 1, next, result, current),
            delay, TimeUnit.MILLISECONDS);
      }

      @Override
      public void onCompleted() {}
    });
  }

  /** Asks the endpoints who leads and prefers the leader's API address for later calls (best effort). */
  void findLeader() {
    for (String e : endpoints) {
      try {
        ClusterStatusResponse s = HaspGrpc.newBlockingStub(channel(e)).withDeadlineAfter(1, TimeUnit.SECONDS)
            .clusterStatus(ClusterStatusRequest.getDefaultInstance());
        for (PeerInfo p : s.getPeersList()) {
          if (p.getId().equals(s.getLeaderId()) && !p.getApiAddress().isEmpty()) {
            preferred = p.getApiAddress();
            return;
          }
        }
      } catch (StatusRuntimeException ignored) {
        // try the next endpoint
      }
    }
  }

  List<String> endpoints() {
    return new ArrayList<>(endpoints);
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
  }
}
