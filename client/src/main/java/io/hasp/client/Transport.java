package io.hasp.client;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.HaspGrpc;
import io.hasp.proto.PeerInfo;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Calls with failover: each try goes to the leader when it is known, then to the other endpoints, following
 * NOT_LEADER hints ({@link RetryPolicy}), until the call's {@link Budget} is spent. Every try has a deadline and
 * every channel a keep-alive, so a node that stops answering (paused, cut off, dead without a reset) costs one
 * try, not the whole call; a waiting Lock whose try runs out is simply sent again (it re-attaches to its place).
 */
final class Transport implements AutoCloseable {
  /** Channel keep-alive: a silent connection is declared dead after about this plus the timeout. */
  static final long KEEPALIVE_TIME_MS = 10_000;
  static final long KEEPALIVE_TIMEOUT_MS = 5_000;

  /**
   * The deadlines of every try on a call stream, for every client in this JVM (as gRPC keeps one timer for the
   * deadlines of all its calls): a timer of one client's own would be woken by nearly every call, since each new
   * deadline is usually its only one. Almost every deadline is cancelled (the answer came first) and removed at
   * once; the thread only runs what expires, and never blocks.
   */
  private static final java.util.concurrent.ScheduledThreadPoolExecutor DEADLINES = deadlineTimer();

  private static java.util.concurrent.ScheduledThreadPoolExecutor deadlineTimer() {
    java.util.concurrent.ScheduledThreadPoolExecutor t = new java.util.concurrent.ScheduledThreadPoolExecutor(1,
        r -> {
          Thread th = new Thread(r, "hasp-client-deadlines");
          th.setDaemon(true);
          return th;
        });
    t.setRemoveOnCancelPolicy(true);
    return t;
  }

  private final List<String> endpoints;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, CallLine> lines = new ConcurrentHashMap<>();
  /** Role-client calls on one stream per node ({@link CallLine}); false: a unary call each. */
  private final boolean streams;
  private final ScheduledExecutorService scheduler;
  private final ChannelSecurity security;
  private volatile String preferred;
  private volatile boolean closed;

  Transport(List<String> endpoints, ScheduledExecutorService scheduler, ChannelSecurity security, boolean streams) {
    this.streams = streams;
    this.security = security;
    this.endpoints = List.copyOf(endpoints);
    this.scheduler = scheduler;
    this.preferred = endpoints.get(0);
  }

  ManagedChannel channel(String address) {
    // disableRetry: this class retries itself (same request id, next node), so gRPC need not buffer every call.
    // Answers are handed to gRPC's default executor, not run on the I/O thread: a caller's callback on an
    // ...Async future may block (even call this client again) without stalling the channel.
    return channels.computeIfAbsent(address, a -> security.apply(NettyChannelBuilder.forTarget(a))
        .keepAliveTime(KEEPALIVE_TIME_MS, TimeUnit.MILLISECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .disableRetry()
        .build());
  }

  /**
   * A channel to a node that was down is in gRPC's reconnect backoff, which grows to two minutes and fails every
   * call at once until it ends. This client paces its own tries ({@link RetryPolicy#backoffMs}, at most 1 s
   * apart), so a try at such a channel connects now: without it a {@code lock()} that waited through an outage of
   * the whole cluster was granted up to one backoff period (seconds to minutes) after the cluster served again.
   */
  static void reconnectNow(ManagedChannel channel) {
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
  }

  CallLine line(String address) {
    return lines.computeIfAbsent(address, a -> new CallLine(channel(a)));
  }

  /**
   * How a call tries: within {@code budget}; each try at most {@code perTryMs} (always &gt; 0); {@code waits}: the
   * request may wait on the server and asked for a pulse, so WAIT_CONTINUES sends it again to the same node.
   */
  record Plan(Budget budget, long perTryMs, boolean waits) {
    Plan {
      if (perTryMs <= 0) {
        throw new IllegalArgumentException("every try needs a deadline, got " + perTryMs + " ms");
      }
    }
  }

  /** A call in progress: cancelling it cancels the try on the wire and stops further tries. */
  static final class Call<R> extends CompletableFuture<R> {
    /** Cancels the try now on the wire (a unary call, or a call on the stream), or null. */
    private volatile Runnable current;
    /** The most telling failure of the tries so far (a TLS handshake error over a refused connection over a
     *  deadline): what the caller is told when the budget runs out, rather than whatever the last try hit. */
    private StatusRuntimeException telling;

    synchronized StatusRuntimeException mostTelling(StatusRuntimeException e) {
      if (telling == null || rank(e) > rank(telling)) {
        telling = e;
      }
      return telling;
    }

    private static int rank(StatusRuntimeException e) {
      for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
        if (c instanceof javax.net.ssl.SSLException || c instanceof java.security.cert.CertificateException) {
          return 3;
        }
      }
      return switch (e.getStatus().getCode()) {
        case UNAVAILABLE -> 2;
        case DEADLINE_EXCEEDED -> 1;
        default -> 0;
      };
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      Runnable c = current;
      if (cancelled && c != null) {
        c.run();
      }
      return cancelled;
    }
  }

