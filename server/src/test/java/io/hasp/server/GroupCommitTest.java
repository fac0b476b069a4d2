package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.proto.replicated.BatchReply;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.KeepAliveCmd;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class GroupCommitTest {

  /** Completes each batch after a random delay, answering each command with its own session id as a marker. */
  private static final class FakeLog {
    final ScheduledExecutorService timer = Executors.newScheduledThreadPool(3);
    final Random random = new Random(42);
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger maxInFlight = new AtomicInteger();
    final List<Integer> batchSizes = java.util.Collections.synchronizedList(new ArrayList<>());
    final Set<Long> seen = ConcurrentHashMap.newKeySet();

    CompletableFuture<BatchReply> append(CommandBatch batch) {
      maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      batchSizes.add(batch.getCommandsCount());
      BatchReply.Builder reply = BatchReply.newBuilder();
      for (Command c : batch.getCommandsList()) {
        assertTrue(seen.add(c.getKeepAlive().getSessionId()), "command appended twice: " + c);
        reply.addReplies(CommandReply.newBuilder().setErrorMessage(Long.toString(c.getKeepAlive().getSessionId())));
      }
      CompletableFuture<BatchReply> f = new CompletableFuture<>();
      int delay;
      synchronized (random) {
        delay = random.nextInt(3);
      }
      timer.schedule(() -> {
        inFlight.decrementAndGet();
        f.complete(reply.build());
      }, delay, TimeUnit.MILLISECONDS);
      return f;
    }
  }

  @Test
  void everyCommandIsAppendedOnceAndAnsweredWithItsOwnReply() throws Exception {
    FakeLog log = new FakeLog();
    GroupCommit group = new GroupCommit(log::append);
    int threads = 16;
    int perThread = 2_000;
    var pool = Executors.newFixedThreadPool(threads);
    List<CompletableFuture<Void>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(CompletableFuture.runAsync(() -> {
        List<CompletableFuture<CommandReply>> mine = new ArrayList<>();
        for (int i = 0; i < perThread; i++) {
          long id = (long) thread * perThread + i + 1;
          CompletableFuture<CommandReply> r = group.submit(Command.newBuilder()
              .setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(id)).build());
          mine.add(r.thenApply(reply -> {
            assertEquals(Long.toString(id), reply.getErrorMessage(), "reply routed to the wrong command");
            return reply;
          }));
          if (i % 50 == 0) {
            mine.get(mine.size() - 1).join();
          }
        }
        CompletableFuture.allOf(mine.toArray(new CompletableFuture[0])).join();
      }, pool));
    }
    CompletableFuture.allOf(done.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
    pool.shutdown();
    log.timer.shutdown();
    assertEquals(threads * perThread, log.seen.size());
    assertTrue(log.maxInFlight.get() <= GroupCommit.IN_FLIGHT_MAX, "in flight " + log.maxInFlight.get());
    assertTrue(log.batchSizes.stream().anyMatch(n -> n > 1), "commands were grouped");
    assertTrue(log.batchSizes.stream().allMatch(n -> n <= GroupCommit.BATCH_COMMANDS_MAX));
  }

  @Test
  void aFailedAppendFailsEveryCommandOfItsBatchAndTheNextBatchStillGoes() {
    AtomicInteger calls = new AtomicInteger();
    GroupCommit group = new GroupCommit(batch -> calls.incrementAndGet() == 1
        ? CompletableFuture.failedFuture(new IllegalStateException("no leader"))
        : CompletableFuture.completedFuture(BatchReply.newBuilder()
            .addReplies(CommandReply.getDefaultInstance()).build()));
    CompletableFuture<CommandReply> first = group.submit(Command.newBuilder()
        .setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(1)).build());
    assertTrue(first.isCompletedExceptionally());
    CompletableFuture<CommandReply> second = group.submit(Command.newBuilder()
        .setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(2)).build());
    assertEquals(CommandReply.getDefaultInstance(), second.join());
  }

  /** A log whose batches complete only when the test says so. */
  private static final class HeldLog {
    final List<CommandBatch> batches = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<CompletableFuture<BatchReply>> pending = java.util.Collections.synchronizedList(new ArrayList<>());

    CompletableFuture<BatchReply> append(CommandBatch batch) {
      CompletableFuture<BatchReply> f = new CompletableFuture<>();
      batches.add(batch);
      pending.add(f);
      return f;
    }

    /** Completes the one batch in flight. */
    void completeLast() {
      CommandBatch b = batches.get(batches.size() - 1);
      BatchReply.Builder reply = BatchReply.newBuilder();
      b.getCommandsList().forEach(c -> reply.addReplies(CommandReply.getDefaultInstance()));
      pending.get(pending.size() - 1).complete(reply.build());
    }
  }

  private static Command command(long id) {
    return Command.newBuilder().setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(id)).build();
  }

  @Test
  void aClientThatWaitsForEachReplyNeverWaitsForCompany() {
    HeldLog log = new HeldLog();
    java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(1);
    GroupCommit group = new GroupCommit(log::append, true, Long.MAX_VALUE, clock::get);
    for (int i = 1; i <= 50; i++) {
      CompletableFuture<CommandReply> r = group.submit(command(i));
      assertEquals(i, log.batches.size(), "command " + i + " was sent at once");
      clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
      log.completeLast();
      assertTrue(r.isDone());
    }
    assertEquals(0, group.lingerNanos());
    assertTrue(log.batches.stream().allMatch(b -> b.getCommandsCount() == 1));
  }

  @Test
  void commandsThatComeInPairsGoTogetherAndALoneOneStillGoesAfterItsWait() throws Exception {
    HeldLog log = new HeldLog();
    java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(1);
    // round trips of 4 s on the fake clock: a lone command waits 2 s of real time for company at most
    GroupCommit group = new GroupCommit(log::append, true, Long.MAX_VALUE, clock::get);
    // hand-offs out of step: each lone batch is followed, while in flight, by a command that then goes alone; the
    // last lone batch is followed by nothing, which lowers the average, but not below the line
    group.submit(command(1));
    for (int i = 2; i <= 5; i++) {
      group.submit(command(i));
      assertEquals(i - 1, log.batches.size(), "command " + i + " waits for the batch in flight");
      clock.addAndGet(TimeUnit.SECONDS.toNanos(4));
      log.completeLast();
      assertEquals(i, log.batches.size(), "command " + i + " goes when the batch in flight completes");
    }
    clock.addAndGet(TimeUnit.SECONDS.toNanos(4));
    log.completeLast();
    assertEquals(TimeUnit.SECONDS.toNanos(2), group.lingerNanos(), "commands came in pairs: lone ones wait");

    // the next command finds nothing in flight and waits; the one after it takes it along
    CompletableFuture<CommandReply> a = group.submit(command(10));
    assertEquals(5, log.batches.size(), "a lone command waits for company");
    CompletableFuture<CommandReply> b = group.submit(command(11));
    assertEquals(6, log.batches.size());
    assertEquals(2, log.batches.get(5).getCommandsCount(), "the pair went as one batch");
    log.completeLast();
    assertTrue(a.isDone() && b.isDone());

    // a command nobody follows still goes, alone, when its wait is over
    CompletableFuture<CommandReply> c = group.submit(command(12));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (log.batches.size() < 7 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(7, log.batches.size(), "the lone command was sent after its wait");
    assertEquals(1, log.batches.get(6).getCommandsCount());
    log.completeLast();
    assertTrue(c.isDone());
  }
}
