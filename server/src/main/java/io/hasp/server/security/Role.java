package io.hasp.server.security;

import java.util.Locale;

/** What a caller of the API port may do: {@code client} (locks, sessions, reads) or {@code admin} (everything). */
public enum Role {
  CLIENT,
  ADMIN;

  /** {@code client} or {@code admin} (any case); null otherwise. */
  static Role parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "client" -> CLIENT;
      case "admin" -> ADMIN;
      default -> null;
    };
  }

  String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