  /**
   * Sends the request until it is answered or the plan's budget is spent. {@code request} builds try n's message
   * (1-based), the same request each time but for its attempt number. Completes with the response or a
   * {@link HaspException}. Role-client calls go on the endpoint's {@link CallLine} stream (unary when the node
   * does not serve it); the others (admin calls, lists) are unary calls.
   */
  <Q, R> Call<R> call(MethodDescriptor<Q, R> method, IntFunction<Q> request, Plan plan) {
    Call<R> result = new Call<>();
    attempt(method, request, plan, 1, 0, preferred, result);
    return result;
  }

  private <Q, R> void attempt(MethodDescriptor<Q, R> method, IntFunction<Q> request, Plan plan, int n, int failed,
      String address, Call<R> result) {
    if (result.isDone()) {
      return;
    }
    if (closed) {
      result.completeExceptionally(new HaspException(io.hasp.proto.ErrorCode.WAIT_CANCELLED, "client is closed"));
      return;
    }
    reconnectNow(channel(address));
    long tryMs = Math.max(1, Math.min(plan.perTryMs(), plan.budget().remainingMs()));
    Try<Q, R> t = new Try<>(method, request, plan, n, failed, address, result);
    CallLine line = streams ? line(address) : null;
    if (line != null && !line.unsupported() && Frames.streamable(method)) {
      long id = line.send(Frames.frame(method, request.apply(n)), t);
      java.util.concurrent.ScheduledFuture<?> deadline;
      try {
        // what follows an expiry runs on this client's own scheduler, never on the shared timer's thread
        deadline = DEADLINES.schedule(() -> scheduler.execute(() -> {
          if (line.cancel(id)) {
            t.onError(Status.DEADLINE_EXCEEDED.withDescription("no answer within " + tryMs + " ms")
                .asRuntimeException());
          }
        }), tryMs, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException x) {
        line.cancel(id);
        result.completeExceptionally(new HaspException(io.hasp.proto.ErrorCode.WAIT_CANCELLED, "client is closed"));
        return;
      }
      t.deadline = deadline;
      result.current = () -> {
        deadline.cancel(false);
        line.cancel(id);
      };
      if (result.isCancelled()) {
        result.current.run();
      }
      return;
    }
    ClientCall<Q, R> call = channel(address).newCall(method,
        CallOptions.DEFAULT.withDeadlineAfter(tryMs, TimeUnit.MILLISECONDS));
    result.current = () -> call.cancel("cancelled by the caller", null);
    if (result.isCancelled()) {
      call.cancel("cancelled by the caller", null);
      return;
    }
    ClientCalls.asyncUnaryCall(call, request.apply(n), t);
  }

  /** One try of a call: its answer completes the call, or decides the next try. */
  private final class Try<Q, R> implements StreamObserver<R>, CallLine.Pending {
    private final MethodDescriptor<Q, R> method;
    private final IntFunction<Q> request;
    private final Plan plan;
    private final int n;
    private final int failed;
    private final String address;
    private final Call<R> result;
    private volatile java.util.concurrent.ScheduledFuture<?> deadline;
    /** The leader named by the follower that answered this try, if any. */
    private volatile String leader;

    Try(MethodDescriptor<Q, R> method, IntFunction<Q> request, Plan plan, int n, int failed, String address,
        Call<R> result) {
      this.method = method;
      this.request = request;
      this.plan = plan;
      this.n = n;
      this.failed = failed;
      this.address = address;
      this.result = result;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void reply(io.hasp.proto.ReplyFrame r) {
      cancelDeadline();
      if (r.hasError()) {
        onError(Frames.status(r.getError()));
        return;
      }
      if (!r.getLeader().isEmpty() && endpoints.contains(r.getLeader())) {
        // a follower answered: later calls go to the leader it names, when that is one of this client's
        // endpoints (a client that reaches the cluster through other addresses, a proxy or a port forward,
        // stays where it is)
        leader = r.getLeader();
      }
      Object response = Frames.response(method, r);
      if (response == null) {
        onError(Status.INTERNAL.withDescription("the node answered " + method.getBareMethodName() + " with "
            + r.getReplyCase()).asRuntimeException());
        return;
      }
      onNext((R) response);
    }

    @Override
    public void fail(StatusRuntimeException error) {
      cancelDeadline();
      if (error.getStatus().getCode() == Status.Code.UNIMPLEMENTED && Frames.streamable(method)) {
        // a node without the Calls stream: the same try again as a unary call (the line now knows)
        attempt(method, request, plan, n, failed, address, result);
        return;
      }
      onError(error);
    }

    private void cancelDeadline() {
      java.util.concurrent.ScheduledFuture<?> d = deadline;
      if (d != null) {
        d.cancel(false);
      }
    }

    @Override
    public void onNext(R value) {
      preferred = leader != null ? leader : address;
      result.complete(value);
    }

    @Override
    public void onError(Throwable t) {
      if (result.isDone()) {
        return;
      }
      StatusRuntimeException e = t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
      RetryPolicy.Decision d = RetryPolicy.decide(e);
      if (!d.retry()) {
        result.completeExceptionally(RetryPolicy.toException(e, security.tls()));
        return;
      }
      StatusRuntimeException telling = result.mostTelling(e);
      if (plan.budget().spent() || closed) {
        result.completeExceptionally(RetryPolicy.toException(telling, security.tls()));
        return;
      }
      // a pulse: the node says the wait goes on; no answer at all within the try means the node is not
      // answering (frozen, cut off): then the next node
      boolean resend = plan.waits() && e.getTrailers() != null
          && "WAIT_CONTINUES".equals(e.getTrailers().get(RetryPolicy.ERROR_CODE));
      String next;
      int nextFailed;
      long delay;
      if (resend) {
        // ask the same node again (it re-attaches); a node cut off from the leader answers that re-send with
        // NO_QUORUM, and then the call moves on
        next = address;
        nextFailed = failed;
        delay = 0;
      } else {
        next = d.hint() != null && !d.hint().isEmpty() ? d.hint()
            : endpoints.get((Math.max(0, endpoints.indexOf(address)) + 1) % endpoints.size());
        if (address.equals(preferred)) {
          preferred = next; // later calls should not start at a node that just failed them
        }
        nextFailed = failed + 1;
        delay = nextFailed % endpoints.size() == 0 ? RetryPolicy.backoffMs(nextFailed / endpoints.size()) : 0;
      }
      try {
        scheduler.schedule(() -> attempt(method, request, plan, n + 1, nextFailed, next, result), delay,
            TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException x) {
        result.completeExceptionally(new HaspException(io.hasp.proto.ErrorCode.WAIT_CANCELLED, "client is closed"));
      }
    }

    @Override
    public void onCompleted() {}
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
    return endpoints;
  }

  @Override
  public void close() {
    closed = true;
    for (CallLine l : lines.values()) {
      l.close();
    }
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
  }
}
