package io.hasp.server;

import io.hasp.server.NodeConfig.HostPort;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;

/**
 * Who is in the group, as this node's current Raft configuration has it (the latest configuration entry in its
 * log, committed or not, which is what Raft acts on), so that members added or removed at run time are found
 * without a restart. Each member's client API address travels in the configuration as its Ratis "client
 * address" ({@link #raftPeer}); configurations written before that (or a node not yet started) fall back to the
 * {@code peers} of this node's config file.
 */
final class Members {
  /** One member: its Raft (peer-to-peer) and client API addresses, and whether it votes. */
  record Member(String id, String raftAddress, String apiAddress, boolean voter) {}

  private final RaftServer server;
  private final RaftGroupId groupId;
  private final Map<String, NodeConfig.Peer> configured;

  Members(RaftServer server, RaftGroupId groupId, List<NodeConfig.Peer> configured) {
    this.server = server;
    this.groupId = groupId;
    Map<String, NodeConfig.Peer> m = new LinkedHashMap<>();
    for (NodeConfig.Peer p : configured) {
      m.put(p.id(), p);
    }
    this.configured = m;
  }

  /** The Ratis peer of a member: its Raft address, and its API address as the client address. */
  static RaftPeer raftPeer(String id, HostPort raft, HostPort api) {
    return RaftPeer.newBuilder().setId(id).setAddress(raft.toString()).setClientAddress(api.toString()).build();
  }

  /** The newest configuration seen; kept so that a division closed by its removal can still tell. */
  private volatile RaftConfiguration lastSeen;
  /**
   * The division once seen: after Ratis closed it (and dropped it from the server) it still holds the configuration
   * it had at the end, which says whether this member was removed. The configuration seen last by some other call
   * may be older than that (the removal arrives by the log, often just before the division closes).
   */
  private volatile RaftServer.Division division;

  private RaftConfiguration conf() {
    try {
      RaftServer.Division d = server.getDivision(groupId);
      division = d;
      RaftConfiguration c = d.getRaftConf();
      lastSeen = c;
      return c;
    } catch (IOException e) {
      RaftServer.Division d = division;
      if (d != null) {
        RaftConfiguration c = d.getRaftConf();
        if (c != null) {
          lastSeen = c;
        }
      }
      return null; // the division is not there yet (starting) or any more (closing)
    }
  }

  /**
   * True when the newest configuration seen leaves {@code id} out: Ratis closes the division of a member that
   * finds itself removed (its election ends NOT_IN_CONF), so a closed division with this answer is a removal.
   */
  boolean removed(String id) {
    conf();
    RaftConfiguration c = lastSeen;
    if (c == null) {
      return false;
    }
    // the current peers only: in a joint configuration the old ones still hold the removed member
    for (RaftPeerRole role : new RaftPeerRole[] {RaftPeerRole.FOLLOWER, RaftPeerRole.LISTENER}) {
      for (RaftPeer p : c.getCurrentPeers(role)) {
        if (p.getId().toString().equals(id)) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Voters then listeners of the current configuration; the configured peers before the division exists, or while
   * its configuration is empty (a joining node before the leader reached it).
   */
  List<Member> all() {
    RaftConfiguration c = conf();
    List<Member> out = new ArrayList<>();
    if (c == null || c.getAllPeers().isEmpty()) {
      for (NodeConfig.Peer p : configured.values()) {
        out.add(new Member(p.id(), p.raftAddress().toString(), p.apiAddress().toString(), true));
      }
      return out;
    }
    add(out, c.getCurrentPeers(RaftPeerRole.FOLLOWER), true);
    add(out, c.getCurrentPeers(RaftPeerRole.LISTENER), false);
    return out;
  }

  private void add(List<Member> out, Collection<RaftPeer> peers, boolean voter) {
    for (RaftPeer p : peers) {
      String id = p.getId().toString();
      out.add(new Member(id, p.getAddress(), api(p), voter));
    }
  }

  private String api(RaftPeer p) {
    String a = p.getClientAddress();
    if (a != null && !a.isEmpty()) {
      return a;
    }
    NodeConfig.Peer c = configured.get(p.getId().toString());
    return c == null ? "" : c.apiAddress().toString();
  }

  /** True when {@code id} is a voter of the current configuration (before the division exists: configured). */
  boolean isVoter(String id) {
    RaftConfiguration c = conf();
    if (c == null) {
      return configured.containsKey(id);
    }
    for (RaftPeer p : c.getCurrentPeers(RaftPeerRole.FOLLOWER)) {
      if (p.getId().toString().equals(id)) {
        return true;
      }
    }
    return false;
  }

  /** The member's Raft address, or null when it is not in the configuration (nor, before it, configured). */
  String raftAddress(RaftPeerId id) {
    RaftConfiguration c = conf();
    RaftPeer p = c == null ? null : c.getPeer(id, RaftPeerRole.FOLLOWER, RaftPeerRole.LISTENER);
    if (p != null) {
      return p.getAddress();
    }
    NodeConfig.Peer cp = configured.get(id.toString());
    return cp == null ? null : cp.raftAddress().toString();
  }

  /** The member's client API address, or null when it is unknown. */
  String apiAddress(RaftPeerId id) {
    RaftConfiguration c = conf();
    RaftPeer p = c == null ? null : c.getPeer(id, RaftPeerRole.FOLLOWER, RaftPeerRole.LISTENER);
    if (p != null) {
      String a = api(p);
      return a.isEmpty() ? null : a;
    }
    NodeConfig.Peer cp = configured.get(id.toString());
    return cp == null ? null : cp.apiAddress().toString();
  }
}
