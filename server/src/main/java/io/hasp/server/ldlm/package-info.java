/**
 * LDLM wire compatibility: every node serves LDLM's gRPC service (package {@code ldlm}, service {@code LDLM}:
 * Lock, TryLock, Unlock, Renew and the older name RefreshLock) and, optionally, its REST API, so that LDLM's
 * unchanged clients gain a replicated lock service. Nothing here keeps lock state: every call is mapped onto the
 * node's own replicated operations ({@link io.hasp.server.LockOps}: the same command validation, the same
 * group-committed path through the Raft leader, the same waits as Hasp's API), never through a network loopback
 * and never through the Java client.
 *
 * <h2>What maps to what</h2>
 *
 * <ul>
 *   <li><b>A connection is a Hasp session.</b> LDLM releases a client's locks when its connection ends; here an LDLM
 *       connection ({@link LdlmConnections}, a transport filter) becomes a Hasp client with its own client id and
 *       request ids, and its first lock opens a Hasp session (TTL {@code ldlm.session.ttl}) that its holds and
 *       waiters are tied to. The node keeps the session alive while the connection lives and closes it through the
 *       log when the connection ends: its locks are released and its waiters removed in one replicated entry, so the
 *       next waiter in the cluster is granted at once. When the node dies, the leader expires the session after its
 *       TTL. With {@code no_clear_on_disconnect} a hold is detached from the session once granted (only the wait is
 *       tied to it), so it outlives the connection and ends by its timeout or an unlock.
 *   <li><b>Lock / TryLock</b> are Hasp acquires in that session: granted by the leader in FIFO order, with a fencing
 *       token (the key LDLM returns is the hold's key; the token is readable through Hasp's GetLock), the lock
 *       timeout as the hold's lease, the wait timeout as the waiter's. A waiting Lock holds no thread: it is a future
 *       completed when this node applies the grant (every node applies every entry, so a follower learns of it
 *       itself). If the node loses its leader meanwhile, the same request (same id) is sent again and re-attaches to
 *       its place. A call that ends unanswered (deadline, cancel, disconnect) is abandoned: its waiter is removed, or
 *       the grant it won in the race released.
 *   <li><b>Unlock / Renew</b> are Hasp releases and renews by key; a lock taken without a timeout cannot be renewed.
 *   <li><b>Retries</b> inside the cluster (a batch re-sent to a new leader, a wait re-sent after a cut-off) carry the
 *       request's id and are deduplicated by the replicated state.
 *   <li><b>Errors</b>: one table, {@link LdlmErrors}: lock-level failures inside the response with LDLM's codes and
 *       gRPC status OK; authentication as UNAUTHENTICATED ("missing credentials" / "invalid credentials"); a node that
 *       cannot reach a leader as UNAVAILABLE.
 *   <li><b>Auth and TLS</b> ({@link LdlmAuth}): LDLM's password ({@code authorization} metadata, REST Basic auth),
 *       or, with Hasp's auth on, a Hasp token as that password or a certificate with a role. TLS is the node's own
 *       ({@code tls.*}, which LDLM's {@code --tls_cert}, {@code --tls_key} and {@code --client_ca} set).
 *   <li><b>REST</b> ({@link LdlmRest}): a REST session is a Hasp session whose TTL is the REST session timeout;
 *       each request keeps it alive, so the cookie works on any node and outlives the node that issued it.
 * </ul>
 *
 * Settings: {@link LdlmConfig} (keys {@code ldlm.*}, and LDLM's own flags and {@code LDLM_*} variables as aliases).
 */
package io.hasp.server.ldlm;
