package io.hasp.server.ldlm;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.hasp.proto.ldlm.LDLMGrpc;
import io.hasp.proto.ldlm.LockRequest;
import io.hasp.proto.ldlm.LockResponse;
import io.hasp.proto.ldlm.RefreshLockRequest;
import io.hasp.proto.ldlm.RenewRequest;
import io.hasp.proto.ldlm.TryLockRequest;
import io.hasp.proto.ldlm.UnlockRequest;
import io.hasp.proto.ldlm.UnlockResponse;
import io.hasp.server.Errors;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The LDLM gRPC service: each call runs in its connection's {@link LdlmSession} ({@link LdlmConnections#SESSION})
 * and is answered from a future of {@link LdlmLocks}, never by a waiting thread. Timers {@code hasp.op.ldlm_<op>}
 * and meters {@code hasp.op.ldlm_<op>.errors} (an error in the response or a failed call) join the node's metrics.
 */
final class LdlmService extends LDLMGrpc.LDLMImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(LdlmService.class);
  private final LdlmLocks locks;
  private final MetricRegistry metrics;

  LdlmService(LdlmLocks locks, MetricRegistry metrics) {
    this.locks = locks;
    this.metrics = metrics;
  }

  @Override
  public void lock(LockRequest r, StreamObserver<LockResponse> observer) {
    LdlmLocks.Call call = call(observer);
    answer("lock", observer, call, locks.lock(LdlmConnections.SESSION.get(), r.getName(),
        r.hasWaitTimeoutSeconds() ? r.getWaitTimeoutSeconds() : null,
        r.hasLockTimeoutSeconds() ? r.getLockTimeoutSeconds() : null, r.hasSize() ? r.getSize() : null, false, call));
  }

  @Override
  public void tryLock(TryLockRequest r, StreamObserver<LockResponse> observer) {
    LdlmLocks.Call call = call(observer);
    answer("try_lock", observer, call, locks.lock(LdlmConnections.SESSION.get(), r.getName(), null,
        r.hasLockTimeoutSeconds() ? r.getLockTimeoutSeconds() : null, r.hasSize() ? r.getSize() : null, true, call));
  }

  @Override
  public void unlock(UnlockRequest r, StreamObserver<UnlockResponse> observer) {
    answer("unlock", observer, call(observer), locks.unlock(LdlmConnections.SESSION.get(), r.getName(), r.getKey()));
  }

  @Override
  public void renew(RenewRequest r, StreamObserver<LockResponse> observer) {
    answer("renew", observer, call(observer),
        locks.renew(LdlmConnections.SESSION.get(), r.getName(), r.getKey(), r.getLockTimeoutSeconds()));
  }

  /** LDLM clients up to v1.1 call Renew by this name. */
  @Override
  public void refreshLock(RefreshLockRequest r, StreamObserver<LockResponse> observer) {
    answer("renew", observer, call(observer),
        locks.renew(LdlmConnections.SESSION.get(), r.getName(), r.getKey(), r.getLockTimeoutSeconds()));
  }

  private static LdlmLocks.Call call(StreamObserver<?> observer) {
    LdlmLocks.Call call = new LdlmLocks.Call();
    ((ServerCallStreamObserver<?>) observer).setOnCancelHandler(call::cancel);
    return call;
  }

  private <T> void answer(String op, StreamObserver<T> observer, LdlmLocks.Call call, CompletableFuture<T> future) {
    Timer.Context timing = metrics.timer("hasp.op.ldlm_" + op).time();
    future.whenComplete((value, error) -> {
      timing.stop();
      if (error != null || hasError(value)) {
        metrics.meter("hasp.op.ldlm_" + op + ".errors").mark();
      }
      if (call.cancelled()) {
        return;
      }
      try {
        if (error == null) {
          observer.onNext(value);
          observer.onCompleted();
          return;
        }
        Throwable t = Errors.unwrap(error);
        if (t instanceof CancellationException) {
          return;
        }
        if (!(t instanceof StatusRuntimeException)) {
          LOG.warn("LDLM {} failed", op, t);
          t = Status.INTERNAL.withDescription("internal error: " + t.getClass().getSimpleName()).asRuntimeException();
        }
        observer.onError(t);
      } catch (RuntimeException e) {
        LOG.debug("LDLM {}: the client left before the answer: {}", op, e.toString());
      }
    });
  }

  private static boolean hasError(Object value) {
    return (value instanceof LockResponse l && l.hasError()) || (value instanceof UnlockResponse u && u.hasError());
  }
}
