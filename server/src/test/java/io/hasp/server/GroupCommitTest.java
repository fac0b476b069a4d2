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
}
