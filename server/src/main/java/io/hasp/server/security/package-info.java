/**
 * TLS, tokens and roles of a node. {@link io.hasp.server.security.SecurityConfig} checks the {@code tls.*} and
 * {@code auth.*} keys; {@link io.hasp.server.security.NodeSecurity} reads the files, plugs TLS into the API server
 * and the Raft port (Ratis' gRPC server, its peer connections and the forwarding channels), and reloads the files
 * when they change; {@link io.hasp.server.security.AuthInterceptor} authenticates API calls (bearer tokens,
 * certificate roles) and enforces the client role's allow-list. {@link io.hasp.server.security.CertificateIssuer}
 * makes a private CA for {@code hasp certs} with the JDK alone.
 */
package io.hasp.server.security;
