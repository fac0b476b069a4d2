package io.hasp.statemachine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hasp.statemachine.LockStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lock table through a real RocksDB store, written the way the state machine writes it (one batch per log
 * entry, committed with the applied position): after every step a store reopened from disk loads a table equal
 * to the live one, a checkpoint restores the state it was taken at, and a batch that was never committed leaves
 * nothing behind.
 */
class LockStoreTest {
  @TempDir Path dir;
  private Disk disk;

  /** The harness's store: a real RocksDB, reopened at will. */
  private final class Disk implements Harness.Store {
    final Path path;
    LockStore store;
    LockStore.Batch open;
    boolean commitEnabled = true;

    Disk(Path path) throws IOException {
      this.path = path;
      this.store = LockStore.open(path);
    }

    @Override
    public Changes begin() {
      open = store.newBatch();
      return open;
    }

    @Override
    public void commit(long term, long index, Meta meta) {
      try (LockStore.Batch b = open) {
        if (commitEnabled) {
          b.commit(term, index, meta);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        open = null;
      }
    }

    /** Closes the store, opens it again from disk and loads a fresh table from it. */
    LockTable reopen(long expectedIndex) throws IOException {
      store.close();
      store = LockStore.open(path);
      LockTable loaded = new LockTable();
      LockStore.Applied applied = store.load(loaded);
      assertEquals(expectedIndex, applied.index(), "applied index stored with the state");
      loaded.checkInvariants();
      return loaded;
    }
  }

  @AfterEach
  void close() {
    if (disk != null) {
      disk.store.close();
    }
  }

  private Harness stored() throws IOException {
    disk = new Disk(dir.resolve("db"));
    Harness h = new Harness();
    h.store = disk;
    return h;
  }

  @Test
  void everyStepSurvivesAReopen() throws IOException {
    Harness h = LockTablePersistenceTest.richState(stored());
    assertEquals(Harness.state(h.table), Harness.state(disk.reopen(h.index)), "rich state after reopen");
    List<Function<Harness, Command>> script = LockTablePersistenceTest.script();
    for (Function<Harness, Command> step : script) {
      Command c = step.apply(h);
      h.apply(c);
      assertEquals(Harness.state(h.table), Harness.state(disk.reopen(h.index)), "after " + c);
    }
  }

  @Test
  void aReopenedStoreGoesOnLikeTheLiveTable() throws IOException {
    Harness h = LockTablePersistenceTest.richState(stored());
    // a node restarted from its store: the loaded table must answer the rest of the log exactly as the live one
    Harness restarted = new Harness();
    restarted.table = disk.reopen(h.index);
    restarted.index = h.index;
    restarted.term = h.term;
    restarted.now = h.now;
    restarted.client = h.client;
    restarted.nextRequestId = h.nextRequestId;
    restarted.rec = h.rec.copyStore();
    for (Function<Harness, Command> step : LockTablePersistenceTest.script()) {
      Command c = step.apply(h);
      Result live = h.apply(c);
      assertEquals(live, restarted.apply(c), "answers differ after " + c);
      assertEquals(Harness.state(h.table), Harness.state(restarted.table), "state differs after " + c);
    }
  }

  @Test
  void aCheckpointRestoresTheStateItWasTakenAt() throws IOException {
    Harness h = LockTablePersistenceTest.richState(stored());
    Harness.State atCheckpoint = Harness.state(h.table);
    long indexAtCheckpoint = h.index;
    Path checkpoint = dir.resolve("checkpoint");
    disk.store.checkpoint(checkpoint);
    for (Function<Harness, Command> step : LockTablePersistenceTest.script()) {
      h.apply(step.apply(h));
    }
    assertTrue(!Harness.state(h.table).equals(atCheckpoint), "the script changed the state");
    disk.store.replaceWith(checkpoint); // an installed snapshot
    LockTable loaded = new LockTable();
    assertEquals(indexAtCheckpoint, disk.store.load(loaded).index());
    assertEquals(atCheckpoint, Harness.state(loaded));
    assertTrue(Files.isDirectory(checkpoint), "the checkpoint itself is kept");
  }

  @Test
  void aBatchNeverCommittedLeavesNothing() throws IOException {
    Harness h = stored();
    Harness.State empty = Harness.state(h.table);
    disk.commitEnabled = false; // the node died between apply and commit
    h.lock("lost", 1, "k");
    Harness.session(h.openSession(5_000));
    assertEquals(empty, Harness.state(disk.reopen(0)));
    disk.commitEnabled = true;
    Harness again = stored2(h);
    Harness.granted(again.lock("kept", 1, "k2"));
    assertEquals(Harness.state(again.table), Harness.state(disk.reopen(again.index)));
  }

  @Test
  void holdersOfLocksWhoseNamesPrefixEachOtherComeBackToTheirOwnLock() throws IOException {
    // the load walks locks and holders together in key order: names that are prefixes of others, and names
    // around the separator, must each get exactly their own holders back (with every field)
    Harness h = stored();
    List<String> names = List.of("a", "a/b", "a b", "a0", "ab", "b", "é", "é-ü", "z", "zz");
    for (String name : names) {
      for (int i = 0; i < 3; i++) {
        Harness.granted(h.apply(h.acquireCmd(Origin.of("client-" + (i % 2), h.nextRequestId++), name, 3,
            name + "#" + i, i == 0 ? 0 : 60_000, -1, false, 0, false, 0, 1)));
      }
    }
    LockTable loaded = disk.reopen(h.index);
    assertEquals(Harness.state(h.table), Harness.state(loaded));
    for (String name : names) {
      assertEquals(3, loaded.getLock(name).holders().size(), name);
      loaded.getLock(name).holders().forEach(holder -> assertEquals(name, holder.name()));
    }
  }

  /** A fresh harness over the same (reopened) store, at the same log position. */
  private Harness stored2(Harness old) throws IOException {
    Harness h = new Harness();
    h.table = disk.reopen(0);
    h.store = disk;
    h.index = old.index;
    return h;
  }
}
