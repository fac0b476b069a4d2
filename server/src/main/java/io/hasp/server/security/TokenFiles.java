package io.hasp.server.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Base64;

/** Writing the files of {@link TokenTable} and private PEM files ({@code hasp token}, {@code hasp certs}). */
public final class TokenFiles {
  private TokenFiles() {}

  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * Makes a new random token (256 bits), appends its hash line for {@code name} with {@code role} to the tokens
   * file (created readable by its owner only), and returns the token, which is stored nowhere else.
   */
  public static String addToken(Path tokensFile, String name, String role) throws IOException {
    Role r = Role.parse(role);
    if (r == null) {
      throw new IllegalArgumentException("role must be client or admin, got '" + role + "'");
    }
    if (!name.matches("[A-Za-z0-9_.@:-]{1,128}")) {
      throw new IllegalArgumentException("bad token name '" + name + "' (letters, digits, _ . @ : - only)");
    }
    if (Files.exists(tokensFile)) {
      for (String line : Files.readAllLines(tokensFile, StandardCharsets.UTF_8)) {
        String[] parts = line.trim().split("\\s+");
        if (!line.trim().startsWith("#") && parts.length == 3 && parts[1].equals(name)) {
          throw new IllegalArgumentException("the tokens file " + tokensFile + " already has a token named '" + name + "'");
        }
      }
    } else {
      writePrivate(tokensFile, "# hasp tokens: <sha256 hex of the token> <name> <role: client|admin>\n");
    }
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = "hasp_" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    Files.writeString(tokensFile, TokenTable.line(token, name, r) + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);
    TokenTable.read(tokensFile); // what was written must load
    return token;
  }

  /** Writes a file that only its owner may read (where the file system has POSIX permissions). */
  public static void writePrivate(Path file, String content) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    Files.deleteIfExists(file);
    try {
      Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
          java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(file);
    }
    Files.writeString(file, content, StandardCharsets.UTF_8);
  }
}
