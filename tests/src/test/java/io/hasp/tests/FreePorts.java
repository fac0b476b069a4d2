package io.hasp.tests;

import io.hasp.chaos.cluster.LocalBackend;
import java.io.IOException;
import java.net.InetAddress;

/** Free ports on 127.0.0.1 for the test clusters; all held open together while chosen, so they differ. */
public final class FreePorts {
  private FreePorts() {}

  public static int[] loopback(int count) throws IOException {
    return LocalBackend.freePorts(InetAddress.getLoopbackAddress(), count);
  }
}
