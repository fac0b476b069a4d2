package io.hasp.client;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What to do after a failed try: a pure policy. Transport failures (the node is unreachable, or the try's
 * deadline passed), NO_QUORUM and NOT_LEADER are retried, on the hinted leader or the next endpoint, with capped
 * exponential backoff and full jitter after each full round of endpoints; WAIT_CONTINUES (a pulse of a waiting
 * lock) is sent again to the same node; every other error is the answer. A
 * retry repeats the same request (same request id), so it is applied at most once.
 */
final class RetryPolicy {
  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> LEADER = Metadata.Key.of("hasp-leader", Metadata.ASCII_STRING_MARSHALLER);
  static final long BACKOFF_MIN_MS = 25;
  static final long BACKOFF_MAX_MS = 1_000;

  private RetryPolicy() {}

  /** The decision after one failed try. */
  record Decision(boolean retry, String hint) {}

  static Decision decide(StatusRuntimeException e) {
    String code = e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE);
    if (code == null) {
      return new Decision(noAnswer(e.getStatus().getCode()), null);
    }
    if (code.equals("NOT_LEADER")) {
      return new Decision(true, e.getTrailers().get(LEADER));
    }
    if (code.equals("WAIT_CONTINUES")) {
      return new Decision(true, null); // the wait goes on and the node is alive: the same node again
    }
    return new Decision(code.equals("NO_QUORUM"), null);
  }

  /**
   * A status without Hasp's error code that says no node answered: unreachable, out of time, the connection
   * closed under the call (gRPC reports that as UNKNOWN "channel closed" when a node dies mid-call), or the call
   * cancelled by the server (CANCELLED "RST_STREAM": a node that shuts down, e.g. removed from the group, ends the
   * calls it still holds that way; the chaos run saw a forever lock() fail with it). Every answer a Hasp node
   * gives carries its code, so these leave the outcome unknown and the same request may be sent again. A call
   * the caller cancels never gets here: Transport stops at its cancelled result first.
   */
  private static boolean noAnswer(Status.Code c) {
    return c == Status.Code.UNAVAILABLE || c == Status.Code.DEADLINE_EXCEEDED || c == Status.Code.UNKNOWN
        || c == Status.Code.CANCELLED;
  }

  /** Backoff after round {@code round} (1-based) of failed tries over every endpoint: capped, with full jitter. */
  static long backoffMs(int round) {
    long cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS << Math.min(10, round));
    return ThreadLocalRandom.current().nextLong(BACKOFF_MIN_MS, Math.max(BACKOFF_MIN_MS + 1, cap));
  }

  /** Maps a final failure to a typed exception (no server stack trace ever reaches the caller). */
  static HaspException toException(Throwable t) {
    return toException(t, false);
  }

  /**
   * As {@link #toException(Throwable)}; a failure without an answer says what the transport saw (e.g. a TLS
   * handshake error), and {@code tls} (whether this client speaks TLS) adds a hint when a plaintext client's
   * connection was closed, as a TLS port does to one.
   */
  static HaspException toException(Throwable t, boolean tls) {
    if (t instanceof HaspException h) {
      return h;
    }
    if (t instanceof StatusRuntimeException e) {
      String code = e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE);
      String d = e.getStatus().getDescription();
      if (code != null) {
        ErrorCode c;
        try {
          c = ErrorCode.valueOf(code);
        } catch (IllegalArgumentException x) {
          c = ErrorCode.INTERNAL;
        }
        String message = d != null && d.startsWith(code + ": ") ? d.substring(code.length() + 2) : String.valueOf(d);
        return HaspException.of(c, message);
      }
      if (noAnswer(e.getStatus().getCode())) {
        return new HaspException.NoQuorumException("no node answered in time (" + transportDetail(e, tls) + ")");
      }
      return new HaspException(ErrorCode.INTERNAL, e.getStatus().getCode() + (d == null ? "" : ": " + d));
    }
    return new HaspException(ErrorCode.INTERNAL, t.toString());
  }

  /** The status code, its description and the root cause of a failure without an answer, for people. */
  static String transportDetail(StatusRuntimeException e, boolean tls) {
    StringBuilder b = new StringBuilder(e.getStatus().getCode().name());
    String d = e.getStatus().getDescription();
    if (d != null) {
      b.append(": ").append(d.indexOf('\n') < 0 ? d : d.substring(0, d.indexOf('\n')));
    }
    Throwable root = e.getCause();
    boolean handshake = false;
    boolean refused = false;
    while (root != null && root.getCause() != null && root.getCause() != root) {
      handshake |= root instanceof javax.net.ssl.SSLException;
      refused |= root instanceof java.net.ConnectException;
      root = root.getCause();
    }
    refused |= root instanceof java.net.ConnectException;
    if (root != null) {
      handshake |= root instanceof javax.net.ssl.SSLException || root instanceof java.security.cert.CertificateException;
      b.append(handshake ? "; TLS handshake failed: " : "; ").append(root.getClass().getSimpleName())
          .append(root.getMessage() == null ? "" : ": " + root.getMessage());
    }
    if (!tls && !refused && e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
      b.append("; if the cluster speaks TLS, configure the client with tls(caPem)");
    }
    return b.toString();
  }

  /** True when the server decided (the request was applied or refused); false when the outcome is unknown. */
  static boolean definite(HaspException e) {
    return e.code() != ErrorCode.NO_QUORUM && e.code() != ErrorCode.NOT_LEADER && e.code() != ErrorCode.INTERNAL;
  }
}
