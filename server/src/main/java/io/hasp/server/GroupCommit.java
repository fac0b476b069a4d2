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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Group commit: commands submitted while earlier batches are being replicated are packed into one Raft entry,
 * so one append, one replication round, one fsync per node and one RocksDB batch serve many clients. A lone
 * command is sent at once (no added latency); under load batches grow to {@link #BATCH_COMMANDS_MAX}.
 * At most {@link #IN_FLIGHT_MAX} batches are outstanding.
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

  private record Pending(Command command, CompletableFuture<CommandReply> reply) {}

  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger queued = new AtomicInteger();
  private final Function<CommandBatch, CompletableFuture<BatchReply>> submit;
  /** Told the number of commands of every batch this node sends (for the metrics). */
  private volatile java.util.function.IntConsumer batchSizes = n -> {};

  /**
   * @param submit appends one batch to the Raft log (retrying it as a unit while there is no leader) and completes
   *     with its replies or its final failure
   */
  GroupCommit(Function<CommandBatch, CompletableFuture<BatchReply>> submit) {
    this.submit = submit;
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
    drain();
    return reply;
  }

  private void drain() {
    while (!queue.isEmpty()) {
      int n = inFlight.get();
      if (n >= IN_FLIGHT_MAX || !inFlight.compareAndSet(n, n + 1)) {
        if (n >= IN_FLIGHT_MAX) {
          return; // the batch in flight drains again when it completes
        }
        continue;
      }
      List<Pending> taken = new ArrayList<>();
      CommandBatch.Builder batch = CommandBatch.newBuilder();
      int bytes = 0;
      // poll() only: two drainers may run at once, and a peek-then-poll would lose a command between them.
      for (Pending p; taken.size() < BATCH_COMMANDS_MAX && bytes < BATCH_BYTES_MAX && (p = queue.poll()) != null; ) {
        taken.add(p);
        queued.decrementAndGet();
        batch.addCommands(p.command());
        bytes += p.command().getSerializedSize();
      }
      if (taken.isEmpty()) {
        inFlight.decrementAndGet();
        continue;
      }
      batchSizes.accept(taken.size());
      CompletableFuture<BatchReply> sent;
      try {
        sent = submit.apply(batch.build());
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenComplete((replies, error) -> {
        inFlight.decrementAndGet();
        deliver(taken, replies, error);
        drain();
      });
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
    for (Pending p; (p = queue.poll()) != null; ) {
      queued.decrementAndGet();
      p.reply().completeExceptionally(error);
    }
  }
}
