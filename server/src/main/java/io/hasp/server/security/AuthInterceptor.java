package io.hasp.server.security;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import io.hasp.proto.ErrorCode;
import io.hasp.proto.HaspGrpc;
import io.hasp.server.Errors;
import io.hasp.server.Errors.HaspError;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Set;
import java.util.function.Supplier;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Authentication and roles on the API port, for every service on it. A call is authenticated by its
 * {@code authorization: Bearer <token>} metadata (looked up in {@link TokenTable}) or, without that metadata, by
 * its verified client certificate when {@link CertRoles} gives it a role. Role {@code client} may call only the
 * methods of {@link #CLIENT_METHODS} (an allow-list, so a method or service added later is admin-only until it is
 * put there); {@code admin} may call everything. The gRPC health service needs no credentials (probes send none). Failures end the call with UNAUTHENTICATED or PERMISSION_DENIED
 * and the {@code hasp-error-code} trailer; no message ever repeats a token.
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AuthInterceptor.class);
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** What role {@code client} may call: locks, sessions, reads of single locks, abandon, cluster status. */
  static final Set<String> CLIENT_METHODS = Set.of(
      HaspGrpc.getLockMethod().getFullMethodName(),
      HaspGrpc.getTryLockMethod().getFullMethodName(),
      HaspGrpc.getUnlockMethod().getFullMethodName(),
      HaspGrpc.getRenewMethod().getFullMethodName(),
      HaspGrpc.getIsLockedMethod().getFullMethodName(),
      HaspGrpc.getGetLockMethod().getFullMethodName(),
      HaspGrpc.getOpenSessionMethod().getFullMethodName(),
      HaspGrpc.getKeepAliveMethod().getFullMethodName(),
      HaspGrpc.getCloseSessionMethod().getFullMethodName(),
      HaspGrpc.getAbandonMethod().getFullMethodName(),
      HaspGrpc.getClusterStatusMethod().getFullMethodName(),
      // the stream carries only the calls above (CallStream has no frame for ListLocks or FlushLocks)
      HaspGrpc.getCallsMethod().getFullMethodName());

  /** Services anyone may call without credentials: the standard health service (it tells only SERVING or not). */
  static final Set<String> OPEN_SERVICES = Set.of(io.grpc.health.v1.HealthGrpc.SERVICE_NAME);

  /** Who is calling. */
  record Caller(String name, Role role, String how) {}

  private final Supplier<TokenTable> tokens;
  private final CertRoles certRoles;

  AuthInterceptor(Supplier<TokenTable> tokens, CertRoles certRoles) {
    this.tokens = tokens;
    this.certRoles = certRoles;
  }

  /** True when {@code role} may call the method with this full name. */
  static boolean allowed(Role role, String fullMethodName) {
    return role == Role.ADMIN || CLIENT_METHODS.contains(fullMethodName);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers); // probes (kubelet's gRPC probe, load balancers) send no credentials
    }
    Caller caller;
    try {
      caller = authenticate(headers, call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    } catch (HaspError e) {
      return refuse(call, e);
    }
    if (!allowed(caller.role(), method)) {
      LOG.info("refused {} to {} ({}, role {})", method, caller.name(), caller.how(), caller.role().label());
      return refuse(call, new HaspError(ErrorCode.PERMISSION_DENIED, method + " needs role admin; "
          + caller.how() + " '" + caller.name() + "' has role " + caller.role().label()));
    }
    return next.startCall(call, headers);
  }

  Caller authenticate(Metadata headers, SSLSession ssl) {
    String authorization = headers.get(AUTHORIZATION);
    if (authorization != null) {
      String a = authorization.trim();
      if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7) || a.substring(7).isBlank()) {
        throw new HaspError(ErrorCode.UNAUTHENTICATED,
            "the authorization metadata must be 'Bearer <token>' (its value is not repeated here)");
      }
      TokenTable.Entry e = tokens.get().find(a.substring(7).trim());
      if (e == null) {
        throw new HaspError(ErrorCode.UNAUTHENTICATED, "unknown bearer token (not in this node's auth.tokens.file)");
      }
      return new Caller(e.name(), e.role(), "token");
    }
    X509Certificate cert = peerCertificate(ssl);
    if (cert != null) {
      Role r = certRoles.roleOf(cert);
      String cn = CertRoles.commonName(cert);
      if (r != null) {
        return new Caller(cn == null ? cert.getSubjectX500Principal().getName() : cn, r, "certificate");
      }
      throw new HaspError(ErrorCode.UNAUTHENTICATED, "no bearer token, and the client certificate (CN="
          + cn + ") has no role in auth.cert.roles; send authorization: Bearer <token>");
    }
    throw new HaspError(ErrorCode.UNAUTHENTICATED,
        "this cluster needs a bearer token: send authorization: Bearer <token> (CLI: --token or HASP_TOKEN)");
  }

  private static X509Certificate peerCertificate(SSLSession ssl) {
    if (ssl == null) {
      return null;
    }
    try {
      Certificate[] chain = ssl.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, HaspError e) {
    StatusRuntimeException s = Errors.toStatus(e);
    call.close(s.getStatus(), s.getTrailers());
    return new ServerCall.Listener<>() {};
  }
}
