package io.hasp.statemachine;

import io.hasp.statemachine.core.Changes.ReleaseReason;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Waiter;

/**
 * Told what applied entries did, after they are durable in the store, on the apply thread: keep it short.
 * The node uses it to complete calls that wait for a grant.
 */
public interface StateListener {
  StateListener NONE = new StateListener() {};

  default void waiterGranted(Waiter waiter, Holder holder, long size) {}

  default void waiterRemoved(Waiter waiter, ErrorCode reason) {}

  default void holderReleased(Holder holder, ReleaseReason reason) {}

  /** The whole table was replaced (a snapshot was installed): pending waits must be re-checked. */
  default void reloaded() {}
}
