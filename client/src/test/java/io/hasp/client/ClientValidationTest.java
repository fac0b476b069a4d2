package io.hasp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Everything that is decided without a server: validation before sending, retry policy, error mapping. */
class ClientValidationTest {

  @Test
  void aCallThatRunsOutOfTriesReportsItsMostTellingFailure() {
    StatusRuntimeException deadline = Status.DEADLINE_EXCEEDED.withDescription("no answer").asRuntimeException();
    StatusRuntimeException refused = Status.UNAVAILABLE.withCause(new java.net.ConnectException("refused"))
        .asRuntimeException();
    StatusRuntimeException handshake = Status.UNAVAILABLE.withDescription("io exception")
        .withCause(new javax.net.ssl.SSLHandshakeException("PKIX path building failed")).asRuntimeException();
    Transport.Call<Object> call = new Transport.Call<>();
    assertEquals(deadline, call.mostTelling(deadline));
    assertEquals(handshake, call.mostTelling(handshake));
    assertEquals(handshake, call.mostTelling(deadline), "a later deadline does not hide the handshake failure");
    assertEquals(handshake, call.mostTelling(refused));
    Transport.Call<Object> other = new Transport.Call<>();
    other.mostTelling(deadline);
    assertEquals(refused, other.mostTelling(refused));
    assertTrue(RetryPolicy.toException(call.mostTelling(deadline), true).getMessage().contains("TLS handshake failed"));
  }

