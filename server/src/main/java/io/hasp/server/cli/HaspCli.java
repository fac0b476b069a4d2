package io.hasp.server.cli;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ClusterStatusRequest;
import io.hasp.proto.ClusterStatusResponse;
import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.IsLockedRequest;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockGrant;
import io.hasp.proto.LockSummary;
import io.hasp.proto.RenewRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The {@code hasp} command line: run a node, inspect the cluster, take and release locks from scripts.
 *
 * <p>Exit codes: 0 success; 1 not acquired (try-lock, or lock whose --wait ran out); 2 an error (bad
 * arguments, unreachable cluster, or an error code from the server, printed as {@code error: CODE: message});
 * {@code lock NAME -- CMD} exits with CMD's code.
 */
@Command(name = "hasp", mixinStandardHelpOptions = true, version = "hasp 0.1.0",
    description = "Hasp: distributed locks on a Raft cluster.",
    subcommands = {NodeCommand.class, HaspCli.Status.class, LockCommand.class, HaspCli.TryLock.class,
        HaspCli.Unlock.class, HaspCli.Renew.class, HaspCli.IsLocked.class, HaspCli.Get.class, HaspCli.ListCmd.class,
        HaspCli.Flush.class, AdminCommands.MemberCmd.class, AdminCommands.LeaderCmd.class, AdminCommands.Snapshot.class,
        CertsCommand.class, TokenCommand.class, LdlmCommands.class},
    footer = {"", "Exit codes: 0 ok, 1 not acquired / wait timed out, 2 error; lock NAME -- CMD exits with CMD's code.",
        "Endpoints: --endpoints, else HASP_ENDPOINTS, else 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003."})
