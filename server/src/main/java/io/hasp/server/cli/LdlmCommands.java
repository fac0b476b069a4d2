package io.hasp.server.cli;

import io.hasp.proto.FlushLocksRequest;
import io.hasp.proto.FlushLocksResponse;
import io.hasp.proto.GetLockRequest;
import io.hasp.proto.GetLockResponse;
import io.hasp.proto.HolderInfo;
import io.hasp.proto.ListLocksRequest;
import io.hasp.proto.ListLocksResponse;
import io.hasp.proto.LockSummary;
import io.hasp.proto.UnlockRequest;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code hasp ldlm list} and {@code hasp ldlm unlock NAME [KEY]}: what LDLM's {@code ldlm-lock} admin tool does,
 * through Hasp's API (and its auth; list and an unlock without a key need role admin when auth is on) instead of
 * LDLM's local IPC socket, so they work from anywhere against the whole cluster.
 *
 * <p>One difference: Hasp's API never hands out other clients' keys (a key is what unlocks), so {@code list} shows
 * each hold's fencing token and owner instead of its key, and {@code unlock NAME} without a key releases every
 * holder of NAME (LDLM picks one of them); with a key it releases exactly that hold.
 */
@Command(name = "ldlm", mixinStandardHelpOptions = true,
    description = "LDLM's admin tool (ldlm-lock): list held locks, unlock one.",
    subcommands = {LdlmCommands.ListHeld.class, LdlmCommands.Unlock.class})
public final class LdlmCommands implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = {"Every held lock, one line per holder: {Name: N, Token: T, Size: S, Owner: O}.",
          "LDLM connections' holds are owned by 'ldlm <client address>'."})
  static final class ListHeld extends HaspCli.Base {
    @Override
    public Integer call() {
      List<String> lines = new ArrayList<>();
      List<GetLockResponse> held = new ArrayList<>();
      try (Endpoints endpoints = common.open()) {
        String page = "";
        do {
          String after = page;
          ListLocksResponse r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.listLocks(
              ListLocksRequest.newBuilder().setPageToken(after).setLimit(1000).build()));
          for (LockSummary l : r.getLocksList()) {
            if (l.getHolders() == 0) {
              continue;
            }
            GetLockResponse g = endpoints.call(common.budgetMs(), common.budgetMs(),
                s -> s.getLock(GetLockRequest.newBuilder().setName(l.getName()).build()));
            if (!g.getExists()) {
              continue;
            }
            held.add(g);
            for (HolderInfo h : g.getLock().getHoldersList()) {
              lines.add(String.format("{Name: %s, Token: %d, Size: %d, Owner: %s}", l.getName(), h.getToken(),
                  g.getLock().getSize(), h.getOwner().isEmpty() ? "-" : h.getOwner()));
            }
          }
          page = r.getNextPageToken();
        } while (!page.isEmpty());
      }
      if (common.json) {
        List<String> docs = new ArrayList<>();
        held.forEach(g -> docs.add(HaspCli.Json.of(g.getLock())));
        out().println("{\"locks\":[" + String.join(",", docs) + "]}");
      } else if (lines.isEmpty()) {
        out().println("No locks found");
      } else {
        lines.forEach(out()::println);
      }
      return 0;
    }
  }

  @Command(name = "unlock", mixinStandardHelpOptions = true,
      description = {"Release the hold of NAME with KEY; without KEY, every holder of NAME (admin).",
          "Prints 'Unlocked: true' (exit 0); an unknown lock or key is an error (exit 2)."})
  static final class Unlock extends HaspCli.Base {
    @Parameters(index = "0", description = "Lock name") String name;
    @Parameters(index = "1", arity = "0..1", description = "Key of the hold") String key;

    @Override
    public Integer call() {
      try (Endpoints endpoints = common.open()) {
        if (key != null && !key.isEmpty()) {
          UnlockRequest request = UnlockRequest.newBuilder().setHeader(common.header()).setName(name).setKey(key).build();
          var r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.unlock(request));
          print("Unlocked: " + r.getUnlocked(), r);
          return 0;
        }
        FlushLocksRequest request = FlushLocksRequest.newBuilder().setHeader(common.header()).addNames(name).build();
        FlushLocksResponse r = endpoints.call(common.budgetMs(), common.budgetMs(), s -> s.flushLocks(request));
        if (!r.getReleasedList().contains(name)) {
          throw new io.grpc.StatusRuntimeException(io.grpc.Status.NOT_FOUND.withDescription(
              "LOCK_NOT_FOUND: lock '" + name + "' is not held"), notFound());
        }
        print("Unlocked: true", r);
        return 0;
      }
    }

    private static io.grpc.Metadata notFound() {
      io.grpc.Metadata m = new io.grpc.Metadata();
      m.put(Endpoints.ERROR_CODE, "LOCK_NOT_FOUND");
      return m;
    }
  }
}
