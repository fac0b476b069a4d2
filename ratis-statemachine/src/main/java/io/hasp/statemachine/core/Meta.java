package io.hasp.statemachine.core;

/**
 * Scalars of the table that are part of the replicated state.
 *
 * @param lastToken the last fencing token granted
 * @param nextWaiterSeq the seq the next waiter gets
 * @param lastNowMs the largest stamped time applied so far: the table's clock never runs backwards
 * @param lastSessionId the last session id given out
 */
public record Meta(long lastToken, long nextWaiterSeq, long lastNowMs, long lastSessionId) {
  public static final Meta INITIAL = new Meta(0, 1, 0, 0);

  Meta withLastToken(long token) {
    return new Meta(token, nextWaiterSeq, lastNowMs, lastSessionId);
  }

  Meta withNextWaiterSeq(long seq) {
    return new Meta(lastToken, seq, lastNowMs, lastSessionId);
  }

  Meta withLastNowMs(long now) {
    return new Meta(lastToken, nextWaiterSeq, now, lastSessionId);
  }

  Meta withLastSessionId(long id) {
    return new Meta(lastToken, nextWaiterSeq, lastNowMs, id);
  }
}
