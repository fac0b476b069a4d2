package io.hasp.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hasp.proto.replicated.AcquireCmd;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.CommandBatch;
import io.hasp.proto.replicated.ReleaseCmd;
import java.util.Random;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.junit.jupiter.api.Test;

/** The leader's stamp appends now_ms to a batch's bytes instead of serializing it again: the same batch, parsed. */
class StampTest {
  @Test
  void aStampedBatchParsesAsTheBatchWithItsTimeSet() throws Exception {
    Random rnd = new Random(7);
    long[] times = {0, 1, 127, 128, 16_383, 16_384, 1_800_000_000_000L, Long.MAX_VALUE, -1, Long.MIN_VALUE};
    for (int round = 0; round < 200; round++) {
      CommandBatch.Builder b = CommandBatch.newBuilder();
      if (rnd.nextBoolean()) {
        b.setNowMs(rnd.nextLong()); // a batch that already names a time: the stamp wins
      }
      for (int i = rnd.nextInt(5); i >= 0; i--) {
        b.addCommands(rnd.nextBoolean()
            ? Command.newBuilder().setClientId("c" + i).setRequestId(rnd.nextInt(1000))
                .setAcquire(AcquireCmd.newBuilder().setName("lock-" + rnd.nextInt()).setSize(1 + rnd.nextInt(9)))
            : Command.newBuilder().setRelease(ReleaseCmd.newBuilder().setName("x").setKey("k" + i)));
      }
      CommandBatch batch = b.build();
      long now = round < times.length ? times[round] : rnd.nextLong();
      byte[] stamped = LockStateMachine.stamp(UnsafeByteOperations.unsafeWrap(batch.toByteArray()), now).toByteArray();
      assertEquals(batch.toBuilder().setNowMs(now).build(), CommandBatch.parseFrom(stamped), "time " + now);
    }
  }
}
