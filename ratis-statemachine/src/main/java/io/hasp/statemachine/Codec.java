package io.hasp.statemachine;

import io.hasp.proto.replicated.AcquireCmd;
import io.hasp.proto.replicated.AcquireReply;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.GrantRecord;
import io.hasp.proto.replicated.NamesReply;
import io.hasp.proto.replicated.SessionRecord;
import io.hasp.proto.replicated.SessionReply;
import io.hasp.proto.replicated.WaiterRecord;
import io.hasp.statemachine.core.Command;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Result;
import io.hasp.statemachine.core.Session;
import io.hasp.statemachine.core.Waiter;
import java.util.List;

/**
 * Converts between the replicated protobuf formats and the pure core's records. Error codes travel as the
 * {@code hasp.v1.ErrorCode} numbers so a reply can be forwarded to a client as it is.
 */
public final class Codec {
  private Codec() {}

  /** Decodes one command of a log entry, at the entry's stamped time. Throws IllegalArgumentException for a command with no operation. */
  public static Command toCommand(io.hasp.proto.replicated.Command c, long now) {
    String client = c.getClientId();
    long req = c.getRequestId();
    switch (c.getOpCase()) {
      case ACQUIRE: {
        AcquireCmd a = c.getAcquire();
        return new Command.Acquire(now, client, req, a.getName(), a.getSize(), a.getLeaseMs(), a.getWaitTimeoutMs(),
            a.getTryOnly(), a.getSessionId(), a.getOwner(), a.getKey());
      }
      case RELEASE:
        return new Command.Release(now, client, req, c.getRelease().getName(), c.getRelease().getKey());
      case RENEW:
        return new Command.Renew(now, client, req, c.getRenew().getName(), c.getRenew().getKey(),
            c.getRenew().getLeaseMs());
      case FLUSH:
        return new Command.Flush(now, client, req, List.copyOf(c.getFlush().getNamesList()));
      case OPEN_SESSION:
        return new Command.OpenSession(now, client, req, c.getOpenSession().getTtlMs(), c.getOpenSession().getOwner());
      case KEEP_ALIVE:
        return new Command.KeepAlive(now, client, req, c.getKeepAlive().getSessionId());
      case CLOSE_SESSION:
        return new Command.CloseSession(now, client, req, c.getCloseSession().getSessionId());
      case CANCEL_WAIT:
        return new Command.CancelWait(now, c.getCancelWait().getTargetClientId(),
            c.getCancelWait().getTargetRequestId());
      case EXPIRE:
        return new Command.Expire(now, c.getExpire().getMaxItems());
      case REFRESH:
        return new Command.Refresh(now);
      default:
        throw new IllegalArgumentException("log entry carries no operation");
    }
  }

  /** The wire number of a core error code (hasp.v1.ErrorCode). */
  public static int wireCode(ErrorCode code) {
    return io.hasp.proto.ErrorCode.valueOf(code.name()).getNumber();
  }

  public static ErrorCode coreCode(int wire) {
    io.hasp.proto.ErrorCode c = io.hasp.proto.ErrorCode.forNumber(wire);
    if (c == null) {
      throw new IllegalArgumentException("unknown error code " + wire);
    }
    return ErrorCode.valueOf(c.name());
  }

