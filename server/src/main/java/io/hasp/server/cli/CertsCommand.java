package io.hasp.server.cli;

import io.hasp.server.security.CertificateIssuer;
import io.hasp.server.security.Pem;
import io.hasp.server.security.TokenFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code hasp certs}: a private CA and certificates for a cluster, with the JDK alone. Writes only what is missing
 * in --out, so running it again with more nodes adds their certificates signed by the same CA.
 */
@Command(name = "certs", mixinStandardHelpOptions = true,
    description = {"Make a CA and node and client certificates (PEM; keys PKCS#8, readable by their owner only).",
        "Writes OUT/ca.pem, OUT/ca-key.pem, OUT/NODE.pem + OUT/NODE-key.pem for every --nodes entry (server and",
        "client use: nodes authenticate each other with them), OUT/CLIENT.pem + OUT/CLIENT-key.pem for every",
        "--clients entry (client use, no host names). Existing files are kept; missing ones are made."})
final class CertsCommand implements Callable<Integer> {
  @Option(names = "--out", required = true, description = "Directory to write to")
  Path out;

  @Option(names = "--nodes", split = ",", defaultValue = "n1,n2,n3", description = "Node names (default n1,n2,n3)")
  List<String> nodes = new ArrayList<>();

  @Option(names = "--hosts", split = ",", defaultValue = "127.0.0.1,localhost",
      description = "Host names and IPs every node certificate names (default 127.0.0.1,localhost)")
  List<String> hosts = new ArrayList<>();

  @Option(names = "--clients", split = ",", defaultValue = "client", description = "Client certificate names (CN)")
  List<String> clients = new ArrayList<>();

  @Option(names = "--days", defaultValue = "825", description = "Validity in days (default 825)")
  int days;

  @Override
  public Integer call() throws Exception {
    if (days < 1 || days > 36_500) {
      throw new IllegalArgumentException("--days must be between 1 and 36500");
    }
    for (String n : concat(nodes, clients)) {
      if (!n.matches("[A-Za-z0-9_.-]{1,64}") || n.equals("ca")) {
        throw new IllegalArgumentException("bad certificate name '" + n + "' (letters, digits, _ . - only; not 'ca')");
      }
    }
    Files.createDirectories(out);
    Instant notAfter = Instant.now().plus(Duration.ofDays(days));
    Path caPem = out.resolve("ca.pem");
    Path caKey = out.resolve("ca-key.pem");
    CertificateIssuer.Issued ca;
    if (Files.exists(caPem) && Files.exists(caKey)) {
      ca = new CertificateIssuer.Issued(Pem.certificates("ca", caPem).get(0), Pem.privateKey("ca key", caKey));
    } else {
      ca = CertificateIssuer.newCa("hasp-ca-" + Long.toHexString(System.nanoTime() & 0xffffffL), notAfter);
      write(caPem, caKey, ca);
      System.out.println("wrote " + caPem);
    }
    for (String n : nodes) {
      issue(ca, n, hosts, true, notAfter);
    }
    for (String c : clients) {
      issue(ca, c, List.of(), false, notAfter);
    }
    return 0;
  }

  private void issue(CertificateIssuer.Issued ca, String name, List<String> names, boolean node, Instant notAfter)
      throws Exception {
    Path pem = out.resolve(name + ".pem");
    Path key = out.resolve(name + "-key.pem");
    if (Files.exists(pem) && Files.exists(key)) {
      return;
    }
    write(pem, key, CertificateIssuer.issue(ca, name, names, node, true, notAfter));
    System.out.println("wrote " + pem);
  }

  private static void write(Path pem, Path key, CertificateIssuer.Issued issued) throws java.io.IOException {
    TokenFiles.writePrivate(key, Pem.encode(issued.key()));
    Files.writeString(pem, Pem.encode(List.of(issued.certificate())), StandardCharsets.US_ASCII);
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

}
