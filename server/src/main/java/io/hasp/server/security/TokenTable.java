package io.hasp.server.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The bearer tokens a node accepts, read from {@code auth.tokens.file}: one token a line as
 * {@code <sha256 hex of the token> <name> <role>}, role {@code client} or {@code admin}; blank lines and lines
 * starting with {@code #} are ignored. Only hashes are stored, so the file reveals no token. Lookups hash the
 * presented token and compare it with every entry in constant time, so timing tells nothing about which bytes
 * matched.
 */
final class TokenTable {
  /** One accepted token: its hash, the name it is known by (logs, errors), and its role. */
  record Entry(byte[] sha256, String name, Role role) {}

  private final List<Entry> entries;

  private TokenTable(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  static final TokenTable EMPTY = new TokenTable(List.of());

  /** Reads and checks the file; the exception names the file and the line. */
  static TokenTable read(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CredentialsException("auth.tokens.file " + file + ": cannot read it (" + e.getMessage() + ")", e);
    }
    List<Entry> out = new ArrayList<>();
    Set<String> hashes = new HashSet<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = "auth.tokens.file " + file + " line " + (i + 1);
      String[] parts = line.split("\\s+");
      if (parts.length != 3) {
        throw new CredentialsException(where + ": expected '<sha256 hex> <name> <role>'");
      }
      String hex = parts[0].toLowerCase(java.util.Locale.ROOT);
      if (!hex.matches("[0-9a-f]{64}")) {
        throw new CredentialsException(where + ": the first field must be 64 hex digits (the token's SHA-256)");
      }
      if (!parts[1].matches("[A-Za-z0-9_.@:-]{1,128}")) {
        throw new CredentialsException(where + ": bad name '" + parts[1] + "' (letters, digits, _ . @ : - only)");
      }
      Role role = Role.parse(parts[2]);
      if (role == null) {
        throw new CredentialsException(where + ": role must be client or admin, got '" + parts[2] + "'");
      }
      if (!hashes.add(hex)) {
        throw new CredentialsException(where + ": the same token hash appears twice");
      }
      if (!names.add(parts[1])) {
        throw new CredentialsException(where + ": the name '" + parts[1] + "' appears twice");
      }
      out.add(new Entry(HexFormat.of().parseHex(hex), parts[1], role));
    }
    return new TokenTable(out);
  }

  /** The entry of this token, or null. Every entry is compared, each in constant time. */
  Entry find(String token) {
    byte[] h = sha256(token);
    Entry found = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(h, e.sha256()) & found == null) {
        found = e;
      }
    }
    return found;
  }

  int size() {
    return entries.size();
  }

  /** SHA-256 of the token's UTF-8 bytes. */
  static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The line to put in a tokens file for this token. */
  static String line(String token, String name, Role role) {
    return HexFormat.of().formatHex(sha256(token)) + " " + name + " " + role.label();
  }
}