public final class HaspCli implements Runnable {
  static final int EXIT_NOT_ACQUIRED = 1;
  static final int EXIT_ERROR = 2;

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the CLI with the given streams; returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine cli;
    if (args.length > 0 && args[0].equals("node")) {
      // a node builds only its own command: the model of every other command is ~0.1 s of a node's start
      cli = new CommandLine(new NodeCommand()).setCommandName("hasp node");
      args = java.util.Arrays.copyOfRange(args, 1, args.length);
    } else {
      cli = new CommandLine(new HaspCli());
      cli.addSubcommand(new ProbeCommand()); // container health checks (deploy/compose.yaml)
    }
    cli.setOut(new java.io.PrintWriter(out, true));
    cli.setErr(new java.io.PrintWriter(err, true));
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      Common common = findCommon(commandLine);
      return report(e, common != null && common.json, common != null && common.plaintext, out, err);
    });
    cli.setParameterExceptionHandler((e, args1) -> {
      err.println("error: INVALID_ARGUMENT: " + e.getMessage());
      e.getCommandLine().usage(err);
      return EXIT_ERROR;
    });
    return cli.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  private static Common findCommon(CommandLine commandLine) {
    Object cmd = commandLine.getCommand();
    if (cmd instanceof Base b) {
      return b.common;
    }
    return null;
  }

  /** Prints an error the way scripts expect and returns exit code 2. */
  static int report(Exception e, boolean json, PrintStream out, PrintStream err) {
    return report(e, json, false, out, err);
  }

  /** {@code plaintext}: the command spoke plaintext, so a closed connection may be a TLS port (a hint says so). */
  static int report(Exception e, boolean json, boolean plaintext, PrintStream out, PrintStream err) {
    String code;
    String message;
    if (e instanceof StatusRuntimeException s) {
      String c = s.getTrailers() == null ? null : s.getTrailers().get(Endpoints.ERROR_CODE);
      code = c != null ? c : s.getStatus().getCode().name();
      String d = firstLine(s.getStatus().getDescription());
      message = d == null ? s.getStatus().getCode().name() : d.startsWith(code + ": ") ? d.substring(code.length() + 2) : d;
      if (c == null && s.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE) {
        message = "no endpoint reachable (" + message + transportCause(s) + ")";
        if (plaintext && !refused(s)) {
          message += "; if the cluster speaks TLS, give --tls-ca (or HASP_TLS_CA)";
        }
      }
    } else if (e instanceof IllegalArgumentException) {
      code = "INVALID_ARGUMENT";
      message = e.getMessage();
    } else {
      code = "INTERNAL";
      message = e.toString();
    }
    if (json) {
      out.println("{\"error\":{\"code\":" + Json.quote(code) + ",\"message\":" + Json.quote(message) + "}}");
    } else {
      err.println("error: " + code + ": " + message);
    }
    return EXIT_ERROR;
  }

  static String firstLine(String s) {
    if (s == null) {
      return null;
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** The connection was refused (nothing listens): no TLS hint applies. */
  private static boolean refused(StatusRuntimeException s) {
    for (Throwable t = s.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
      if (t instanceof java.net.ConnectException) {
        return true;
      }
    }
    return false;
  }

  /** What the transport saw under a failure without an answer (e.g. a TLS handshake error), or "". */
  static String transportCause(StatusRuntimeException s) {
    Throwable root = s.getCause();
    boolean tlsError = false;
    while (root != null && root.getCause() != null && root.getCause() != root) {
      tlsError |= root instanceof javax.net.ssl.SSLException;
      root = root.getCause();
    }
    if (root == null) {
      return "";
    }
    tlsError |= root instanceof javax.net.ssl.SSLException || root instanceof java.security.cert.CertificateException;
    return (tlsError ? "; TLS handshake failed: " : "; ") + root.getClass().getSimpleName()
        + (root.getMessage() == null ? "" : ": " + root.getMessage());
  }

  /** Options every client command shares. */
  static final class Common {
    @Option(names = "--endpoints", description = "host:port,... of the cluster's API (default: $HASP_ENDPOINTS or the local cluster)")
    String endpoints;

    @Option(names = "--json", description = "Print one JSON document instead of text")
    boolean json;

    @Option(names = "--timeout", converter = Durations.class, defaultValue = "5s",
        description = "Time budget per call, retries included (default 5s)")
    Duration timeout;

    @Option(names = "--tls-ca", description = "CA certificates (PEM) to verify the nodes with; turns TLS on (default: $HASP_TLS_CA)")
    java.nio.file.Path tlsCa;

    @Option(names = "--tls-cert", description = "Client certificate (PEM) for clusters that require one (default: $HASP_TLS_CERT)")
    java.nio.file.Path tlsCert;

    @Option(names = "--tls-key", description = "Private key (PEM PKCS#8) of --tls-cert (default: $HASP_TLS_KEY)")
    java.nio.file.Path tlsKey;

    @Option(names = "--token", description = "Bearer token (default: $HASP_TOKEN, which other users cannot see in ps)")
    String token;

    /** Set by {@link #open()}: this command speaks plaintext (for the error hint). */
    boolean plaintext;

    private final String clientId = UUID.randomUUID().toString();
    private final AtomicLong requestIds = new AtomicLong();

    Endpoints open() {
      String csv = endpoints != null ? endpoints : System.getenv("HASP_ENDPOINTS");
      if (csv == null || csv.isBlank()) {
        csv = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
      }
      CliSecurity security = security();
      plaintext = !security.tls();
      return new Endpoints(Endpoints.parse(csv), security);
    }

    CliSecurity security() {
      return CliSecurity.of(pathOrEnv(tlsCa, "HASP_TLS_CA"), pathOrEnv(tlsCert, "HASP_TLS_CERT"),
          pathOrEnv(tlsKey, "HASP_TLS_KEY"), token != null ? token : env("HASP_TOKEN"));
    }

    private static java.nio.file.Path pathOrEnv(java.nio.file.Path flag, String variable) {
      String v = env(variable);
      return flag != null ? flag : v == null ? null : java.nio.file.Path.of(v);
    }

    private static String env(String variable) {
      String v = System.getenv(variable);
      return v == null || v.isBlank() ? null : v.trim();
    }

    RequestHeader header() {
      return RequestHeader.newBuilder().setClientId(clientId).setRequestId(requestIds.incrementAndGet()).build();
    }

    long budgetMs() {
      return Math.max(1, timeout.toMillis());
    }
  }

  /** A client command: the shared options plus output helpers. */
  abstract static class Base implements Callable<Integer> {
    @Mixin Common common = new Common();

    PrintStream out() {
      return System.out;
    }

    void print(String text, MessageOrBuilder message) {
      if (common.json) {
        out().println(Json.of(message));
      } else {
        out().println(text);
      }
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "Each node's id, API and HTTP (metrics/health) address, role, term, indexes, pid, TLS, and LDLM "
          + "addresses (gRPC, REST).")
  static final class Status extends Base {
    @Override
    public Integer call() {
      List<String> rows = new ArrayList<>();
      List<String> json = new ArrayList<>();
      String leader = "";
      int up = 0;
      try (Endpoints endpoints = common.open()) {
        rows.add(String.format("%-6s %-21s %-21s %-10s %6s %8s %8s %8s %8s %4s %-21s %s", "NODE", "API", "HTTP", "ROLE",
            "TERM", "COMMIT", "APPLIED", "SNAPSHOT", "PID", "TLS", "LDLM", "LDLM-REST"));
        for (String address : endpoints.addresses()) {
          try {
            ClusterStatusResponse s = io.hasp.proto.HaspGrpc.newBlockingStub(endpoints.channel(address))
                .withDeadlineAfter(2, TimeUnit.SECONDS).clusterStatus(ClusterStatusRequest.getDefaultInstance());
            up++;
            if (!s.getLeaderId().isEmpty()) {
              leader = s.getLeaderId();
            }
            rows.add(String.format("%-6s %-21s %-21s %-10s %6d %8d %8d %8d %8d %4s %-21s %s", s.getNodeId(), address,
                s.getHttpAddress().isEmpty() ? "off" : s.getHttpAddress(), s.getRole(), s.getTerm(), s.getCommitIndex(),
                s.getAppliedIndex(), s.getSnapshotIndex(), s.getPid(), s.getTls() ? "on" : "off",
                s.getLdlmAddress().isEmpty() ? "off" : s.getLdlmAddress(),
                s.getLdlmRestAddress().isEmpty() ? "off" : s.getLdlmRestAddress()));
            json.add(Json.of(s));
          } catch (StatusRuntimeException e) {
            // why it is down matters when TLS or tokens are involved (a handshake or auth failure is not a dead node)
            String why = e.getStatus().getCode() + (e.getStatus().getDescription() == null ? ""
                : ": " + firstLine(e.getStatus().getDescription())) + transportCause(e);
            rows.add(String.format("%-6s %-21s %-21s %-10s %s", "?", address, "?", "DOWN", why));
            json.add("{\"apiAddress\":" + Json.quote(address) + ",\"httpAddress\":\"\",\"ldlmAddress\":\"\","
                + "\"ldlmRestAddress\":\"\",\"role\":\"DOWN\",\"error\":" + Json.quote(why) + "}");
          }
        }
      }
      if (common.json) {
        out().println("{\"leader\":" + Json.quote(leader) + ",\"nodes\":[" + String.join(",", json) + "]}");
      } else {
        rows.forEach(out()::println);
        out().println(leader.isEmpty() ? "leader: none known" : "leader: " + leader);
      }
      return up > 0 ? 0 : EXIT_ERROR;
    }
  }

  @Command(name = "try-lock", mixinStandardHelpOptions = true,
      description = {"Take the lock only if it is free now (never queues). Without a session: give --lease,",
          "or the lock is held until unlock or flush."})
  static final class TryLock extends Base {
    @Parameters(index = "0", description = "Lock name") String name;
    @Option(names = "--size", defaultValue = "1", description = "Lock size (semaphore); default 1") long size;
    @Option(names = "--lease", converter = Durations.class, description = "Lease, e.g. 30s") Duration lease;
    @Option(names = "--owner", defaultValue = "", description = "Label shown in get") String owner;

    @Override
    public Integer call() {
      var request = io.hasp.proto.LockRequest.newBuilder().setHeader(common.header()).setName(name).setSize(size)
          .setOwner(owner.isEmpty() ? LockCommand.defaultOwner() : owner);
      if (lease != null) {
        request.setLeaseMs(lease.toMillis());
      }
      try (Endpoints endpoints = common.open()) {
        // each try is numbered: when a try's call ends unanswered the node abandons only that try, not the next
        var attempts = new java.util.concurrent.atomic.AtomicInteger();
        var r = endpoints.call(common.budgetMs(), common.budgetMs(),
            s -> s.tryLock(request.setAttempt(attempts.incrementAndGet()).build()));
        if (!r.getLocked()) {
          print("not acquired: " + name, r);
          return EXIT_NOT_ACQUIRED;
        }
        if (lease == null && !common.json) {
          System.err.println("warning: no lease: '" + name + "' is held until unlock or flush");
        }
        print(LockCommand.describe(r.getGrant()), r);
        return 0;
      }
    }
  }

  @Command(name = "unlock", mixinStandardHelpOptions = true, description = "Release a hold by its key.")
  static final class Unlock extends Base {
    @Parameters(index = "0", description = "Lock name") String name;
    @Parameters(index = "1", description = "Key printed when the lock was taken") String key;

    @Override
    public Integer call() {
      UnlockRequest request = UnlockRequest.newBuilder().setHeader(common.header()).setName(name).setKey(key).build();
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.unlock(request));
        print("unlocked " + name, r);
        return 0;
      }
    }
  }

  @Command(name = "renew", mixinStandardHelpOptions = true, description = "Set a hold's lease to now + --lease.")
  static final class Renew extends Base {
    @Parameters(index = "0", description = "Lock name") String name;
    @Parameters(index = "1", description = "Key") String key;
    @Option(names = "--lease", required = true, converter = Durations.class, description = "New lease, e.g. 30s")
    Duration lease;

    @Override
    public Integer call() {
      if (lease.isZero()) {
        throw new IllegalArgumentException("--lease must be positive");
      }
      RenewRequest request = RenewRequest.newBuilder().setHeader(common.header()).setName(name).setKey(key)
          .setLeaseMs(lease.toMillis()).build();
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.renew(request));
        print(LockCommand.describe(r.getGrant()), r);
        return 0;
      }
    }
  }

  @Command(name = "is-locked", mixinStandardHelpOptions = true, description = "Print true when the lock has a holder.")
  static final class IsLocked extends Base {
    @Parameters(index = "0", description = "Lock name") String name;

    @Override
    public Integer call() {
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(common.budgetMs(), common.budgetMs(),
            s -> s.isLocked(IsLockedRequest.newBuilder().setName(name).build()));
        print(Boolean.toString(r.getLocked()), r);
        return 0;
      }
    }
  }

  @Command(name = "get", mixinStandardHelpOptions = true, description = "Size, holders (token, owner, lease left) and waiters.")
  static final class Get extends Base {
    @Parameters(index = "0", description = "Lock name") String name;

    @Override
    public Integer call() {
      try (Endpoints endpoints = common.open()) {
        GetLockResponse r = endpoints.call(common.budgetMs(), common.budgetMs(),
            s -> s.getLock(GetLockRequest.newBuilder().setName(name).build()));
        if (!r.getExists()) {
          print(name + ": not held, nobody waiting", r);
          return 0;
        }
        StringBuilder b = new StringBuilder();
        b.append(name).append(": size ").append(r.getLock().getSize()).append(", ")
            .append(r.getLock().getHoldersCount()).append(" holder(s), ").append(r.getLock().getWaiters())
            .append(" waiter(s)");
        for (HolderInfo h : r.getLock().getHoldersList()) {
          b.append("\n  token ").append(h.getToken())
              .append("  owner ").append(h.getOwner().isEmpty() ? "-" : h.getOwner())
              .append("  session ").append(h.getSessionId() == 0 ? "-" : Long.toString(h.getSessionId()))
              .append("  lease ").append(h.getRemainingLeaseMs() < 0 ? "none" : h.getRemainingLeaseMs() + "ms left")
              .append("  since ").append(Instant.ofEpochMilli(h.getAcquiredAtMs()));
        }
        print(b.toString(), r);
        return 0;
      }
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Locks whose name starts with PREFIX (all pages).")
  static final class ListCmd extends Base {
    @Parameters(index = "0", arity = "0..1", defaultValue = "", description = "Name prefix") String prefix;
    @Option(names = "--limit", defaultValue = "100", description = "Page size (1..1000)") int limit;

    @Override
    public Integer call() {
      if (limit < 1 || limit > 1000) {
        throw new IllegalArgumentException("--limit must be between 1 and 1000, got " + limit);
      }
      List<LockSummary> all = new ArrayList<>();
      try (Endpoints endpoints = common.open()) {
        String token = "";
        do {
          String page = token;
          ListLocksResponse r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.listLocks(
              ListLocksRequest.newBuilder().setPrefix(prefix).setPageToken(page).setLimit(limit).build()));
          all.addAll(r.getLocksList());
          token = r.getNextPageToken();
        } while (!token.isEmpty());
      }
      if (common.json) {
        out().println(Json.of(ListLocksResponse.newBuilder().addAllLocks(all).build()));
      } else {
        for (LockSummary l : all) {
          out().printf("%s  size %d  holders %d  waiters %d%n", l.getName(), l.getSize(), l.getHolders(), l.getWaiters());
        }
        out().println(all.size() + " lock(s)");
      }
      return 0;
    }
  }

  @Command(name = "flush", mixinStandardHelpOptions = true,
      description = "Force-release every holder of the named locks (all locks when none is named); waiters stay queued.")
  static final class Flush extends Base {
    @Parameters(arity = "0..*", description = "Lock names") List<String> names = new ArrayList<>();

    @Override
    public Integer call() {
      FlushLocksRequest request = FlushLocksRequest.newBuilder().setHeader(common.header()).addAllNames(names).build();
      try (Endpoints endpoints = common.open()) {
        var r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.flushLocks(request));
        print(r.getReleasedCount() == 0 ? "nothing was held" : "released: " + String.join(" ", r.getReleasedList()), r);
        return 0;
      }
    }
  }

  /** JSON output: protobuf messages through JsonFormat, one line each. */
  /** JSON string quoting, shared with the chaos harness's history files. */
  public static final class Json {
    private Json() {}

    static String of(MessageOrBuilder m) {
      try {
        return JsonFormat.printer().omittingInsignificantWhitespace().includingDefaultValueFields().print(m);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
    }

    public static String quote(String s) {
      StringBuilder b = new StringBuilder("\"");
      for (char c : s.toCharArray()) {
        switch (c) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          case '\n' -> b.append("\\n");
          case '\r' -> b.append("\\r");
          case '\t' -> b.append("\\t");
          default -> {
            if (c < 0x20) {
              b.append(String.format("\\u%04x", (int) c));
            } else {
              b.append(c);
            }
          }
        }
      }
      return b.append('"').toString();
    }
  }

  static String describeGrant(LockGrant g) {
    return LockCommand.describe(g);
  }
}
