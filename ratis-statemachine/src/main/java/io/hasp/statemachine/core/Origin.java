package io.hasp.statemachine.core;

/**
 * Who sent a command: the client's id and the request's id (reused on every retry of the same request), and
 * the client's settle mark: every request of this client with an id at or below {@code settledUpTo} (and below
 * this one) has been answered or abandoned, so its outcome may be forgotten and a late copy of it is refused.
 * {@link #NONE} for commands of the leader's own timer.
 */
public record Origin(String clientId, long requestId, long settledUpTo) {
  public static final Origin NONE = new Origin("", 0, 0);

  public Origin {
    if (clientId == null) {
      throw new IllegalArgumentException("clientId must not be null");
    }
  }

  public static Origin of(String clientId, long requestId) {
    return new Origin(clientId, requestId, 0);
  }

  /** True when the command can be deduplicated, retried and settled: it carries a client id and a request id. */
  public boolean identified() {
    return !clientId.isEmpty() && requestId > 0;
  }

  RequestRef ref() {
    return new RequestRef(clientId, requestId);
  }
}
