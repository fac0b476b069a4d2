package io.hasp.server.ops;

/** Told of every API call a node answers: the request metrics. Called on the answering thread: keep it short. */
@FunctionalInterface
public interface RequestObserver {
  RequestObserver NONE = (method, code, nanos) -> {};

  /**
   * @param method the operation ({@code lock}, {@code try_lock}, {@code unlock}, ...)
   * @param code {@code OK} or the Hasp error code the call was answered with ({@code LOCK_NOT_FOUND}, ...)
   * @param nanos from the call's start to its answer (for a Lock, waiting included)
   */
  void answered(String method, String code, long nanos);
}