  @Test
  void badOptionsAreRejectedBeforeAnythingIsSent() {
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().size(0));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().size(-1));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().size(1_000_001));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().lease(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().lease(Duration.ofMillis(-1)));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().waitTimeout(Duration.ofSeconds(-1)));
    assertThrows(NullPointerException.class, () -> LockOptions.builder().lease(null));
    assertThrows(IllegalArgumentException.class, () -> LockOptions.builder().owner("o".repeat(257)));
    LockOptions ok = LockOptions.builder().size(3).lease(Duration.ofSeconds(60)).waitTimeout(Duration.ZERO).build();
    assertEquals(3, ok.size());
    assertEquals(Duration.ofSeconds(60), ok.lease());
  }

  @Test
  void badNamesAreRejectedBeforeAnythingIsSent() {
    assertThrows(NullPointerException.class, () -> HaspClient.checkName(null));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.checkName(""));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.checkName("x".repeat(513)));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.checkName("é".repeat(257)));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.checkName("a\tb"));
    HaspClient.checkName("x".repeat(512));
    // A client with an unreachable endpoint still refuses bad input at once (no network round trip).
    try (HaspClient c = HaspClient.builder().endpoints("127.0.0.1:1").callTimeout(Duration.ofMillis(200)).build()) {
      assertThrows(IllegalArgumentException.class, () -> c.lock(""));
      assertThrows(IllegalArgumentException.class, () -> c.tryLock("x".repeat(600)));
      assertThrows(IllegalArgumentException.class, () -> c.unlock("n", ""));
      assertThrows(IllegalArgumentException.class, () -> c.flushLocks("ok", ""));
      assertThrows(IllegalArgumentException.class, () -> c.newLock(""));
    }
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().build());
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().endpoints("nohostport"));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().sessionTtl(Duration.ofMillis(10)));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().sessionTtl(Duration.ofMillis(999)));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().waitPulse(Duration.ofMillis(10)));
    assertThrows(IllegalArgumentException.class, () -> HaspClient.builder().callTimeout(Duration.ZERO));
  }

  private static StatusRuntimeException status(Status.Code code, String haspCode, String leader) {
    Metadata t = new Metadata();
    if (haspCode != null) {
      t.put(RetryPolicy.ERROR_CODE, haspCode);
    }
    if (leader != null) {
      t.put(RetryPolicy.LEADER, leader);
    }
    return Status.fromCode(code).withDescription(haspCode == null ? "x" : haspCode + ": msg").asRuntimeException(t);
  }

  @Test
  void retryPolicyRetriesOnlyWhatIsSafeToRetry() {
    assertTrue(RetryPolicy.decide(status(Status.Code.UNAVAILABLE, null, null)).retry());
    assertTrue(RetryPolicy.decide(status(Status.Code.DEADLINE_EXCEEDED, null, null)).retry());
    // a node that died mid-call: gRPC says UNKNOWN "channel closed", with no Hasp code
    assertTrue(RetryPolicy.decide(status(Status.Code.UNKNOWN, null, null)).retry());
    assertEquals(ErrorCode.NO_QUORUM, RetryPolicy.toException(status(Status.Code.UNKNOWN, null, null)).code());
    // a node that shuts down (removed from the group) cancels the calls it holds: RST_STREAM, no Hasp code
    assertTrue(RetryPolicy.decide(status(Status.Code.CANCELLED, null, null)).retry());
    assertEquals(ErrorCode.NO_QUORUM, RetryPolicy.toException(status(Status.Code.CANCELLED, null, null)).code());
    assertFalse(RetryPolicy.decide(status(Status.Code.INTERNAL, null, null)).retry());
    assertTrue(RetryPolicy.decide(status(Status.Code.UNAVAILABLE, "NO_QUORUM", null)).retry());
    RetryPolicy.Decision d = RetryPolicy.decide(status(Status.Code.UNAVAILABLE, "NOT_LEADER", "127.0.0.1:7003"));
    assertTrue(d.retry());
    assertEquals("127.0.0.1:7003", d.hint());
    assertFalse(RetryPolicy.decide(status(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", null)).retry());
    assertTrue(RetryPolicy.decide(status(Status.Code.ABORTED, "WAIT_CONTINUES", null)).retry());
    assertFalse(RetryPolicy.decide(status(Status.Code.ABORTED, "LOCK_WAIT_TIMEOUT", null)).retry());
    assertFalse(RetryPolicy.decide(status(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", null)).retry());
    for (int round = 0; round < 20; round++) {
      long b = RetryPolicy.backoffMs(round);
      assertTrue(b >= RetryPolicy.BACKOFF_MIN_MS && b <= RetryPolicy.BACKOFF_MAX_MS, "backoff " + b);
    }
  }

  @Test
  void errorsMapToTypedExceptionsWithoutServerText() {
    assertInstanceOf(HaspException.LockWaitTimeoutException.class,
        RetryPolicy.toException(status(Status.Code.ABORTED, "LOCK_WAIT_TIMEOUT", null)));
    assertInstanceOf(HaspException.SessionExpiredException.class,
        RetryPolicy.toException(status(Status.Code.FAILED_PRECONDITION, "SESSION_EXPIRED", null)));
    HaspException e = RetryPolicy.toException(status(Status.Code.FAILED_PRECONDITION, "INVALID_KEY", null));
    assertEquals(ErrorCode.INVALID_KEY, e.code());
    assertEquals("INVALID_KEY: msg", e.getMessage());
    assertInstanceOf(HaspException.NoQuorumException.class, RetryPolicy.toException(status(Status.Code.UNAVAILABLE, null, null)));
  }

  /**
   * The bug behind "a forever lock() never fails over": its budget of Long.MAX_VALUE / 4 ms turned into
   * nanoseconds and added to nanoTime() overflowed, so the deadline had passed before the first try.
   */
  @Test
  void aBudgetWithoutEndNeverRunsOutAndHugeBudgetsSaturateToIt() {
    for (Budget b : new Budget[] {Budget.forever(), Budget.ofMillis(Long.MAX_VALUE), Budget.ofMillis(Long.MAX_VALUE / 4),
        Budget.of(Duration.ofDays(365 * 1000L))}) {
      assertTrue(b.isForever(), b.toString());
      assertFalse(b.spent(), "a forever budget is spent: " + b);
      assertEquals(Long.MAX_VALUE, b.remainingMs());
    }
    Budget day = Budget.of(Duration.ofDays(1));
    assertFalse(day.isForever());
    assertFalse(day.spent());
    assertTrue(day.remainingMs() > Duration.ofHours(23).toMillis());
    assertTrue(Budget.ofMillis(0).spent());
    assertThrows(IllegalArgumentException.class, () -> Budget.ofMillis(-1));
  }

  @Test
  void everyTryHasADeadline() {
    assertThrows(IllegalArgumentException.class, () -> new Transport.Plan(Budget.forever(), 0, true));
  }

  @Test
  void settleMarksNeverCoverARequestInFlight() {
    Requests r = new Requests("c");
    io.hasp.proto.RequestHeader first = r.begin();
    assertEquals(0, first.getSettledUpTo());
    io.hasp.proto.RequestHeader second = r.begin();
    assertEquals(0, second.getSettledUpTo(), "request 1 is still in flight");
    r.end(first.getRequestId());
    io.hasp.proto.RequestHeader third = r.begin();
    assertEquals(1, third.getSettledUpTo(), "below the oldest in flight (2)");
    Requests.Precise p = r.precise();
    assertEquals(3, p.upTo());
    assertEquals(java.util.List.of(2L, 3L), p.unsettled());
    r.end(2);
    r.end(3);
    assertEquals(java.util.List.of(), r.precise().unsettled());
    assertEquals(3, r.begin().getSettledUpTo());
  }
}
