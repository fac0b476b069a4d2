package io.hasp.chaos.history;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** The run's record: operations from every process and the nemesis's fault windows. Thread-safe. */
public final class History {
  private final long startNs = System.nanoTime();
  private final AtomicLong ids = new AtomicLong();
  private final List<OpRecord> ops = new ArrayList<>();
  private final List<Fault> faults = new ArrayList<>();

  /** Nanoseconds since the run started (monotonic). */
  public long now() {
    return System.nanoTime() - startNs;
  }

  /** An id for an operation about to be invoked; ids follow invocation order. */
  public long nextId() {
    return ids.incrementAndGet();
  }

  public synchronized void add(OpRecord op) {
    ops.add(op);
  }

  /** Opens a fault window; returns its index for {@link #endFault}. */
  public synchronized int startFault(String kind, String detail, boolean quorumLost) {
    faults.add(new Fault(kind, detail, now(), -1, quorumLost));
    return faults.size() - 1;
  }

  public synchronized void endFault(int index) {
    Fault f = faults.get(index);
    if (f.endNs() < 0) {
      faults.set(index, f.withEnd(now()));
    }
  }

  /** Records that the fault could not be carried out as planned, and why (a finding, see {@link Fault}). */
  public synchronized void failFault(int index, String why) {
    faults.set(index, faults.get(index).withFailure(why));
  }

  /** Adds to a fault's detail (e.g. how long a step took), keeping the rest. */
  public synchronized void noteFault(int index, String note) {
    faults.set(index, faults.get(index).withNote(note));
  }

  /** Closes every open window (end of run). */
  public synchronized void endAllFaults() {
    for (int i = 0; i < faults.size(); i++) {
      endFault(i);
    }
  }

  public synchronized List<OpRecord> ops() {
    List<OpRecord> copy = new ArrayList<>(ops);
    copy.sort(Comparator.comparingLong(OpRecord::id));
    return copy;
  }

  public synchronized List<Fault> faults() {
    return new ArrayList<>(faults);
  }
}
