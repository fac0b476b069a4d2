package io.hasp.server.ldlm;

import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.statemachine.core.Limits;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * One LDLM client as Hasp sees it: an LDLM connection (or a REST session) on this node. It is a Hasp client (its own
 * client id, request ids that increase, so a request re-sent inside the cluster is deduplicated) and, once a lock
 * is asked for, a Hasp session (opened on first use) that the connection's locks and waits are tied to.
 *
 * <p>Settling: a request's id stays "unsettled" until its outcome is final here (answered, or abandoned and the
 * abandon applied); every request carries the contiguous mark below the oldest unsettled id, and the keep-alives
 * the precise list, so the cluster forgets outcomes this client no longer needs.
 */
final class LdlmSession {
  /** A Hasp session: its id and its secret. */
  record Ref(long id, String key) {}

  private final String clientId;
  private final String owner;
  private final boolean rest;
  private long lastRequestId;
  private final TreeSet<Long> unsettled = new TreeSet<>();
  /** The session, once asked for; null before, or after it was lost (then the next lock opens a new one). */
  private CompletableFuture<Ref> session;
  private boolean ended;
  private boolean keepAliveInFlight;

  /**
   * @param owner the label shown beside its holds in Hasp's GetLock (e.g. "ldlm 10.0.0.5:53122")
   * @param rest a REST session (kept alive by its requests, not by the node)
   */
  LdlmSession(String nodeId, String owner, boolean rest) {
    this.clientId = "ldlm-" + (rest ? "rest-" : "") + nodeId + "-" + UUID.randomUUID();
    this.owner = owner.length() > Limits.OWNER_BYTES_MAX / 4 ? owner.substring(0, Limits.OWNER_BYTES_MAX / 4) : owner;
    this.rest = rest;
  }

  /** A REST session whose Hasp session is known from its cookie. */
  static LdlmSession ofRest(String nodeId, String owner, Ref ref) {
    LdlmSession s = new LdlmSession(nodeId, owner, true);
    s.session = CompletableFuture.completedFuture(ref);
    return s;
  }

  String clientId() {
    return clientId;
  }

  String owner() {
    return owner;
  }

  boolean rest() {
    return rest;
  }

  /** The next request's header: a new id (unsettled from now) and the mark below the oldest unsettled one. */
  synchronized RequestHeader next() {
    long id = ++lastRequestId;
    unsettled.add(id);
    return RequestHeader.newBuilder().setClientId(clientId).setRequestId(id).setSettledUpTo(unsettled.first() - 1)
        .build();
  }

  /** The request's outcome is final here: the cluster may forget it. */
  synchronized void settle(long requestId) {
    unsettled.remove(requestId);
  }

  /** How many of its requests are not settled yet (tests, gauges). */
  synchronized int unsettledCount() {
    return unsettled.size();
  }

  /**
   * A keep-alive of {@code ref} with the precise settled mark, or null when one is in flight already (the caller
   * must call {@link #keepAliveDone} when it is answered).
   */
  synchronized KeepAliveRequest keepAlive(Ref ref) {
    if (keepAliveInFlight) {
      return null;
    }
    keepAliveInFlight = true;
    RequestHeader h = next();
    List<Long> open = new ArrayList<>();
    for (Long id : unsettled) {
      if (id < h.getRequestId() && open.size() < Limits.UNSETTLED_IDS_MAX) {
        open.add(id);
      }
    }
    long mark = open.size() < Limits.UNSETTLED_IDS_MAX ? h.getRequestId() - 1 : h.getSettledUpTo();
    if (mark == h.getSettledUpTo()) {
      open.clear(); // too many to list: the contiguous mark alone
    }
    return KeepAliveRequest.newBuilder()
        .setHeader(h.toBuilder().setSettledUpTo(mark))
        .setSessionId(ref.id()).setSessionKey(ref.key())
        .addAllUnsettledRequestIds(open)
        .build();
  }

  synchronized void keepAliveDone(long requestId) {
    keepAliveInFlight = false;
    unsettled.remove(requestId);
  }

  /**
   * The session to lock in: the one open or being opened, or a new one from {@code open} (called under this
   * object's lock; it must not block). A failed opening is forgotten, so the next call tries again.
   */
  synchronized CompletableFuture<Ref> session(java.util.function.Supplier<CompletableFuture<Ref>> open) {
    if (ended) {
      return CompletableFuture.failedFuture(LdlmErrors.unavailable("the connection is closing"));
    }
    if (session == null || session.isCompletedExceptionally()) {
      session = open.get();
    }
    return session;
  }

  /** The session now if it is open (for keep-alives and the close), else null. */
  synchronized Ref openRef() {
    return session != null && session.isDone() && !session.isCompletedExceptionally() ? session.join() : null;
  }

  /** The cluster ended {@code ref} (it expired): the next lock opens a new session. True when it was the current one. */
  synchronized boolean lost(Ref ref) {
    if (openRef() != null && openRef().equals(ref)) {
      session = null;
      return true;
    }
    return false;
  }

  /**
   * The connection ended: no new session is opened from now. Returns the session to close through the log, or the
   * opening still in flight (whose session the caller closes once it is open), or null.
   */
  synchronized CompletableFuture<Ref> end() {
    ended = true;
    CompletableFuture<Ref> s = session;
    session = null;
    return s;
  }

  synchronized boolean ended() {
    return ended;
  }
}
