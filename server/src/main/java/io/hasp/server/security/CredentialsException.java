package io.hasp.server.security;

import java.io.IOException;

/** A certificate, key, CA or tokens file that cannot be used; the message names the file and the key. */
public final class CredentialsException extends IOException {
  public CredentialsException(String message) {
    super(message);
  }

  public CredentialsException(String message, Throwable cause) {
    super(message, cause);
  }
}
