package io.hasp.statemachine.core;

/** Why a command failed. Names match the wire enum {@code hasp.v1.ErrorCode}; the server maps one to the other. */
public enum ErrorCode {
  LOCK_WAIT_TIMEOUT,
  LOCK_NOT_FOUND,
  INVALID_KEY,
  LOCK_SIZE_MISMATCH,
  INVALID_SIZE,
  SESSION_EXPIRED,
  INVALID_ARGUMENT,
  PERMISSION_DENIED,
  LIMIT_EXCEEDED,
  WAIT_CANCELLED
}
