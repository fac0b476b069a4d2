package io.hasp.statemachine.core;

import java.util.List;

/**
 * What the table keeps of one client besides its outcomes: how far its requests are settled. A request id
 * {@code r} is settled when {@code r <= settledUpTo}, or when {@code r <= keptUpTo} and {@code r} is not in
 * {@code keptUnsettled} (the precise mark of the client's last keep-alive).
 *
 * @param idleSinceMs for a client with no live session and no outcome left: since when it is idle (its marks
 *     are forgotten after the sessionless retention); -1 otherwise
 */
public record ClientMarks(String clientId, long settledUpTo, long keptUpTo, List<Long> keptUnsettled,
    long idleSinceMs) {}
