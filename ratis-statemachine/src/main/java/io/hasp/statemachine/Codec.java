package io.hasp.statemachine;

import io.hasp.proto.replicated.AbandonReply;
import io.hasp.proto.replicated.AcquireCmd;
import io.hasp.proto.replicated.AcquireReply;
import io.hasp.proto.replicated.CapacityRecord;
import io.hasp.proto.replicated.ClientRecord;
import io.hasp.proto.replicated.CommandReply;
import io.hasp.proto.replicated.GrantRecord;
import io.hasp.proto.replicated.MetaRecord;
import io.hasp.proto.replicated.NamesReply;
import io.hasp.proto.replicated.SessionRecord;
import io.hasp.proto.replicated.SessionReply;
import io.hasp.proto.replicated.WaiterRecord;
import io.hasp.statemachine.core.Capacity;
import io.hasp.statemachine.core.ClientMarks;
import io.hasp.statemachine.core.Command;
import io.hasp.statemachine.core.ErrorCode;
import io.hasp.statemachine.core.Holder;
import io.hasp.statemachine.core.Meta;
import io.hasp.statemachine.core.Origin;
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
    Origin o = new Origin(c.getClientId(), c.getRequestId(), c.getSettledUpTo());
    switch (c.getOpCase()) {
      case ACQUIRE: {
        AcquireCmd a = c.getAcquire();
        return new Command.Acquire(now, o, a.getName(), a.getSize(), a.getLeaseMs(), a.getWaitTimeoutMs(),
            a.getTryOnly(), a.getSessionId(), a.getSessionKey(), a.getDetached(), a.getThreadId(), a.getAttempt(),
            a.getOwner(), a.getKey());
      }
      case RELEASE:
        return new Command.Release(now, o, c.getRelease().getName(), c.getRelease().getKey());
      case RENEW:
        return new Command.Renew(now, o, c.getRenew().getName(), c.getRenew().getKey(), c.getRenew().getLeaseMs());
      case FLUSH:
        return new Command.Flush(now, o, List.copyOf(c.getFlush().getNamesList()), c.getFlush().getAfter());
      case OPEN_SESSION:
        return new Command.OpenSession(now, o, c.getOpenSession().getTtlMs(), c.getOpenSession().getOwner(),
            c.getOpenSession().getKey());
      case KEEP_ALIVE:
        return new Command.KeepAlive(now, o, c.getKeepAlive().getSessionId(), c.getKeepAlive().getKey(),
            List.copyOf(c.getKeepAlive().getUnsettledList()));
      case CLOSE_SESSION:
        return new Command.CloseSession(now, o, c.getCloseSession().getSessionId(), c.getCloseSession().getKey());
      case ABANDON: {
        long upTo = c.getAbandon().getUpToAttempt();
        return new Command.Abandon(now, o, c.getAbandon().getTargetRequestId(), upTo == 0 ? Long.MAX_VALUE : upTo);
      }
      case EXPIRE:
        return new Command.Expire(now, c.getExpire().getMaxItems());
      case REFRESH:
        return new Command.Refresh(now, c.getRefresh().hasCapacity() ? capacity(c.getRefresh().getCapacity()) : null);
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
    } else if (result instanceof Result.Queued) {
      b.setAcquire(AcquireReply.newBuilder().setStatus(AcquireReply.Status.QUEUED));
    } else if (result instanceof Result.NotAcquired n) {
      b.setAcquire(AcquireReply.newBuilder().setStatus(AcquireReply.Status.NOT_ACQUIRED).setName(n.name()));
    } else if (result instanceof Result.Renewed r) {
      b.setRenewed(grant(r.holder(), r.size()));
    } else if (result instanceof Result.Names n) {
      b.setNames(NamesReply.newBuilder().addAllNames(n.names()).setTotal(n.total()).setResumeAfter(n.resumeAfter()));
    } else if (result instanceof Result.SessionState s) {
      b.setSession(SessionReply.newBuilder().setSessionId(s.session().id()).setTtlMs(s.session().ttlMs())
          .setExpiresAtMs(s.session().expiresAtMs()).setKey(s.session().key()).setOwner(s.session().owner())
          .setClientId(s.session().clientId()));
    } else if (result instanceof Result.Abandoned a) {
      b.setAbandoned(AbandonReply.newBuilder().setOutcome(abandonWire(a.outcome())));
    } else {
      b.setDone(true);
    }
    return b.build();
  }

  /** hasp.v1.AbandonResponse.Outcome numbers; NEWER_ATTEMPT (5) never reaches a client. */
  static int abandonWire(Result.AbandonOutcome o) {
    return switch (o) {
      case WAITER_REMOVED -> 1;
      case GRANT_RELEASED -> 2;
      case ALREADY_SETTLED -> 3;
      case NOT_SEEN -> 4;
      case NEWER_ATTEMPT -> 5;
    };
  }

  static Result.AbandonOutcome abandonCore(int wire) {
    return switch (wire) {
      case 1 -> Result.AbandonOutcome.WAITER_REMOVED;
      case 2 -> Result.AbandonOutcome.GRANT_RELEASED;
      case 3 -> Result.AbandonOutcome.ALREADY_SETTLED;
      case 4 -> Result.AbandonOutcome.NOT_SEEN;
      case 5 -> Result.AbandonOutcome.NEWER_ATTEMPT;
      default -> throw new IllegalArgumentException("unknown abandon outcome " + wire);
    };
  }

  /** The inverse of {@link #toReply} for stored outcomes (Queued and Granted outcomes are never stored). */
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
            return new Result.NotAcquired(r.getAcquire().getName());
          default:
            throw new IllegalArgumentException("stored acquire outcome with status " + r.getAcquire().getStatus());
        }
      case RENEWED:
        return new Result.Renewed(holder(r.getRenewed()), r.getRenewed().getSize());
      case NAMES:
        return new Result.Names(List.copyOf(r.getNames().getNamesList()), r.getNames().getTotal(),
            r.getNames().getResumeAfter());
      case SESSION:
        return new Result.SessionState(new Session(r.getSession().getSessionId(), r.getSession().getTtlMs(),
            r.getSession().getExpiresAtMs(), r.getSession().getOwner(), r.getSession().getClientId(),
            r.getSession().getKey()));
      case ABANDONED:
        return new Result.Abandoned(abandonCore(r.getAbandoned().getOutcome()));
      default:
        return Result.DONE;
    }
  }

  public static GrantRecord grant(Holder h, long size) {
    return GrantRecord.newBuilder().setName(h.name()).setKey(h.key()).setToken(h.token()).setSize(size)
        .setLeaseMs(h.leaseMs()).setExpiresAtMs(h.expiresAtMs()).setSessionId(h.sessionId()).setOwner(h.owner())
        .setAcquiredAtMs(h.acquiredAtMs()).setClientId(h.clientId()).setRequestId(h.requestId())
        .setAttempt(h.attempt()).build();
  }

  public static Holder holder(GrantRecord g) {
    return new Holder(g.getName(), g.getKey(), g.getToken(), g.getSessionId(), g.getOwner(), g.getLeaseMs(),
        g.getExpiresAtMs(), g.getAcquiredAtMs(), g.getClientId(), g.getRequestId(), g.getAttempt());
  }

  public static WaiterRecord waiter(Waiter w) {
    return WaiterRecord.newBuilder().setName(w.name()).setSeq(w.seq()).setClientId(w.clientId())
        .setRequestId(w.requestId()).setSessionId(w.sessionId()).setOwner(w.owner()).setLeaseMs(w.leaseMs())
        .setWaitDeadlineMs(w.waitDeadlineMs()).setKey(w.key()).setSize(w.size()).setDetached(w.detached())
        .setThreadId(w.threadId()).setAttempt(w.attempt()).build();
  }

  public static Waiter waiter(WaiterRecord r) {
    return new Waiter(r.getName(), r.getSeq(), r.getClientId(), r.getRequestId(), r.getSessionId(), r.getDetached(),
        r.getThreadId(), r.getAttempt(), r.getOwner(), r.getLeaseMs(), r.getWaitDeadlineMs(), r.getKey(), r.getSize());
  }

  public static SessionRecord session(Session s) {
    return SessionRecord.newBuilder().setId(s.id()).setTtlMs(s.ttlMs()).setExpiresAtMs(s.expiresAtMs())
        .setOwner(s.owner()).setClientId(s.clientId()).setKey(s.key()).build();
  }

  public static Session session(SessionRecord r) {
    return new Session(r.getId(), r.getTtlMs(), r.getExpiresAtMs(), r.getOwner(), r.getClientId(), r.getKey());
  }

  public static ClientRecord client(ClientMarks m) {
    return ClientRecord.newBuilder().setClientId(m.clientId()).setSettledUpTo(m.settledUpTo())
        .setKeptUpTo(m.keptUpTo()).addAllKeptUnsettled(m.keptUnsettled()).setIdleSinceMs(m.idleSinceMs()).build();
  }

  public static ClientMarks client(ClientRecord r) {
    return new ClientMarks(r.getClientId(), r.getSettledUpTo(), r.getKeptUpTo(), List.copyOf(r.getKeptUnsettledList()),
        r.getIdleSinceMs());
  }

  public static CapacityRecord capacity(Capacity c) {
    return CapacityRecord.newBuilder().setLocksMax(c.locksMax()).setHoldersMax(c.holdersMax())
        .setWaitersPerLockMax(c.waitersPerLockMax()).setWaitersMax(c.waitersMax()).setSessionsMax(c.sessionsMax())
        .setOutcomesPerClientMax(c.outcomesPerClientMax()).setSessionlessOutcomesMax(c.sessionlessOutcomesMax())
        .setSessionlessOutcomeRetentionMs(c.sessionlessOutcomeRetentionMs()).build();
  }

  public static Capacity capacity(CapacityRecord r) {
    return new Capacity(r.getLocksMax(), r.getHoldersMax(), r.getWaitersPerLockMax(), r.getWaitersMax(),
        r.getSessionsMax(), r.getOutcomesPerClientMax(), r.getSessionlessOutcomesMax(),
        r.getSessionlessOutcomeRetentionMs());
  }

  public static MetaRecord meta(Meta m, long appliedTerm, long appliedIndex) {
    return MetaRecord.newBuilder().setAppliedIndex(appliedIndex).setAppliedTerm(appliedTerm)
        .setLastToken(m.lastToken()).setNextWaiterSeq(m.nextWaiterSeq()).setLastNowMs(m.lastNowMs())
        .setLastSessionId(m.lastSessionId()).setRefreshedTerm(m.refreshedTerm()).setRefreshedAtMs(m.refreshedAtMs())
        .setCapacity(capacity(m.capacity())).build();
  }

  public static Meta meta(MetaRecord r) {
    return new Meta(r.getLastToken(), Math.max(1, r.getNextWaiterSeq()), r.getLastNowMs(), r.getLastSessionId(),
        r.getRefreshedTerm(), r.getRefreshedAtMs(), r.hasCapacity() ? capacity(r.getCapacity()) : Capacity.DEFAULT);
  }
}
