/**
 * A Hasp node: configuration ({@link io.hasp.server.NodeConfig}), the Ratis server and the way commands reach
 * the leader ({@link io.hasp.server.Replicator}), the public gRPC API ({@link io.hasp.server.HaspService}),
 * calls waiting for a grant ({@link io.hasp.server.Waits}), the leader-only timer that proposes expiries
 * ({@link io.hasp.server.LeaderTicker}) and the error table at the edge ({@link io.hasp.server.Errors}).
 */
package io.hasp.server;
