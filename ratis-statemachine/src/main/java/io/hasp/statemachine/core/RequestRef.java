package io.hasp.statemachine.core;

/** One request of one client: the key of waiters, holders and outcomes by request. */
record RequestRef(String clientId, long requestId) {}
