package io.hasp.tests;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.LockRequest;
import io.hasp.proto.RequestHeader;
import io.hasp.proto.UnlockRequest;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Request builders for one logical client (its own client id, increasing request ids) and error assertions. */
public final class Rpc {
  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("hasp-error-code", Metadata.ASCII_STRING_MARSHALLER);

  private final String clientId = UUID.randomUUID().toString();
  private final AtomicLong requestIds = new AtomicLong();

  public RequestHeader header() {
    return RequestHeader.newBuilder().setClientId(clientId).setRequestId(requestIds.incrementAndGet()).build();
  }

  public LockRequest.Builder lock(String name) {
    return LockRequest.newBuilder().setHeader(header()).setName(name);
  }

  public UnlockRequest unlock(String name, String key) {
    return UnlockRequest.newBuilder().setHeader(header()).setName(name).setKey(key).build();
  }

  /** Asserts the call fails with this gRPC code and hasp-error-code; returns the status description. */
  public static String assertError(Status.Code grpc, String haspCode, Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(grpc, e.getStatus().getCode(), () -> "status of " + e);
    assertEquals(haspCode, e.getTrailers() == null ? null : e.getTrailers().get(ERROR_CODE), () -> "code of " + e);
    return e.getStatus().getDescription();
  }
}
