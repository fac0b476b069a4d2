package io.hasp.statemachine.core;

import java.nio.charset.StandardCharsets;

/** Checks of command fields; each returns null when the value is valid, else the failure to answer. */
public final class Validate {
  private Validate() {}

  /** 1..512 UTF-8 bytes, no control characters, no unpaired surrogates. */
  public static Result.Failure name(String name) {
    if (name == null || name.isEmpty()) {
      return invalid("lock name must not be empty");
    }
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > Limits.LOCK_NAME_BYTES_MAX) {
      return invalid("lock name is " + bytes + " bytes; at most " + Limits.LOCK_NAME_BYTES_MAX + " UTF-8 bytes allowed");
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        return invalid("lock name must not contain control characters (found U+"
            + String.format("%04X", (int) name.charAt(i)) + " at " + i + ")");
      }
    }
    if (!wellFormed(name)) {
      return invalid("lock name is not valid UTF-8 (unpaired surrogate)");
    }
    return null;
  }

  static Result.Failure origin(Origin o) {
    if (o.clientId().getBytes(StandardCharsets.UTF_8).length > Limits.CLIENT_ID_BYTES_MAX) {
      return invalid("client_id is longer than " + Limits.CLIENT_ID_BYTES_MAX + " bytes");
    }
    if (o.requestId() < 0) {
      return invalid("request_id must not be negative");
    }
    if (o.settledUpTo() < 0) {
      return invalid("settled_up_to must not be negative");
    }
    return null;
  }

  static Result.Failure owner(String owner) {
    if (owner.getBytes(StandardCharsets.UTF_8).length > Limits.OWNER_BYTES_MAX) {
      return invalid("owner is longer than " + Limits.OWNER_BYTES_MAX + " bytes");
    }
    return null;
  }

  static Result.Failure key(String key) {
    if (key.isEmpty() || key.getBytes(StandardCharsets.UTF_8).length > Limits.KEY_BYTES_MAX) {
      return invalid("key must be 1 to " + Limits.KEY_BYTES_MAX + " bytes");
    }
    return null;
  }

  static Result.Failure sessionKey(String key, boolean required) {
    if (required && key.isEmpty()) {
      return invalid("session_key must be set with a session_id");
    }
    if (key.getBytes(StandardCharsets.UTF_8).length > Limits.SESSION_KEY_BYTES_MAX) {
      return invalid("session_key is longer than " + Limits.SESSION_KEY_BYTES_MAX + " bytes");
    }
    return null;
  }

  static Result.Failure invalid(String message) {
    return Result.fail(ErrorCode.INVALID_ARGUMENT, message);
  }

  @SafeVarargs
  static <T> T firstNonNull(T... values) {
    for (T v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  private static boolean wellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (Character.isHighSurrogate(ch)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
          return false;
        }
        i++;
      } else if (Character.isLowSurrogate(ch)) {
        return false;
      }
    }
    return true;
  }
}
