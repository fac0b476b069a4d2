package io.hasp.server.cli;

import io.hasp.server.NodeConfig;
import java.time.Duration;
import picocli.CommandLine;

/** picocli converter: 500ms, 10s, 2m, 1h or a plain number of milliseconds; negative or malformed is a usage error. */
final class Durations implements CommandLine.ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    try {
      return NodeConfig.parseDuration("duration", value);
    } catch (NodeConfig.ConfigException e) {
      throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (use e.g. 500ms, 10s, 2m)");
    }
  }
}
