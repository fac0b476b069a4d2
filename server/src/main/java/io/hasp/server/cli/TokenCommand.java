package io.hasp.server.cli;

import io.hasp.server.security.TokenFiles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hasp token NAME ROLE --file TOKENS}: a new bearer token; only its hash is kept in the tokens file. */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = {"Make a bearer token for NAME with ROLE (client or admin) and add its SHA-256 line to the tokens",
        "file (auth.tokens.file; nodes reload it by themselves). The token is printed (or written to --out) once."})
final class TokenCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "Name the token is known by (logs, errors)") String name;
  @Parameters(index = "1", description = "client or admin") String role;

  @Option(names = "--file", required = true, description = "The tokens file to add to (created when missing)")
  Path file;

  @Option(names = "--out", description = "Write the token to this file (owner-only) instead of printing it")
  Path out;

  @Override
  public Integer call() throws Exception {
    String token = TokenFiles.addToken(file, name, role);
    if (out != null) {
      TokenFiles.writePrivate(out, token + "\n");
      System.out.println("token for " + name + " (" + role + ") in " + out);
    } else {
      System.out.println(token);
    }
    return 0;
  }
}
