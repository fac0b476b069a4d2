package io.hasp.server;

import io.hasp.server.NodeConfig.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A node's identity and peers as a Kubernetes StatefulSet gives them: the pod {@code NAME-ORDINAL} is node
 * {@code NAME-ORDINAL}, and member {@code i} (for every ordinal below {@code statefulset.replicas}) is reached at
 * {@code NAME-i.SERVICE.NAMESPACE.svc.CLUSTER_DOMAIN}, the DNS name the headless Service gives that pod.
 *
 * <p>Contract: with {@code statefulset.name} empty nothing happens. Otherwise {@link #resolve} sets {@code node.id}
 * and {@code peers} (which must then not be set as well), and sets {@code join=true} for a pod whose ordinal is
 * {@code >= statefulset.replicas} (a scale-up: it waits, outside the group and never campaigning, until
 * {@code member add} adds it, and it is in its own {@code peers} so its addresses are known). The {@code statefulset.*} keys are removed from the
 * values either way: they are inputs only. The pod name is {@code statefulset.pod}, else the environment's
 * {@code HOSTNAME}, else the kernel's host name (a StatefulSet pod's host name is its pod name).
 *
 * <p>Every member's API and Raft ports are the same ({@code statefulset.api.port}, {@code statefulset.raft.port}),
 * so {@code api.address}/{@code raft.address} follow from this pod's own entry, and the HTTP port from those.
 */
public final class StatefulSetPeers {
  /** Members of a Raft group are few; a larger count is a typo, not a cluster. */
  static final int REPLICAS_MAX = 15;

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern DOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*");

  private StatefulSetPeers() {}

  /** The keys this class reads, with their defaults ("" = off for the name, required once the name is set). */
  static void addDefaults(Map<String, String> keys) {
    keys.put("statefulset.name", "");
    keys.put("statefulset.service", "");
    keys.put("statefulset.replicas", "");
    keys.put("statefulset.namespace", "default");
    keys.put("statefulset.cluster.domain", "cluster.local");
    keys.put("statefulset.api.port", "7000");
    keys.put("statefulset.raft.port", "7100");
    keys.put("statefulset.pod", "");
  }

  /** Derives node.id, peers (and join for a scale-up pod) in {@code values}, then drops the statefulset.* keys. */
  static void resolve(Map<String, String> values, Map<String, String> env) {
    String name = values.getOrDefault("statefulset.name", "");
    try {
      if (!name.isEmpty()) {
        derive(values, env, name);
      }
    } finally {
      values.keySet().removeIf(k -> k.startsWith("statefulset."));
    }
  }

  private static void derive(Map<String, String> v, Map<String, String> env, String name) {
    label("statefulset.name", name);
    for (String derived : List.of("node.id", "peers")) {
      if (!v.getOrDefault(derived, "").isEmpty()) {
        throw new ConfigException(derived + " is derived from the pod name when statefulset.name is set; "
            + "remove " + derived + " (or statefulset.name)");
      }
    }
    String service = required(v, "statefulset.service");
    label("statefulset.service", service);
    String namespace = v.get("statefulset.namespace");
    label("statefulset.namespace", namespace);
    String domain = v.get("statefulset.cluster.domain");
    if (!DOMAIN.matcher(domain).matches()) {
      throw new ConfigException("statefulset.cluster.domain: expected a DNS domain like cluster.local, got '" + domain + "'");
    }
    int replicas = number("statefulset.replicas", required(v, "statefulset.replicas"), 1, REPLICAS_MAX);
    int apiPort = number("statefulset.api.port", v.get("statefulset.api.port"), 1, 65535);
    int raftPort = number("statefulset.raft.port", v.get("statefulset.raft.port"), 1, 65535);
    if (apiPort == raftPort) {
      throw new ConfigException("statefulset.api.port and statefulset.raft.port are both " + apiPort);
    }
    String pod = podName(v.get("statefulset.pod"), env);
    Matcher m = Pattern.compile(Pattern.quote(name) + "-(0|[1-9][0-9]{0,5})").matcher(pod);
    if (!m.matches()) {
      throw new ConfigException("statefulset.pod: the pod name '" + pod + "' is not " + name
          + "-ORDINAL (statefulset.name is " + name + "; the pod name comes from statefulset.pod, HOSTNAME or the "
          + "host name)");
    }
    int ordinal = Integer.parseInt(m.group(1));
    String suffix = "." + service + "." + namespace + ".svc." + domain;
    List<String> entries = new ArrayList<>();
    for (int i = 0; i < Math.max(replicas, ordinal + 1); i++) {
      if (i < replicas || i == ordinal) {
        String host = name + "-" + i + suffix;
        entries.add(name + "-" + i + "=" + host + ":" + raftPort + "/" + host + ":" + apiPort);
      }
    }
    v.put("node.id", pod);
    v.put("peers", String.join(",", entries));
    if (ordinal >= replicas) {
      v.put("join", "true");
    }
  }

  /** The pod's name: the key, else HOSTNAME, else the kernel's host name (its first label). */
  private static String podName(String configured, Map<String, String> env) {
    if (configured != null && !configured.isBlank()) {
      return configured.trim();
    }
    String h = env.get("HOSTNAME");
    if (h == null || h.isBlank()) {
      try {
        h = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
      } catch (IOException e) {
        throw new ConfigException("statefulset.pod is not set, there is no HOSTNAME and the host name cannot be "
            + "read (" + e.getMessage() + "); set statefulset.pod (HASP_STATEFULSET_POD) to the pod's name");
      }
    }
    h = h.trim();
    int dot = h.indexOf('.');
    return dot > 0 ? h.substring(0, dot) : h;
  }

  private static String required(Map<String, String> v, String key) {
    String s = v.getOrDefault(key, "");
    if (s.isEmpty()) {
      throw new ConfigException("missing required key '" + key + "' (statefulset.name is set)");
    }
    return s;
  }

  private static void label(String key, String s) {
    if (!DNS_LABEL.matcher(s).matches()) {
      throw new ConfigException(key + ": expected a DNS label (lower-case letters, digits and '-', at most 63), got '"
          + s + "'");
    }
  }

  private static int number(String key, String s, int min, int max) {
    try {
      int n = Integer.parseInt(s.trim());
      if (n < min || n > max) {
        throw new ConfigException(key + " must be between " + min + " and " + max + ", got " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new ConfigException(key + " must be a number, got '" + s + "'");
    }
  }
}
