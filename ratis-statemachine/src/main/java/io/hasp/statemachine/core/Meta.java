package io.hasp.statemachine.core;

/**
 * Scalars of the table that are part of the replicated state.
 *
 * @param lastToken the last fencing token granted
 * @param nextWaiterSeq the seq the next waiter gets
 * @param lastNowMs the largest stamped time applied so far: the table's clock never runs backwards
 * @param lastSessionId the last session id given out
 * @param refreshedTerm the term of the last applied Refresh: only that term's leader may expire anything
 * @param refreshedAtMs the stamped time of the last Refresh: no lease or session ends before it plus its length
 * @param capacity the bounds in force (from the last Refresh)
 */
public record Meta(long lastToken, long nextWaiterSeq, long lastNowMs, long lastSessionId, long refreshedTerm,
    long refreshedAtMs, Capacity capacity) {
  public static final Meta INITIAL = new Meta(0, 1, 0, 0, 0, 0, Capacity.DEFAULT);

  Meta withLastToken(long token) {
    return new Meta(token, nextWaiterSeq, lastNowMs, lastSessionId, refreshedTerm, refreshedAtMs, capacity);
  }

  Meta withNextWaiterSeq(long seq) {
    return new Meta(lastToken, seq, lastNowMs, lastSessionId, refreshedTerm, refreshedAtMs, capacity);
  }

  Meta withLastNowMs(long now) {
    return new Meta(lastToken, nextWaiterSeq, now, lastSessionId, refreshedTerm, refreshedAtMs, capacity);
  }

  Meta withLastSessionId(long id) {
    return new Meta(lastToken, nextWaiterSeq, lastNowMs, id, refreshedTerm, refreshedAtMs, capacity);
  }

  Meta refreshed(long term, long atMs, Capacity newCapacity) {
    return new Meta(lastToken, nextWaiterSeq, lastNowMs, lastSessionId, term, atMs, newCapacity);
  }
}
