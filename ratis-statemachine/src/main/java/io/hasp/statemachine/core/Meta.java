package io.hasp.statemachine.core;

/**
 * Scalars of the table that are part of the replicated state.
 *
 * @param lastToken the last fencing token granted
 * @param nextWaiterSeq the seq the next waiter gets
 * @param lastNowMs the largest stamped time applied so far: the table's clock never runs backwards
 */
public record Meta(long lastToken, long nextWaiterSeq, long lastNowMs) {
  public static final Meta INITIAL = new Meta(0, 1, 0);
}
