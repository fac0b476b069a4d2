package io.hasp.tests;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Free ports on 127.0.0.1 for the test clusters; all held open together while chosen, so they differ. */
public final class FreePorts {
  private FreePorts() {}

  public static int[] loopback(int count) throws IOException {
    int[] ports = new int[count];
    List<ServerSocket> open = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        open.add(s);
        ports[i] = s.getLocalPort();
      }
    } finally {
      for (ServerSocket s : open) {
        s.close();
      }
    }
    return ports;
  }
}
