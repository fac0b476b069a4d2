package io.hasp.server;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-operation rates and latencies (Dropwizard Metrics, names {@code hasp.op.<op>} and
 * {@code hasp.op.<op>.errors}), and the one place a call is answered: a call whose client already left is
 * not written to.
 */
final class NodeMetrics {
  private static final Logger LOG = LoggerFactory.getLogger(NodeMetrics.class);

  private final MetricRegistry registry;
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Map<String, Meter> errors = new ConcurrentHashMap<>();
  private final Meter cancelled;
  private final Meter reattached;
  private final Meter pulsed;
  private final Meter triedByRead;
  private final io.hasp.server.ops.RequestObserver requestObserver;

  NodeMetrics(MetricRegistry registry) {
    this(registry, io.hasp.server.ops.RequestObserver.NONE);
  }

  /** @param observer told of every answered call (method, code, latency): the Prometheus request metrics */
  NodeMetrics(MetricRegistry registry, io.hasp.server.ops.RequestObserver observer) {
    this.registry = registry;
    this.requestObserver = observer;
    this.cancelled = registry.meter("hasp.op.lock.cancelled");
    this.reattached = registry.meter("hasp.op.lock.reattached");
    this.pulsed = registry.meter("hasp.op.lock.pulsed");
    this.triedByRead = registry.meter("hasp.op.try_lock.by_read");
  }

  MetricRegistry registry() {
    return registry;
  }

  Call start(String op) {
    Timer t = timers.computeIfAbsent(op, o -> registry.timer("hasp.op." + o));
    return new Call(op, t.time());
  }

  void cancelled() {
    cancelled.mark();
  }

  /** A waiting call was ended with WAIT_CONTINUES (its client re-sends it). */
  void pulsed() {
    pulsed.mark();
  }

  /** A TryLock was answered "not acquired" from a linearizable read, without a log entry. */
  void triedByRead() {
    triedByRead.mark();
  }

  /** A re-sent wait found its place (or its grant) without a log entry. */
  void reattached() {
    reattached.mark();
  }

  /** One call in flight. */
  final class Call {
    private final String op;
    private final Timer.Context timing;
    /** The request's id for log lines ({@link io.hasp.server.ops.RequestContext}), or null. */
    private final String request = org.slf4j.MDC.get(io.hasp.server.ops.RequestContext.MDC_KEY);

    Call(String op, Timer.Context timing) {
      this.op = op;
      this.timing = timing;
    }

    /** Answered already: a call is answered once (a wait may end from its grant and from a cut-off at once). */
    private final java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();

    <T> void ok(StreamObserver<T> observer, T value) {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      answered("OK", timing.stop());
      if (isCancelled(observer)) {
        return;
      }
      try {
        observer.onNext(value);
        observer.onCompleted();
      } catch (RuntimeException e) {
        debug("{}: client left before the answer: {}", op, e.toString());
      }
    }

    <T> void fail(StreamObserver<T> observer, Throwable error) {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      long nanos = timing.stop();
      errors.computeIfAbsent(op, o -> registry.meter("hasp.op." + o + ".errors")).mark();
      io.grpc.StatusRuntimeException status = Errors.toStatus(error);
      String code = status.getTrailers() == null ? null : status.getTrailers().get(Errors.ERROR_CODE);
      answered(code != null ? code : status.getStatus().getCode().name(), nanos);
      if (isCancelled(observer)) {
        return;
      }
      try {
        observer.onError(status);
      } catch (RuntimeException e) {
        debug("{}: client left before the error: {}", op, e.toString());
      }
    }

    private void answered(String code, long nanos) {
      requestObserver.answered(op, code, nanos);
      if (LOG.isDebugEnabled()) {
        debug("answered {} {} in {} ms", op, code, String.format(java.util.Locale.ROOT, "%.3f", nanos / 1e6));
      }
    }

    /** A debug line that carries this call's request id, whichever thread answers it. */
    private void debug(String format, Object... args) {
      if (!LOG.isDebugEnabled()) {
        return;
      }
      try (io.hasp.server.ops.RequestContext.Scope s = io.hasp.server.ops.RequestContext.enter(request)) {
        LOG.debug(format, args);
      }
    }

    private boolean isCancelled(StreamObserver<?> observer) {
      return observer instanceof ServerCallStreamObserver<?> s && s.isCancelled();
    }
  }
}
