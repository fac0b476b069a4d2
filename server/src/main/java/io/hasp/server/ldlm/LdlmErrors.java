package io.hasp.server.ldlm;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ldlm.Error;
import io.hasp.proto.ldlm.ErrorCode;
import io.hasp.server.Errors;
import io.hasp.server.Errors.HaspError;

/**
 * The one table from Hasp's error codes to LDLM's. LDLM answers a lock-level failure inside the response (gRPC
 * status OK) with one of its {@link ErrorCode}s, so every failure about the request or the lock goes there; a
 * failure of the node or cluster to serve now (no leader reachable, node shutting down) is a gRPC status
 * (UNAVAILABLE), since its outcome is unknown and a client should retry, possibly elsewhere.
 *
 * <table>
 *   <caption>Hasp code to LDLM code</caption>
 *   <tr><th>Hasp</th><th>LDLM (in the response)</th></tr>
 *   <tr><td>LOCK_WAIT_TIMEOUT</td><td>LockWaitTimeout</td></tr>
 *   <tr><td>LOCK_NOT_FOUND</td><td>LockDoesNotExist; Renew: LockDoesNotExistOrInvalidKey</td></tr>
 *   <tr><td>INVALID_KEY</td><td>InvalidLockKey; Renew: LockDoesNotExistOrInvalidKey</td></tr>
 *   <tr><td>LOCK_SIZE_MISMATCH</td><td>LockSizeMismatch</td></tr>
 *   <tr><td>INVALID_SIZE</td><td>InvalidLockSize</td></tr>
 *   <tr><td>INVALID_ARGUMENT, LIMIT_EXCEEDED, SESSION_EXPIRED, WAIT_CANCELLED, PERMISSION_DENIED, INTERNAL</td>
 *       <td>Unknown, with Hasp's message (LDLM, too, answers Unknown for an empty name or a negative timeout)</td></tr>
 *   <tr><td>NO_QUORUM, NOT_LEADER</td><td>none: gRPC status UNAVAILABLE</td></tr>
 * </table>
 *
 * <p>LDLM's NotLocked never occurs: a Hasp lock without holders does not exist, so that case is LockDoesNotExist.
 */
final class LdlmErrors {
  private LdlmErrors() {}

  /** Which call failed: Renew reports a missing lock and a wrong key alike, as LDLM does. */
  enum Op { LOCK, UNLOCK, RENEW }

  // LDLM's own messages for its coded errors, so logs and client exceptions read as they did
  static final String WAIT_TIMEOUT = "timeout waiting to acquire lock";
  static final String DOES_NOT_EXIST = "a lock by that name does not exist";
  static final String INVALID_KEY = "invalid lock key";
  static final String DOES_NOT_EXIST_OR_INVALID_KEY = "lock does not exist or invalid key";
  static final String SIZE_MISMATCH = "lock size mismatch";
  static final String INVALID_SIZE = "lock size must be greater than 0";
  static final String EMPTY_NAME = "lock name cannot be empty";
  static final String INVALID_LOCK_TIMEOUT = "lock timeout must be greater than 0";
  static final String INVALID_WAIT_TIMEOUT = "wait timeout must be greater than 0";

  static Error error(ErrorCode code, String message) {
    return Error.newBuilder().setCode(code).setMessage(message).build();
  }

  /**
   * The LDLM error of a Hasp failure, or a thrown {@link StatusRuntimeException} when the failure is the node's
   * or cluster's, not the request's.
   */
  static Error of(Throwable failure, Op op) {
    Throwable t = Errors.unwrap(failure);
    if (t instanceof StatusRuntimeException s) {
      throw s;
    }
    if (!(t instanceof HaspError e)) {
      return error(ErrorCode.Unknown, "internal error: " + t.getClass().getSimpleName()
          + (t.getMessage() == null ? "" : ": " + t.getMessage()));
    }
    switch (e.code()) {
      case LOCK_WAIT_TIMEOUT:
        return error(ErrorCode.LockWaitTimeout, WAIT_TIMEOUT);
      case LOCK_NOT_FOUND:
        return op == Op.RENEW ? error(ErrorCode.LockDoesNotExistOrInvalidKey, DOES_NOT_EXIST_OR_INVALID_KEY)
            : error(ErrorCode.LockDoesNotExist, DOES_NOT_EXIST);
      case INVALID_KEY:
        return op == Op.RENEW ? error(ErrorCode.LockDoesNotExistOrInvalidKey, DOES_NOT_EXIST_OR_INVALID_KEY)
            : error(ErrorCode.InvalidLockKey, INVALID_KEY);
      case LOCK_SIZE_MISMATCH:
        return error(ErrorCode.LockSizeMismatch, SIZE_MISMATCH + ": " + e.getMessage());
      case INVALID_SIZE:
        return error(ErrorCode.InvalidLockSize, e.getMessage());
      case NO_QUORUM:
      case NOT_LEADER:
        throw unavailable(e.getMessage());
      case UNAUTHENTICATED:
        throw Status.UNAUTHENTICATED.withDescription(e.getMessage()).asRuntimeException();
      default:
        return error(ErrorCode.Unknown, e.getMessage());
    }
  }

  static StatusRuntimeException unavailable(String message) {
    return Status.UNAVAILABLE.withDescription(message).asRuntimeException();
  }
}
