package io.hasp.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Runs one Hasp node in the foreground (owned by the server core; filled in with the node). */
@Command(name = "node", description = "Run a Hasp node in the foreground.")
public final class NodeCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    throw new UnsupportedOperationException("node command not wired yet");
  }
}
