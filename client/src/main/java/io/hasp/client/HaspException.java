package io.hasp.client;

import io.hasp.proto.ErrorCode;

/**
 * A call failed. {@link #code()} is the server's machine-readable code ({@code hasp-error-code}), or
 * NO_QUORUM when no node could be reached in time. Unchecked: lock calls fail for reasons the caller usually
 * handles in one place.
 */
public class HaspException extends RuntimeException {
  private final ErrorCode code;

  /** A failure with the server's code and message. */
  public HaspException(ErrorCode code, String message) {
    super(code.name() + ": " + message);
    this.code = code;
  }

  /** The machine-readable reason. */
  public ErrorCode code() {
    return code;
  }

  /** The wait of a {@code lock} call ran out ({@code LOCK_WAIT_TIMEOUT}). */
  public static final class LockWaitTimeoutException extends HaspException {
    public LockWaitTimeoutException(String message) {
      super(ErrorCode.LOCK_WAIT_TIMEOUT, message);
    }
  }

  /** The session a hold was tied to ended; its holds are gone ({@code SESSION_EXPIRED}). */
  public static final class SessionExpiredException extends HaspException {
    public SessionExpiredException(String message) {
      super(ErrorCode.SESSION_EXPIRED, message);
    }
  }

  /** No node answered within the call timeout ({@code NO_QUORUM}); the outcome of a write is unknown. */
  public static final class NoQuorumException extends HaspException {
    public NoQuorumException(String message) {
      super(ErrorCode.NO_QUORUM, message);
    }
  }

  /** The call carried no credentials the cluster accepts: no or unknown token ({@code UNAUTHENTICATED}). */
  public static final class UnauthenticatedException extends HaspException {
    public UnauthenticatedException(String message) {
      super(ErrorCode.UNAUTHENTICATED, message);
    }
  }

  /** The caller's role may not make this call, e.g. a client token calling flush ({@code PERMISSION_DENIED}). */
  public static final class PermissionDeniedException extends HaspException {
    public PermissionDeniedException(String message) {
      super(ErrorCode.PERMISSION_DENIED, message);
    }
  }

  static HaspException of(ErrorCode code, String message) {
    switch (code) {
      case UNAUTHENTICATED:
        return new UnauthenticatedException(message);
      case PERMISSION_DENIED:
        return new PermissionDeniedException(message);
      case LOCK_WAIT_TIMEOUT:
        return new LockWaitTimeoutException(message);
      case SESSION_EXPIRED:
        return new SessionExpiredException(message);
      case NO_QUORUM:
        return new NoQuorumException(message);
      default:
        return new HaspException(code, message);
    }
  }
}
