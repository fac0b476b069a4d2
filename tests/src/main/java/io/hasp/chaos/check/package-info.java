/**
 * Checkers for recorded histories of lock operations (the chaos harness's verdicts). A history is a list of
 * {@link io.hasp.chaos.check.Op}s: an invocation time, a completion time and an outcome (ok, fail, or
 * unknown when the client could not tell whether the operation took effect).
 */
package io.hasp.chaos.check;