  public static CommandReply toReply(Result result) {
    CommandReply.Builder b = CommandReply.newBuilder();
    if (result instanceof Result.Failure f) {
      b.setErrorCode(wireCode(f.code())).setErrorMessage(f.message());
    } else if (result instanceof Result.Granted g) {
      b.setAcquire(AcquireReply.newBuilder().setStatus(AcquireReply.Status.GRANTED).setGrant(grant(g.holder(), g.size())));
    } else if (result instanceof Result.Queued q) {
      b.setAcquire(AcquireReply.newBuilder().setStatus(AcquireReply.Status.QUEUED));
    } else if (result instanceof Result.NotAcquired) {
      b.setAcquire(AcquireReply.newBuilder().setStatus(AcquireReply.Status.NOT_ACQUIRED));
    } else if (result instanceof Result.Renewed r) {
      b.setRenewed(grant(r.holder(), r.size()));
    } else if (result instanceof Result.Names n) {
      b.setNames(NamesReply.newBuilder().addAllNames(n.names()));
    } else if (result instanceof Result.SessionState s) {
      b.setSession(SessionReply.newBuilder().setSessionId(s.session().id()).setTtlMs(s.session().ttlMs())
          .setExpiresAtMs(s.session().expiresAtMs()));
    } else {
      b.setDone(true);
    }
    return b.build();
  }

  /** The inverse of {@link #toReply} for stored outcomes (a Queued outcome is never stored). */
  public static Result toResult(CommandReply r) {
    if (r.getErrorCode() != 0) {
      return new Result.Failure(coreCode(r.getErrorCode()), r.getErrorMessage());
    }
    switch (r.getResultCase()) {
      case ACQUIRE:
        switch (r.getAcquire().getStatus()) {
          case GRANTED:
            return new Result.Granted(holder(r.getAcquire().getGrant()), r.getAcquire().getGrant().getSize());
          case NOT_ACQUIRED:
            return new Result.NotAcquired("");
          default:
            throw new IllegalArgumentException("stored acquire outcome with status " + r.getAcquire().getStatus());
        }
      case RENEWED:
        return new Result.Renewed(holder(r.getRenewed()), r.getRenewed().getSize());
      case NAMES:
        return new Result.Names(List.copyOf(r.getNames().getNamesList()));
      case SESSION:
        return new Result.SessionState(new Session(r.getSession().getSessionId(), r.getSession().getTtlMs(),
            r.getSession().getExpiresAtMs(), "", ""));
      default:
        return Result.DONE;
    }
  }

  public static GrantRecord grant(Holder h, long size) {
    return GrantRecord.newBuilder().setName(h.name()).setKey(h.key()).setToken(h.token()).setSize(size)
        .setLeaseMs(h.leaseMs()).setExpiresAtMs(h.expiresAtMs()).setSessionId(h.sessionId()).setOwner(h.owner())
        .setAcquiredAtMs(h.acquiredAtMs()).setClientId(h.clientId()).setRequestId(h.requestId()).build();
  }

  public static Holder holder(GrantRecord g) {
    return new Holder(g.getName(), g.getKey(), g.getToken(), g.getSessionId(), g.getOwner(), g.getLeaseMs(),
        g.getExpiresAtMs(), g.getAcquiredAtMs(), g.getClientId(), g.getRequestId());
  }

  public static WaiterRecord waiter(Waiter w) {
    return WaiterRecord.newBuilder().setName(w.name()).setSeq(w.seq()).setClientId(w.clientId())
        .setRequestId(w.requestId()).setSessionId(w.sessionId()).setOwner(w.owner()).setLeaseMs(w.leaseMs())
        .setWaitDeadlineMs(w.waitDeadlineMs()).setKey(w.key()).setSize(w.size()).build();
  }

  public static Waiter waiter(WaiterRecord r) {
    return new Waiter(r.getName(), r.getSeq(), r.getClientId(), r.getRequestId(), r.getSessionId(), r.getOwner(),
        r.getLeaseMs(), r.getWaitDeadlineMs(), r.getKey(), r.getSize());
  }

  public static SessionRecord session(Session s) {
    return SessionRecord.newBuilder().setId(s.id()).setTtlMs(s.ttlMs()).setExpiresAtMs(s.expiresAtMs())
        .setOwner(s.owner()).setClientId(s.clientId()).build();
  }

  public static Session session(SessionRecord r) {
    return new Session(r.getId(), r.getTtlMs(), r.getExpiresAtMs(), r.getOwner(), r.getClientId());
  }
}
