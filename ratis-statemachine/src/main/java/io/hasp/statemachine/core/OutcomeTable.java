package io.hasp.statemachine.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The remembered outcomes of finished requests, per client, so a retried request gets its original answer,
 * and each client's settle marks, so a late copy of a request the client already settled is refused.
 *
 * <p>Lifetime of an outcome:
 *
 * <ul>
 *   <li>it is forgotten as soon as its client settles it (the {@code settled_up_to} mark of any later request,
 *       or the precise mark of a keep-alive);
 *   <li>while its client has a live session it is kept until then, and the client may leave at most
 *       {@link Capacity#outcomesPerClientMax()} unsettled (its new requests fail with LIMIT_EXCEEDED past that);
 *   <li>otherwise (a client without a session, or after its last session ended) it is <i>aged</i>: forgotten
 *       {@link Capacity#sessionlessOutcomeRetentionMs()} after it was stored, and the oldest aged one is
 *       forgotten first when there are more than {@link Capacity#sessionlessOutcomesMax()}.
 * </ul>
 *
 * A client's entry (its marks) lives while it has outcomes or a live session; after that it is idle and is
 * forgotten like an aged outcome. Deterministic: every order is by (time, client id, request id).
 */
final class OutcomeTable {
  record Stored(Result result, long atMs, boolean aged) {}

  /** An aged outcome, or (requestId 0) an idle client entry, in expiry order. */
  private record AgedKey(long atMs, String clientId, long requestId) {}

  private static final Comparator<AgedKey> AGED_ORDER = Comparator.comparingLong(AgedKey::atMs)
      .thenComparing(AgedKey::clientId)
      .thenComparingLong(AgedKey::requestId);
  private static final long[] NONE = new long[0];

  private static final class Client {
    final String id;
    long settledUpTo;
    long keptUpTo;
    long[] keptUnsettled = NONE;
    long idleSinceMs = -1;
    final TreeMap<Long, Stored> outcomes = new TreeMap<>();

    Client(String id) {
      this.id = id;
    }

    boolean settled(long requestId) {
      return requestId <= settledUpTo
          || (requestId <= keptUpTo && Arrays.binarySearch(keptUnsettled, requestId) < 0);
    }

    ClientMarks marks() {
      List<Long> unsettled = new ArrayList<>(keptUnsettled.length);
      for (long r : keptUnsettled) {
        unsettled.add(r);
      }
      return new ClientMarks(id, settledUpTo, keptUpTo, List.copyOf(unsettled), idleSinceMs);
    }
  }

  private final Map<String, Client> clients = new HashMap<>();
  /** Live sessions per client id (a client may have several, e.g. one lost and a new one). */
  private final Map<String, Integer> liveSessions = new HashMap<>();
  private final TreeSet<AgedKey> aged = new TreeSet<>(AGED_ORDER);
  private long outcomeCount;

  // ------------------------------------------------------------------------------------------------
  // Lookups
  // ------------------------------------------------------------------------------------------------

  Result get(RequestRef ref) {
    Client c = clients.get(ref.clientId());
    Stored s = c == null ? null : c.outcomes.get(ref.requestId());
    return s == null ? null : s.result();
  }

  /** True when the client already settled this request: a copy arriving now is late and must be refused. */
  boolean settled(RequestRef ref) {
    Client c = clients.get(ref.clientId());
    return c != null && c.settled(ref.requestId());
  }

  /** True when this client has a live session and as many unsettled outcomes as it may have. */
  boolean atCap(String clientId, Capacity capacity) {
    Client c = clients.get(clientId);
    return c != null && bound(clientId) && c.outcomes.size() >= capacity.outcomesPerClientMax();
  }

  long size() {
    return outcomeCount;
  }

  int clientCount() {
    return clients.size();
  }

  boolean hasDue(long nowMs, Capacity capacity) {
    return !aged.isEmpty() && aged.first().atMs() < nowMs - capacity.sessionlessOutcomeRetentionMs();
  }

  private boolean bound(String clientId) {
    return liveSessions.getOrDefault(clientId, 0) > 0;
  }

  // ------------------------------------------------------------------------------------------------
  // Changes
  // ------------------------------------------------------------------------------------------------

  /**
   * Stores the outcome of an identified request, unless the client already settled it. An aged store past
   * {@link Capacity#sessionlessOutcomesMax()} forgets the oldest aged item.
   */
  void remember(RequestRef ref, long nowMs, Result result, Capacity capacity, Changes changes) {
    if (ref.clientId().isEmpty() || ref.requestId() <= 0) {
      return;
    }
    Client c = clients.get(ref.clientId());
    if (c != null && c.settled(ref.requestId())) {
      return;
    }
    if (c == null) {
      c = new Client(ref.clientId());
      clients.put(c.id, c);
      changes.putClient(c.marks());
    }
    leaveIdle(c, changes);
    Stored old = c.outcomes.get(ref.requestId());
    if (old != null) {
      forget(c, ref.requestId(), old, false, changes);
    }
    boolean isAged = !bound(c.id);
    c.outcomes.put(ref.requestId(), new Stored(result, nowMs, isAged));
    outcomeCount++;
    if (isAged) {
      aged.add(new AgedKey(nowMs, c.id, ref.requestId()));
    }
    changes.putOutcome(c.id, ref.requestId(), nowMs, isAged, result);
    while (aged.size() > capacity.sessionlessOutcomesMax()) {
      dropAged(aged.first(), nowMs, changes);
    }
  }

  /**
   * The settle mark of a request header: every request of the client at or below the mark (and below the
   * request itself) is settled.
   */
  void applyMark(Origin origin, long nowMs, Changes changes) {
    if (!origin.identified() || origin.settledUpTo() <= 0) {
      return;
    }
    long mark = Math.min(origin.settledUpTo(), origin.requestId() - 1);
    Client c = clients.get(origin.clientId());
    if (c == null && mark > 0) {
      // the mark must be kept even with nothing to forget yet: an outcome of a settled request may be stored
      // later (a grant's, when its hold ends) and must not be, and a late copy must be refused
      c = new Client(origin.clientId());
      clients.put(c.id, c);
    }
    if (c == null || mark <= c.settledUpTo) {
      return;
    }
    c.settledUpTo = mark;
    int keep = 0;
    while (keep < c.keptUnsettled.length && c.keptUnsettled[keep] <= mark) {
      keep++;
    }
    if (keep > 0) {
      c.keptUnsettled = Arrays.copyOfRange(c.keptUnsettled, keep, c.keptUnsettled.length);
    }
    NavigableMap<Long, Stored> settled = c.outcomes.headMap(mark, true);
    for (Iterator<Map.Entry<Long, Stored>> it = settled.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Long, Stored> e = it.next();
      it.remove();
      forget(c, e.getKey(), e.getValue(), true, changes);
    }
    changes.putClient(c.marks());
    maybeIdle(c, nowMs, changes);
  }

  /**
   * The precise mark of a keep-alive: every request at or below {@code upTo} except those in {@code unsettled}
   * is settled.
   */
  void applyKeepAliveMark(String clientId, long upTo, List<Long> unsettled, long nowMs, Changes changes) {
    Client c = clients.get(clientId);
    if (c == null || upTo <= c.keptUpTo || upTo <= c.settledUpTo) {
      return;
    }
    long[] open = unsettled.stream().mapToLong(Long::longValue).filter(r -> r > 0 && r <= upTo).sorted()
        .distinct().toArray();
    c.keptUpTo = upTo;
    c.keptUnsettled = Arrays.stream(open).filter(r -> r > c.settledUpTo).toArray();
    List<Long> settled = new ArrayList<>();
    for (Long r : c.outcomes.headMap(upTo, true).keySet()) {
      if (Arrays.binarySearch(open, r) < 0) {
        settled.add(r);
      }
    }
    for (Long r : settled) {
      Stored s = c.outcomes.remove(r);
      forget(c, r, s, true, changes);
    }
    changes.putClient(c.marks());
    maybeIdle(c, nowMs, changes);
  }

  /** A session of this client opened: its outcomes are kept until settled or until its last session ends. */
  void sessionOpened(String clientId, Changes changes) {
    if (clientId.isEmpty()) {
      return;
    }
    liveSessions.merge(clientId, 1, Integer::sum);
    Client c = clients.get(clientId);
    if (c != null) {
      leaveIdle(c, changes);
    }
  }

  /** A session of this client ended; after its last one, its outcomes age from now. */
  void sessionEnded(String clientId, long nowMs, Changes changes) {
    if (clientId.isEmpty()) {
      return;
    }
    int left = liveSessions.merge(clientId, -1, Integer::sum);
    if (left > 0) {
      return;
    }
    liveSessions.remove(clientId);
    Client c = clients.get(clientId);
    if (c == null) {
      return;
    }
    for (Map.Entry<Long, Stored> e : c.outcomes.entrySet()) {
      Stored s = e.getValue();
      if (!s.aged()) {
        Stored agedNow = new Stored(s.result(), nowMs, true);
        e.setValue(agedNow);
        aged.add(new AgedKey(nowMs, clientId, e.getKey()));
        changes.putOutcome(clientId, e.getKey(), nowMs, true, s.result());
      }
    }
    maybeIdle(c, nowMs, changes);
  }

  /** Forgets aged outcomes and idle clients older than the retention; returns how many it forgot. */
  int expire(long nowMs, Capacity capacity, int budget, Changes changes) {
    int used = 0;
    while (used < budget && hasDue(nowMs, capacity)) {
      dropAged(aged.first(), nowMs, changes);
      used++;
    }
    return used;
  }

  private void dropAged(AgedKey k, long nowMs, Changes changes) {
    aged.remove(k);
    Client c = clients.get(k.clientId());
    if (k.requestId() == 0) {
      clients.remove(k.clientId());
      changes.deleteClient(k.clientId());
      return;
    }
    Stored s = c.outcomes.remove(k.requestId());
    outcomeCount--;
    changes.deleteOutcome(k.clientId(), k.requestId());
    maybeIdle(c, nowMs, changes);
  }

  /** Removes one stored outcome's indexes (the caller removed it from the client's map, or replaces it). */
  private void forget(Client c, long requestId, Stored s, boolean delete, Changes changes) {
    outcomeCount--;
    if (s.aged()) {
      aged.remove(new AgedKey(s.atMs(), c.id, requestId));
    }
    if (delete) {
      changes.deleteOutcome(c.id, requestId);
    }
  }

  private void maybeIdle(Client c, long nowMs, Changes changes) {
    if (c.outcomes.isEmpty() && !bound(c.id) && c.idleSinceMs < 0) {
      c.idleSinceMs = nowMs;
      aged.add(new AgedKey(nowMs, c.id, 0));
      changes.putClient(c.marks());
    }
  }

  private void leaveIdle(Client c, Changes changes) {
    if (c.idleSinceMs >= 0) {
      aged.remove(new AgedKey(c.idleSinceMs, c.id, 0));
      c.idleSinceMs = -1;
      changes.putClient(c.marks());
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Restore and invariants
  // ------------------------------------------------------------------------------------------------

  void restoreClient(ClientMarks m) {
    Client c = clients.computeIfAbsent(m.clientId(), Client::new);
    c.settledUpTo = m.settledUpTo();
    c.keptUpTo = m.keptUpTo();
    c.keptUnsettled = m.keptUnsettled().stream().mapToLong(Long::longValue).sorted().toArray();
    c.idleSinceMs = m.idleSinceMs();
    if (c.idleSinceMs >= 0) {
      aged.add(new AgedKey(c.idleSinceMs, c.id, 0));
    }
  }

  void restoreOutcome(String clientId, long requestId, long atMs, boolean isAged, Result result) {
    Client c = clients.computeIfAbsent(clientId, Client::new);
    c.outcomes.put(requestId, new Stored(result, atMs, isAged));
    outcomeCount++;
    if (isAged) {
      aged.add(new AgedKey(atMs, clientId, requestId));
    }
  }

  void restoreSession(String clientId) {
    if (!clientId.isEmpty()) {
      liveSessions.merge(clientId, 1, Integer::sum);
    }
  }

  /** Throws IllegalStateException naming the first broken rule. */
  void checkInvariants() {
    long count = 0;
    int agedCount = 0;
    for (Client c : clients.values()) {
      for (Map.Entry<Long, Stored> e : c.outcomes.entrySet()) {
        count++;
        check(!c.settled(e.getKey()), "settled outcome kept: " + c.id + "/" + e.getKey());
        if (e.getValue().aged()) {
          agedCount++;
          check(aged.contains(new AgedKey(e.getValue().atMs(), c.id, e.getKey())), "aged outcome not indexed");
        } else {
          check(bound(c.id), "outcome of a client without a live session is not aged: " + c.id);
        }
      }
      boolean idle = c.outcomes.isEmpty() && !bound(c.id);
      check(idle == (c.idleSinceMs >= 0), "idle state of client " + c.id + " wrong");
      if (idle) {
        agedCount++;
        check(aged.contains(new AgedKey(c.idleSinceMs, c.id, 0)), "idle client not indexed: " + c.id);
      }
    }
    check(count == outcomeCount, "outcome count " + outcomeCount + " but " + count + " outcomes");
    check(agedCount == aged.size(), "aged index has " + aged.size() + " entries, state has " + agedCount);
  }

  /** For store round-trip tests: every client's marks, by client id. */
  Map<String, ClientMarks> allMarks() {
    Map<String, ClientMarks> m = new TreeMap<>();
    for (Client c : clients.values()) {
      m.put(c.id, c.marks());
    }
    return m;
  }

  private static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException("outcome table invariant broken: " + message);
    }
  }
}
