package io.hasp.client;

import io.hasp.proto.RequestHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * This client's request ids and the ones still in flight. Every header carries the settle mark "everything
 * below my oldest request still in flight is settled", and the keep-alive the precise mark "everything so far
 * but these", so the cluster forgets outcomes as soon as they are no longer needed and refuses a late copy of
 * a request this client is done with. A request is in flight from {@link #begin} until {@link #end}: until its
 * answer arrived, or until the abandon of a request given up on was settled.
 */
final class Requests {
  /** Ids a keep-alive lists as unsettled; beyond it only the contiguous mark is sent. */
  static final int UNSETTLED_LISTED_MAX = 1_000;

  private final String clientId;
  private final AtomicLong ids = new AtomicLong();
  private final ConcurrentSkipListSet<Long> inFlight = new ConcurrentSkipListSet<>();

  Requests(String clientId) {
    this.clientId = clientId;
  }

  String clientId() {
    return clientId;
  }

  /**
   * A new request: its header (with the settle mark), in flight until {@link #end}. Synchronized with
   * {@link #precise}: an id must be in flight before any keep-alive can count it.
   */
  synchronized RequestHeader begin() {
    long id = ids.incrementAndGet();
    inFlight.add(id);
    return RequestHeader.newBuilder().setClientId(clientId).setRequestId(id).setSettledUpTo(inFlight.first() - 1)
        .build();
  }

  void end(long requestId) {
    inFlight.remove(requestId);
  }

  /** The precise mark of a keep-alive: every request so far, except the ones listed. */
  record Precise(long upTo, List<Long> unsettled) {}

  /**
   * The mark for a keep-alive, as of now. When more requests are in flight than a keep-alive may list, it falls
   * back to the contiguous mark below the first unlisted one.
   */
  synchronized Precise precise() {
    long upTo = ids.get();
    List<Long> open = new ArrayList<>();
    for (long id : inFlight) {
      if (id > upTo) {
        break;
      }
      if (open.size() == UNSETTLED_LISTED_MAX) {
        return new Precise(id - 1, open);
      }
      open.add(id);
    }
    return new Precise(upTo, open);
  }

  int inFlightCount() {
    return inFlight.size();
  }
}
