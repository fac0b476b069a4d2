package io.hasp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.proto.RaftProtos.AppendEntriesReplyProto;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.TermIndexProto;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.Server;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Test;

/** A heartbeat without a previous entry must not let a follower commit its unchecked first entry. */
class HeartbeatCommitGuardTest {
  private static AppendEntriesRequestProto heartbeat(boolean withPrevious, long leaderCommit) {
    AppendEntriesRequestProto.Builder b = AppendEntriesRequestProto.newBuilder().setLeaderTerm(3)
        .setLeaderCommit(leaderCommit);
    if (withPrevious) {
      b.setPreviousLog(TermIndexProto.newBuilder().setTerm(3).setIndex(0));
    }
    return b.build();
  }

  @Test
  void onlyAHeartbeatWithoutAPreviousEntryLosesItsCommit() {
    // the harness's stuck follower: its index 0 was another term's; leader commit 0 would have committed it
    assertEquals(-1L, HeartbeatCommitGuard.guard(heartbeat(false, 0)).getLeaderCommit());
    assertEquals(-1L, HeartbeatCommitGuard.guard(heartbeat(false, 16_933)).getLeaderCommit());
    AppendEntriesRequestProto checked = heartbeat(true, 16_933);
    assertSame(checked, HeartbeatCommitGuard.guard(checked), "a previous entry was checked: commit as sent");
    AppendEntriesRequestProto entries = AppendEntriesRequestProto.newBuilder().setLeaderTerm(3).setLeaderCommit(5)
        .addEntries(LogEntryProto.newBuilder().setTerm(3).setIndex(0)).build();
    assertSame(entries, HeartbeatCommitGuard.guard(entries), "entries from index 0 are checked by their append");
  }

  @Test
  void theRaftPortGuardsEveryAppendEntriesMessage() throws Exception {
    List<AppendEntriesRequestProto> seen = new CopyOnWriteArrayList<>();
    CountDownLatch two = new CountDownLatch(2);
    RaftServerProtocolServiceGrpc.RaftServerProtocolServiceImplBase follower =
        new RaftServerProtocolServiceGrpc.RaftServerProtocolServiceImplBase() {
          @Override
          public StreamObserver<AppendEntriesRequestProto> appendEntries(StreamObserver<AppendEntriesReplyProto> out) {
            return new StreamObserver<>() {
              @Override
              public void onNext(AppendEntriesRequestProto r) {
                seen.add(r);
                two.countDown();
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                out.onCompleted();
              }
            };
          }
        };
    Server server = NettyServerBuilder.forAddress(new java.net.InetSocketAddress("127.0.0.1", 0)).directExecutor()
        .intercept(HeartbeatCommitGuard.interceptor()).addService(follower).build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    try {
      StreamObserver<AppendEntriesRequestProto> stream = RaftServerProtocolServiceGrpc.newStub(channel)
          .appendEntries(new StreamObserver<>() {
            @Override
            public void onNext(AppendEntriesReplyProto r) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      stream.onNext(heartbeat(false, 0));
      stream.onNext(heartbeat(true, 7));
      assertTrue(two.await(30, TimeUnit.SECONDS), "both messages arrived: " + seen);
      stream.onCompleted();
      assertEquals(-1L, seen.get(0).getLeaderCommit(), "a heartbeat without a previous entry");
      assertEquals(7L, seen.get(1).getLeaderCommit(), "a heartbeat with one");
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}
