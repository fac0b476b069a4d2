package io.hasp.server;

import io.hasp.proto.AbandonRequest;
import io.hasp.proto.CloseSessionRequest;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.KeepAliveRequest;
import io.hasp.proto.LockRequest;
import io.hasp.proto.OpenSessionRequest;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import io.hasp.proto.replicated.AbandonCmd;
import io.hasp.proto.replicated.AcquireCmd;
import io.hasp.proto.replicated.CloseSessionCmd;
import io.hasp.proto.replicated.Command;
import io.hasp.proto.replicated.FlushCmd;
import io.hasp.proto.replicated.KeepAliveCmd;
import io.hasp.proto.replicated.OpenSessionCmd;
import io.hasp.proto.replicated.ReleaseCmd;
import io.hasp.proto.replicated.RenewCmd;
import io.hasp.server.Errors.HaspError;
import io.hasp.statemachine.core.Limits;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Validate;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns API requests into replicated commands, validating every field first: a bad request gets a clear
 * INVALID_ARGUMENT (or INVALID_SIZE) naming the problem and nothing is proposed. The state machine checks the
 * same rules again on apply (a command from an older or foreign node must not slip through either).
 */
final class Commands {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Waiting Locks without a header still need an identity (waiters are found by it): unique per node process. */
  private final String anonymousPrefix = "anon-" + UUID.randomUUID() + "-";
  private final AtomicLong anonymousIds = new AtomicLong();

  /** The identity a waiting Lock without a header gets (its outcomes age out; it cannot be retried). */
  RequestHeader anonymous() {
    return RequestHeader.newBuilder().setClientId(anonymousPrefix + anonymousIds.incrementAndGet()).setRequestId(1)
        .build();
  }

