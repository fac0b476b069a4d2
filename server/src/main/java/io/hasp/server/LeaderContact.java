package io.hasp.server;

import io.hasp.proto.ErrorCode;
import io.hasp.server.Errors.HaspError;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.server.DivisionInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches how long this node has been out of touch with a leader: as a ready leader, since it last heard from
 * a majority (itself included); as a follower, since it last heard from its leader; otherwise (candidate, no
 * leader, leader not ready yet), since it got into that state. Ratis lets an isolated leader stay leader for
 * about 1.5 s before check-quorum steps it down; the follower replies tell sooner.
 *
 * <p>A node out of touch for {@link #CUT_OFF_MS} cannot learn of grants any more, so it ends the Lock calls
 * waiting on it with NO_QUORUM: their clients send the same request to another node and re-attach to their place
 * at once, instead of after their next pulse. Nothing in the cluster's state changes: the waiters stay queued.
 */
final class LeaderContact {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderContact.class);
  static final long CUT_OFF_MS = 1_000;

  private final Supplier<DivisionInfo> info;
  private final Waits waits;
  private final String nodeId;
  /** When the node entered a state without elapsed-time information (candidate, no leader), or -1. */
  private long lostSinceNanos = -1;
  private boolean told;

  LeaderContact(Supplier<DivisionInfo> info, Waits waits, String nodeId) {
    this.info = info;
    this.waits = waits;
    this.nodeId = nodeId;
  }

  /** Called periodically (from the ticker thread). */
  void check() {
    long silence = silenceMs(System.nanoTime());
    if (silence < CUT_OFF_MS) {
      if (told) {
        LOG.info("Node {} is in touch with a leader again", nodeId);
      }
      told = false;
      return;
    }
    if (waits.size() > 0) {
      if (!told) {
        LOG.warn("Node {} has had no leader contact for {} ms: its waiting Lock calls are sent elsewhere", nodeId,
            silence);
        told = true;
      }
      waits.failAll(new HaspError(ErrorCode.NO_QUORUM, "node " + nodeId + " is cut off from the leader; "
          + "the wait goes on in the cluster: send the same request to another node"));
    }
  }

  /**
   * Milliseconds since this node was last in touch with a leader (0: in touch now). Called by the ticker and by
   * the readiness check (another thread), hence synchronized.
   */
  synchronized long silenceMs(long nowNanos) {
    DivisionInfo i = info.get();
    long known = -1;
    if (i != null && i.isLeader() && i.isLeaderReady()) {
      RoleInfoProto role = i.getRoleInfoProto();
      if (role.hasLeaderInfo()) {
        known = majorityElapsedMs(role.getLeaderInfo().getFollowerInfoList().stream()
            .mapToLong(f -> f.getLastRpcElapsedTimeMs()).toArray());
      }
    } else if (i != null && i.isFollower() && i.getLeaderId() != null) {
      RoleInfoProto role = i.getRoleInfoProto();
      if (role.hasFollowerInfo()) {
        known = role.getFollowerInfo().getLeaderInfo().getLastRpcElapsedTimeMs();
      }
    }
    if (known >= 0) {
      lostSinceNanos = -1;
      return known;
    }
    if (lostSinceNanos < 0) {
      lostSinceNanos = nowNanos;
    }
    return TimeUnit.NANOSECONDS.toMillis(nowNanos - lostSinceNanos);
  }

  /**
   * How long ago a majority of the group (the leader itself, always current, and its followers) was last heard:
   * the followers' silences sorted, the one at which, with the leader, a majority is reached.
   */
  static long majorityElapsedMs(long[] followerElapsedMs) {
    if (followerElapsedMs.length == 0) {
      return 0;
    }
    long[] sorted = followerElapsedMs.clone();
    Arrays.sort(sorted);
    int groupSize = sorted.length + 1;
    int followersNeeded = groupSize / 2; // a majority is groupSize / 2 + 1, the leader is one of them
    return sorted[followersNeeded - 1];
  }
}
