package io.hasp.server.cli;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.hasp.proto.HaspGrpc;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The CLI's way to the cluster: tries the endpoints in order, moves on when one is unreachable, follows a
 * NOT_LEADER hint, and gives up when the time budget is spent. The caller builds the request once, so a retry
 * carries the same request id and is applied at most once.
 */
final class Endpoints implements AutoCloseable {
  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> LEADER = Metadata.Key.of("hasp-leader", Metadata.ASCII_STRING_MARSHALLER);

  private final List<String> addresses;
  private final Map<String, ManagedChannel> channels = new LinkedHashMap<>();
  private final CliSecurity security;
  private int preferred;

  Endpoints(List<String> addresses) {
    this(addresses, CliSecurity.PLAINTEXT);
  }

  Endpoints(List<String> addresses, CliSecurity security) {
    this.security = security;
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("no endpoints given");
    }
    this.addresses = new ArrayList<>(addresses);
  }

  /** Parses "host:port,host:port"; rejects empty entries and bad ports. */
  static List<String> parse(String csv) {
    List<String> out = new ArrayList<>();
    for (String part : csv.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int colon = p.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("endpoint '" + p + "' is not host:port");
      }
      try {
        int port = Integer.parseInt(p.substring(colon + 1));
        if (port < 1 || port > 65535) {
          throw new IllegalArgumentException("endpoint '" + p + "' has a port out of range");
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("endpoint '" + p + "' has a port that is not a number");
      }
      out.add(p);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no endpoints given");
    }
    return out;
  }

  boolean tls() {
    return security.tls();
  }

  List<String> addresses() {
    return List.copyOf(addresses);
  }

  synchronized ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> security.apply(NettyChannelBuilder.forTarget(a))
        .keepAliveTime(10, TimeUnit.SECONDS).keepAliveTimeout(5, TimeUnit.SECONDS).build());
  }

  /** A budget that never runs out (a Lock that waits forever). */
  static final long FOREVER = -1;

  /**
   * Runs {@code call} against the endpoints until it answers. {@code budgetMs} bounds the whole attempt
   * (retries included; {@link #FOREVER} = no bound); {@code perCallMs} is the deadline of one try (0 = none).
   */
  <T> T call(long budgetMs, long perCallMs, Function<HaspGrpc.HaspBlockingStub, T> call) {
    return call(budgetMs, perCallMs, HaspGrpc::newBlockingStub, call);
  }

  /** {@link #call(long, long, Function)} with another service's stubs (e.g. the admin service). */
  <S extends io.grpc.stub.AbstractStub<S>, T> T call(long budgetMs, long perCallMs, Function<io.grpc.Channel, S> stubs,
      Function<S, T> call) {
    boolean forever = budgetMs == FOREVER;
    long start = System.nanoTime();
    // elapsed time is compared, never a sum that could overflow
    long budgetNs = forever ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(Math.max(0, budgetMs));
    StatusRuntimeException last = null;
    String next = null;
    for (int attempt = 0; ; attempt++) {
      String address = next != null ? next : addresses.get((preferred + attempt) % addresses.size());
      next = null;
      S stub = stubs.apply(channel(address));
      if (perCallMs > 0) {
        stub = stub.withDeadlineAfter(perCallMs, TimeUnit.MILLISECONDS);
      }
      try {
        T result = call.apply(stub);
        preferred = addresses.indexOf(address) < 0 ? preferred : addresses.indexOf(address);
        return result;
      } catch (StatusRuntimeException e) {
        last = e;
        String code = e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE);
        boolean transport = code == null && (e.getStatus().getCode() == Status.Code.UNAVAILABLE
            || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED);
        boolean retryable = transport || "NOT_LEADER".equals(code) || "NO_QUORUM".equals(code);
        if (!retryable || (!forever && System.nanoTime() - start > budgetNs)) {
          throw e;
        }
        if ("NOT_LEADER".equals(code) && e.getTrailers().get(LEADER) != null) {
          next = e.getTrailers().get(LEADER);
        }
        if (attempt % addresses.size() == addresses.size() - 1) {
          sleep(Math.min(500, 50L << Math.min(4, attempt / addresses.size())));
        }
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
    }
  }

  @Override
  public synchronized void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
    for (ManagedChannel c : channels.values()) {
      try {
        c.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