  Command lock(LockRequest r, RequestHeader header, boolean tryOnly) {
    name(r.getName());
    long size = r.hasSize() ? r.getSize() : 1;
    if (size < 1 || size > Limits.LOCK_SIZE_MAX) {
      throw new HaspError(ErrorCode.INVALID_SIZE, "size must be between 1 and " + Limits.LOCK_SIZE_MAX + ", got " + size);
    }
    if (r.hasLeaseMs() && (r.getLeaseMs() <= 0 || r.getLeaseMs() > Limits.LEASE_MS_MAX)) {
      throw Errors.invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + " when set, got " + r.getLeaseMs());
    }
    if (r.hasWaitTimeoutMs() && (r.getWaitTimeoutMs() < 0 || r.getWaitTimeoutMs() > Limits.WAIT_TIMEOUT_MS_MAX)) {
      throw Errors.invalid("wait_timeout_ms must be between 0 and " + Limits.WAIT_TIMEOUT_MS_MAX + " when set, got "
          + r.getWaitTimeoutMs());
    }
    owner(r.getOwner());
    sessionRef(r.getSessionId(), r.getSessionKey(), false);
    if (r.getDetached() && r.getSessionId() == 0) {
      throw Errors.invalid("detached needs a session_id (the session ties the wait; the hold stands alone)");
    }
    return base(header).setAcquire(AcquireCmd.newBuilder()
        .setName(r.getName())
        .setSize(size)
        .setLeaseMs(r.hasLeaseMs() ? r.getLeaseMs() : 0)
        .setWaitTimeoutMs(tryOnly ? 0 : (r.hasWaitTimeoutMs() ? r.getWaitTimeoutMs() : -1))
        .setTryOnly(tryOnly)
        .setSessionId(r.getSessionId())
        .setSessionKey(r.getSessionKey())
        .setDetached(r.getDetached())
        .setThreadId(r.getThreadId())
        .setAttempt(r.getAttempt())
        .setOwner(r.getOwner())
        .setKey(UUID.randomUUID().toString()))
        .build();
  }

  Command unlock(UnlockRequest r) {
    name(r.getName());
    key(r.getKey());
    return base(header(r.getHeader(), r.hasHeader()))
        .setRelease(ReleaseCmd.newBuilder().setName(r.getName()).setKey(r.getKey())).build();
  }

  Command renew(RenewRequest r) {
    name(r.getName());
    key(r.getKey());
    if (r.getLeaseMs() <= 0 || r.getLeaseMs() > Limits.LEASE_MS_MAX) {
      throw Errors.invalid("lease_ms must be between 1 and " + Limits.LEASE_MS_MAX + ", got " + r.getLeaseMs());
    }
    return base(header(r.getHeader(), r.hasHeader()))
        .setRenew(RenewCmd.newBuilder().setName(r.getName()).setKey(r.getKey()).setLeaseMs(r.getLeaseMs())).build();
  }

  /** One page of a flush: the request's own header for the first, none (no dedup) for the pages after. */
  Command flush(FlushLocksRequest r, String after) {
    if (r.getNamesCount() > Limits.FLUSH_NAMES_MAX) {
      throw Errors.invalid("at most " + Limits.FLUSH_NAMES_MAX + " names per flush, got " + r.getNamesCount());
    }
    for (String name : r.getNamesList()) {
      name(name);
    }
    RequestHeader h = after.isEmpty() ? header(r.getHeader(), r.hasHeader()) : RequestHeader.getDefaultInstance();
    return base(h).setFlush(FlushCmd.newBuilder().addAllNames(r.getNamesList()).setAfter(after)).build();
  }

  Command openSession(OpenSessionRequest r) {
    long ttl = r.getTtlMs() == 0 ? Limits.SESSION_TTL_MS_DEFAULT : r.getTtlMs();
    if (ttl < Limits.SESSION_TTL_MS_MIN || ttl > Limits.SESSION_TTL_MS_MAX) {
      throw Errors.invalid("ttl_ms must be between " + Limits.SESSION_TTL_MS_MIN + " and "
          + Limits.SESSION_TTL_MS_MAX + " (or 0 for the default " + Limits.SESSION_TTL_MS_DEFAULT + "), got "
          + r.getTtlMs());
    }
    owner(r.getOwner());
    byte[] secret = new byte[16];
    RANDOM.nextBytes(secret);
    return base(header(r.getHeader(), r.hasHeader()))
        .setOpenSession(OpenSessionCmd.newBuilder().setTtlMs(ttl).setOwner(r.getOwner())
            .setKey(HexFormat.of().formatHex(secret)))
        .build();
  }

  Command keepAlive(KeepAliveRequest r) {
    sessionRef(r.getSessionId(), r.getSessionKey(), true);
    if (r.getUnsettledRequestIdsCount() > Limits.UNSETTLED_IDS_MAX) {
      throw Errors.invalid("at most " + Limits.UNSETTLED_IDS_MAX + " unsettled_request_ids, got "
          + r.getUnsettledRequestIdsCount());
    }
    return base(header(r.getHeader(), r.hasHeader()))
        .setKeepAlive(KeepAliveCmd.newBuilder().setSessionId(r.getSessionId()).setKey(r.getSessionKey())
            .addAllUnsettled(r.getUnsettledRequestIdsList()))
        .build();
  }

  Command closeSession(CloseSessionRequest r) {
    sessionRef(r.getSessionId(), r.getSessionKey(), true);
    return base(header(r.getHeader(), r.hasHeader()))
        .setCloseSession(CloseSessionCmd.newBuilder().setSessionId(r.getSessionId()).setKey(r.getSessionKey()))
        .build();
  }

  /** The client's own abandon of one of its requests: unconditional. */
  Command abandon(AbandonRequest r) {
    RequestHeader h = header(r.getHeader(), r.hasHeader());
    if (h.getClientId().isEmpty()) {
      throw Errors.invalid("an abandon needs header.client_id: the client of the abandoned request");
    }
    if (r.getRequestId() == 0) {
      throw Errors.invalid("request_id (the abandoned request) must be set");
    }
    return base(h).setAbandon(AbandonCmd.newBuilder().setTargetRequestId(r.getRequestId())).build();
  }

  /**
   * This node's abandon of a call without a session that ended before it was answered: it applies only while
   * that call's try is the request's latest (a retry through another node keeps its waiter or grant).
   */
  static Command abandonCall(RequestHeader h, long attempt) {
    return Command.newBuilder().setClientId(h.getClientId())
        .setAbandon(AbandonCmd.newBuilder().setTargetRequestId(h.getRequestId()).setUpToAttempt(attempt)).build();
  }

  /** The request's header, checked; absent or without a client id = anonymous (not deduplicated). */
  RequestHeader header(RequestHeader h, boolean present) {
    if (!present || h.getClientId().isEmpty()) {
      return RequestHeader.getDefaultInstance();
    }
    if (h.getClientId().getBytes(StandardCharsets.UTF_8).length > Limits.CLIENT_ID_BYTES_MAX) {
      throw Errors.invalid("header.client_id is longer than " + Limits.CLIENT_ID_BYTES_MAX + " bytes");
    }
    if (h.getRequestId() == 0) {
      throw Errors.invalid("header.request_id must be set (non-zero) when header.client_id is set");
    }
    return h;
  }

  static Command.Builder base(RequestHeader h) {
    return Command.newBuilder().setClientId(h.getClientId()).setRequestId(h.getRequestId())
        .setSettledUpTo(h.getSettledUpTo());
  }

  static void name(String name) {
    Result.Failure f = Validate.name(name);
    if (f != null) {
      throw Errors.invalid(f.message());
    }
  }

  private static void key(String key) {
    if (key.isEmpty()) {
      throw Errors.invalid("key must not be empty");
    }
    if (key.getBytes(StandardCharsets.UTF_8).length > Limits.KEY_BYTES_MAX) {
      throw Errors.invalid("key is longer than " + Limits.KEY_BYTES_MAX + " bytes");
    }
  }

  private static void owner(String owner) {
    if (owner.getBytes(StandardCharsets.UTF_8).length > Limits.OWNER_BYTES_MAX) {
      throw Errors.invalid("owner is longer than " + Limits.OWNER_BYTES_MAX + " bytes");
    }
  }

  private static void sessionRef(long id, String key, boolean required) {
    if (required && id == 0) {
      throw Errors.invalid("session_id must be set");
    }
    if (id != 0 && key.isEmpty()) {
      throw Errors.invalid("session_key must be set with session_id (OpenSession returned it)");
    }
    if (key.getBytes(StandardCharsets.UTF_8).length > Limits.SESSION_KEY_BYTES_MAX) {
      throw Errors.invalid("session_key is longer than " + Limits.SESSION_KEY_BYTES_MAX + " bytes");
    }
  }
}
