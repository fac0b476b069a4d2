package io.hasp.chaos.check;

import java.util.List;

/**
 * What one checker concluded about a run.
 *
 * @param checker its name
 * @param status PASS, FAIL (a violation), or UNKNOWN (could not decide, e.g. the search budget ran out)
 * @param summary one line with the figures
 * @param findings the violations (or notable facts), each a line a person can act on; at most a few dozen
 */
public record Verdict(String checker, Status status, String summary, List<String> findings) {
  public enum Status { PASS, FAIL, UNKNOWN }

  public boolean failed() {
    return status == Status.FAIL;
  }
}
