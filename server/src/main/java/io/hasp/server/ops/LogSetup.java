package io.hasp.server.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Applies {@code log.format} and {@code log.level} to the process's Logback configuration (logback.xml: one
 * text line per event on stderr), and routes java.util.logging (grpc-java's) into it. {@code json} replaces the console encoder with Logback's own
 * {@link JsonEncoder}: one object per line with {@code timestamp} (epoch ms), {@code level}, {@code threadName},
 * {@code loggerName}, {@code formattedMessage}, {@code mdc} (e.g. {@code {"request":"client/42"}}) and
 * {@code throwable} when there is one. The level applies to Hasp's own loggers ({@code io.hasp}); Ratis and
 * gRPC keep the quieter levels of logback.xml.
 *
 * <p>For the process that runs a node ({@code hasp node}); a node embedded in another program leaves that
 * program's logging alone. Without Logback as the SLF4J binding it does nothing.
 */
public final class LogSetup {
  static final String APPENDER = "console";

  private LogSetup() {}

  /** @return false when Logback is not the binding (nothing was changed) */
  public static boolean apply(String format, String level) {
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof LoggerContext context)) {
      return false;
    }
    // grpc-java logs through java.util.logging: into the same appender, one line (or object) per event
    if (!org.slf4j.bridge.SLF4JBridgeHandler.isInstalled()) {
      org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
      org.slf4j.bridge.SLF4JBridgeHandler.install();
    }
    context.getLogger("io.hasp").setLevel(Level.toLevel(level, Level.INFO));
    if (format.equals("json")) {
      Appender<ILoggingEvent> a = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender(APPENDER);
      if (a instanceof OutputStreamAppender<ILoggingEvent> out) {
        JsonEncoder json = new JsonEncoder();
        json.setContext(context);
        json.setWithSequenceNumber(false);
        json.setWithNanoseconds(false);
        json.setWithContext(false);
        json.setWithMarkers(false);
        json.setWithKVPList(false);
        json.setWithMessage(false);
        json.setWithArguments(false);
        json.setWithFormattedMessage(true);
        json.start();
        out.stop();
        out.setEncoder(json);
        out.start();
      }
    }
    return true;
  }
}
