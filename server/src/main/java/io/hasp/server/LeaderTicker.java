package io.hasp.server;

import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.ExpireCmd;
import io.hasp.proto.replicated.RefreshCmd;
import io.hasp.statemachine.Codec;
import io.hasp.statemachine.LockStateMachine;
import io.hasp.statemachine.core.Capacity;
import io.hasp.statemachine.core.Limits;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.ratis.server.DivisionInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's timer. On becoming leader (and ready) it first proposes a Refresh, which guarantees every lease
 * and session until now + its length (so a failover never ends a hold early) and carries this node's capacity
 * bounds; only after that entry is applied does it propose Expire commands, each when its own clock passes a
 * deadline. The state machine refuses an Expire of a term whose Refresh it has not applied, and accepts timer
 * commands only from this node's own submissions, so a command queued here while this node was still leader
 * can never end a hold in the next leader's term. One proposal is in flight at a time; followers propose nothing.
 */
final class LeaderTicker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderTicker.class);

  private final Supplier<DivisionInfo> info;
  private final LockStateMachine stateMachine;
  private final Replicator replicator;
  private final LongSupplier clockMs;
  private final Capacity capacity;
  private final Runnable onDivisionDead;
  private final LeaderContact contact;
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-leader-ticker");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean inFlight = new AtomicBoolean();
  private volatile long refreshedTerm = -1;

  LeaderTicker(Supplier<DivisionInfo> info, LockStateMachine stateMachine, Replicator replicator, LongSupplier clockMs,
      Capacity capacity, LeaderContact contact, Runnable onDivisionDead) {
    this.contact = contact;
    this.info = info;
    this.stateMachine = stateMachine;
    this.replicator = replicator;
    this.clockMs = clockMs;
    this.capacity = capacity;
    this.onDivisionDead = onDivisionDead;
  }

  void start(long intervalMs) {
    executor.scheduleWithFixedDelay(this::tickSafely, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
  }

  private void tickSafely() {
    try {
      contact.check();
      tick();
    } catch (RuntimeException e) {
      LOG.warn("Leader tick failed", e);
    }
  }

  private void tick() {
    DivisionInfo i = info.get();
    if (i == null) {
      return;
    }
    if (!i.isAlive()) {
      onDivisionDead.run();
      return;
    }
    if (!i.isLeader() || !i.isLeaderReady()) {
      refreshedTerm = -1;
      return;
    }
    if (inFlight.get()) {
      return;
    }
    long term = i.getCurrentTerm();
    if (refreshedTerm != term) {
      propose(Command.newBuilder().setRefresh(RefreshCmd.newBuilder().setCapacity(Codec.capacity(capacity))).build(),
          () -> {
            refreshedTerm = term;
            LOG.info("Leader of term {}: leases and sessions refreshed, expiry enabled", term);
          });
      return;
    }
    if (stateMachine.hasExpiryDue(clockMs.getAsLong())) {
      propose(Command.newBuilder().setExpire(ExpireCmd.newBuilder().setMaxItems(Limits.EXPIRIES_PER_TICK_MAX)).build(),
          () -> {});
    }
  }

  private void propose(Command command, Runnable onSuccess) {
    inFlight.set(true);
    replicator.proposeAsLeader(command).whenComplete((reply, error) -> {
      inFlight.set(false);
      if (error == null && reply.getErrorCode() == 0) {
        onSuccess.run();
      } else {
        LOG.debug("Proposal {} failed: {}", command.getOpCase(),
            error != null ? error.toString() : reply.getErrorMessage());
      }
    });
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
