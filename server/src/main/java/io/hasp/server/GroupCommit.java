package io.hasp.server;

import io.hasp.proto.ErrorCode;
import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.server.Errors.HaspError;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Group commit: commands submitted while earlier batches are being replicated are packed into one Raft entry,
 * so one append, one replication round, one fsync per node and one RocksDB batch serve many clients. Under load
 * batches grow to {@link #BATCH_COMMANDS_MAX}. At most {@link #IN_FLIGHT_MAX} batches are outstanding.
 *
 * <p>A command that finds nothing in flight is sent at once, unless commands have lately come in pairs (a contended
 * lock's hand-offs, see {@link #pairing}): then it waits for company up to half a lone batch's round trip (at most
 * {@link #LINGER_MAX_NANOS}), and goes with the next command the moment that comes. Measured with
 * {@code ../shared/peers/run --only hasp --workloads w1,w2} (2026-12-07, alternating): W2 at 64 clients 269 and 278
 * hand-offs/s against 222 and 185, at 16 clients 189 and 238 against 216 and 216; W1 unchanged within the runs'
 * spread; 1.1-1.4 Raft entries per hand-off instead of 1.7-1.9 ({@code ./hasp bench --workloads w2}).
 */
final class GroupCommit {
  static final int BATCH_COMMANDS_MAX = 256;
  /** Soft: a batch stops taking commands once it holds this many bytes. */
  static final int BATCH_BYTES_MAX = 1 << 20;
  /**
   * One batch in flight: the commands that arrive meanwhile wait for it and go together in the next. Two let
   * batches overlap (lower latency when the machine is idle) but at 64 clients on 2 cores twice as many entries
   * cost the leader more than they saved: W1 1,373-1,498 cycles/s with two, 1,914-2,469 with one (leader 0.29-0.32
   * ms of CPU per cycle, was 0.39-0.41); 16 clients about the same either way; 1 client has one batch anyway.
   */
  static final int IN_FLIGHT_MAX = 1;
  /** Commands waiting for a batch (e.g. while there is no leader); past it a new command fails at once. */
  static final int QUEUED_MAX = 100_000;

  /** A lone command never waits for company longer than this (nor longer than half a lone batch's round trip). */
  static final long LINGER_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  /** Weight of the newest sample in {@link #pairing} and {@link #loneRoundTrip}. */
  private static final double WEIGHT = 0.25;
  /** Lone commands wait for company only while {@link #pairing} is above this. */
  private static final double PAIRING_LINGER = 0.5;

  private record Pending(Command command, CompletableFuture<CommandReply> reply) {}

  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final Function<CommandBatch, CompletableFuture<BatchReply>> submit;
  private final boolean linger;
  private final long lingerMaxNanos;
  private final java.util.function.LongSupplier clock;
  private final ScheduledExecutorService lingerTimer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "hasp-group-linger");
    t.setDaemon(true);
    return t;
  });
  /** Told the number of commands of every batch this node sends (for the metrics). */
  private volatile java.util.function.IntConsumer batchSizes = n -> {};

  // Changed under this (the lock), read without it on the paths every command takes: a command that finds a batch
  // in flight, or nothing to note, does not take the lock.
  private volatile int inFlight;
  /** When the lone batch in flight was sent (0: the batch in flight, if any, has more commands). */
  private volatile long loneSentAt;
  /** Whether a command came while the lone batch was in flight. */
  private volatile boolean loneFollowed;
  /** Until when a lone command waits for company (0: none waits). */
  private long lingerUntil;
  /**
   * How often lately a command came while a lone batch was in flight: an average of 1 (one came) and 0 (none),
   * newest weighted {@link #WEIGHT}. A contended lock's hand-off is the case it detects: the entry that releases the
   * lock answers the releasing client, who soon asks again, and grants the next waiter, who soon releases; sent
   * apart, those two commands cost two entries and the second waits for the first one's whole round. A lone
   * client's next command comes only after its reply, so nothing ever waits for company there.
   */
  private double pairing;
  /** Average round trip of a lone batch, nanoseconds (0 until one has completed). */
  private double loneRoundTrip;

  /**
   * @param submit appends one batch to the Raft log (retrying it as a unit while there is no leader) and completes
   *     with its replies or its final failure
   */
  GroupCommit(Function<CommandBatch, CompletableFuture<BatchReply>> submit) {
    this(submit, !"false".equals(System.getProperty("hasp.group.linger")), LINGER_MAX_NANOS, System::nanoTime);
  }

  /**
   * @param linger whether a lone command may wait for company (see {@link #pairing}); the system property
   *     {@code hasp.group.linger=false} turns it off on a node, for comparisons
   * @param lingerMaxNanos the longest it waits
   * @param clock nanoseconds, for the round trips the wait is derived from
   */
  GroupCommit(Function<CommandBatch, CompletableFuture<BatchReply>> submit, boolean linger, long lingerMaxNanos,
      java.util.function.LongSupplier clock) {
    this.submit = submit;
    this.linger = linger;
    this.lingerMaxNanos = lingerMaxNanos;
    this.clock = clock;
  }

  /** {@code sizes} is told the command count of each batch sent from now on (on the sending thread: keep it short). */
  void observeBatchSizes(java.util.function.IntConsumer sizes) {
    this.batchSizes = java.util.Objects.requireNonNull(sizes);
  }

  CompletableFuture<CommandReply> submit(Command command) {
    CompletableFuture<CommandReply> reply = new CompletableFuture<>();
    if (queued.incrementAndGet() > QUEUED_MAX) {
      queued.decrementAndGet();
      reply.completeExceptionally(new HaspError(ErrorCode.NO_QUORUM, "this node already has " + QUEUED_MAX
          + " commands waiting for the leader"));
      return reply;
    }
    queue.add(new Pending(command, reply));
    if (loneSentAt != 0 && !loneFollowed) {
      synchronized (this) {
        if (loneSentAt != 0 && !loneFollowed) {
          loneFollowed = true;
          pairing += WEIGHT * (1 - pairing);
        }
      }
    }
    drain(true);
    return reply;
  }

  /** How long a lone command waits for company now; 0 when it does not wait. */
  synchronized long lingerNanos() {
    if (!linger || pairing <= PAIRING_LINGER || loneRoundTrip == 0) {
      return 0;
    }
    return Math.min(lingerMaxNanos, (long) (loneRoundTrip / 2));
  }

  /**
   * Sends what is queued as one batch unless one is in flight. {@code mayLinger}: a command that came while nothing
   * was in flight may wait for company (never one that already waited for a batch in flight, nor the timer's).
   */
  private void drain(boolean mayLinger) {
    while (true) {
      List<Pending> taken;
      CommandBatch.Builder batch;
      if (inFlight >= IN_FLIGHT_MAX) {
        return; // the batch in flight drains when it completes: it lowers inFlight before it looks at the queue
      }
      long now = clock.getAsLong();
      synchronized (this) {
        if (inFlight >= IN_FLIGHT_MAX || queue.isEmpty()) {
          return; // the batch in flight drains again when it completes
        }
        if (lingerUntil != 0 && queued.get() == 1) {
          return; // the timer sends it when the wait is over, a second command before that
        }
        long wait = mayLinger && lingerUntil == 0 && queued.get() == 1 ? lingerNanos() : 0;
        if (wait > 0) {
          try {
            long until = now + wait;
            lingerTimer.schedule(() -> lingerOver(until), wait, TimeUnit.NANOSECONDS);
            lingerUntil = until;
            return;
          } catch (RejectedExecutionException closing) {
            // send it now
          }
        }
        lingerUntil = 0;
        inFlight++;
        taken = new ArrayList<>();
        batch = CommandBatch.newBuilder();
        int bytes = 0;
        for (Pending p; taken.size() < BATCH_COMMANDS_MAX && bytes < BATCH_BYTES_MAX && (p = queue.poll()) != null; ) {
          taken.add(p);
          queued.decrementAndGet();
          batch.addCommands(p.command());
          bytes += p.command().getSerializedSize();
        }
        if (taken.isEmpty()) {
          inFlight--;
          continue;
        }
        loneSentAt = taken.size() == 1 ? now : 0;
        loneFollowed = false;
      }
      batchSizes.accept(taken.size());
      CompletableFuture<BatchReply> sent;
      try {
        sent = submit.apply(batch.build());
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenComplete((replies, error) -> {
        completed();
        deliver(taken, replies, error);
        drain(false);
      });
    }
  }

  /** The timer: the command that waits for company since {@code until} was set goes now, alone if need be. */
  private void lingerOver(long until) {
    synchronized (this) {
      if (lingerUntil == until) {
        lingerUntil = 0;
      }
    }
    drain(false);
  }

  private synchronized void completed() {
    inFlight--;
    if (loneSentAt != 0) {
      double rtt = clock.getAsLong() - loneSentAt;
      loneRoundTrip = loneRoundTrip == 0 ? rtt : loneRoundTrip + WEIGHT * (rtt - loneRoundTrip);
      if (!loneFollowed) {
        pairing -= WEIGHT * pairing;
      }
      loneSentAt = 0;
    }
  }

  private static void deliver(List<Pending> taken, BatchReply replies, Throwable error) {
    if (error == null && replies.getRepliesCount() != taken.size()) {
      error = new HaspError(ErrorCode.INTERNAL,
          "batch of " + taken.size() + " commands got " + replies.getRepliesCount() + " replies");
    }
    for (int i = 0; i < taken.size(); i++) {
      if (error != null) {
        taken.get(i).reply().completeExceptionally(error);
      } else {
        taken.get(i).reply().complete(replies.getReplies(i));
      }
    }
  }

  /** Fails everything still queued (shutdown). */
  void failAll(RuntimeException error) {
    lingerTimer.shutdownNow();
    for (Pending p; (p = queue.poll()) != null; ) {
      queued.decrementAndGet();
      p.reply().completeExceptionally(error);
    }
  }
}
