/**
 * The lock table: a pure, deterministic model of every lock, holder, waiter, session and deduplicated
 * request outcome. No Ratis, RocksDB, protobuf or gRPC types and no clock reads live here: commands carry
 * the proposing leader's wall-clock time ({@code nowMs}) and the Raft log index, and every replica that
 * applies the same commands in the same order reaches the same state.
 *
 * <p>Entry point: {@link io.hasp.statemachine.core.LockTable#apply}. Outcomes are values
 * ({@link io.hasp.statemachine.core.Result}); an exception from this package is a bug.
 */
package io.hasp.statemachine.core;
