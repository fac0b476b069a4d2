package io.hasp.server;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;

/**
 * The one error table at the edge: a Hasp {@link ErrorCode} becomes a gRPC status with the code in the
 * {@code hasp-error-code} trailer (and the leader's API address in {@code hasp-leader} when known). Messages
 * name the problem; no stack trace ever leaves the node.
 */
public final class Errors {
  private Errors() {}

  public static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> LEADER = Metadata.Key.of("hasp-leader", Metadata.ASCII_STRING_MARSHALLER);

  /** A failure on its way to the client. */
  public static final class HaspError extends RuntimeException {
    private final ErrorCode code;
    private final String leaderHint;

    public HaspError(ErrorCode code, String message) {
      this(code, message, null);
    }

    public HaspError(ErrorCode code, String message, String leaderHint) {
      super(message, null, false, false);
      this.code = code;
      this.leaderHint = leaderHint;
    }

    public ErrorCode code() {
      return code;
    }

    public String leaderHint() {
      return leaderHint;
    }
  }

  public static Status.Code grpcCode(ErrorCode code) {
    switch (code) {
      case LOCK_NOT_FOUND:
        return Status.Code.NOT_FOUND;
      case INVALID_KEY:
      case LOCK_SIZE_MISMATCH:
      case SESSION_EXPIRED:
        return Status.Code.FAILED_PRECONDITION;
      case INVALID_SIZE:
      case INVALID_ARGUMENT:
        return Status.Code.INVALID_ARGUMENT;
      case LOCK_WAIT_TIMEOUT:
      case WAIT_CANCELLED:
      case WAIT_CONTINUES:
      case MEMBERSHIP_CONFLICT:
        return Status.Code.ABORTED;
      case NOT_LEADER:
      case NO_QUORUM:
        return Status.Code.UNAVAILABLE;
      case UNAUTHENTICATED:
        return Status.Code.UNAUTHENTICATED;
      case PERMISSION_DENIED:
        return Status.Code.PERMISSION_DENIED;
      case LIMIT_EXCEEDED:
        return Status.Code.RESOURCE_EXHAUSTED;
      default:
        return Status.Code.INTERNAL;
    }
  }

  public static StatusRuntimeException toStatus(HaspError e) {
    Metadata trailers = new Metadata();
    trailers.put(ERROR_CODE, e.code().name());
    if (e.leaderHint() != null && !e.leaderHint().isEmpty()) {
      trailers.put(LEADER, e.leaderHint());
    }
    return Status.fromCode(grpcCode(e.code())).withDescription(e.code().name() + ": " + e.getMessage())
        .asRuntimeException(trailers);
  }

  /** Any throwable as a status: HaspErrors keep their code; anything else is INTERNAL with a short message. */
  public static StatusRuntimeException toStatus(Throwable t) {
    Throwable c = unwrap(t);
    if (c instanceof HaspError h) {
      return toStatus(h);
    }
    if (c instanceof StatusRuntimeException s) {
      return s;
    }
    return toStatus(new HaspError(ErrorCode.INTERNAL, "internal error: " + c.getClass().getSimpleName()
        + (c.getMessage() == null ? "" : ": " + c.getMessage())));
  }

  public static Throwable unwrap(Throwable t) {
    while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public static HaspError invalid(String message) {
    return new HaspError(ErrorCode.INVALID_ARGUMENT, message);
  }
}
