/**
 * Operating a node: Prometheus metrics ({@link io.hasp.server.ops.OpsMetrics}, Ratis' own registries bridged by
 * {@link io.hasp.server.ops.RatisExports}), liveness and readiness ({@link io.hasp.server.ops.Readiness}, served
 * over HTTP by {@link io.hasp.server.ops.OpsHttpServer} and as the standard gRPC health service), request ids in
 * log lines ({@link io.hasp.server.ops.RequestContext}) and the log format ({@link io.hasp.server.ops.LogSetup}).
 * Nothing here changes what a node decides; it only reports it.
 */
package io.hasp.server.ops;
