package io.hasp.statemachine.core;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The holders of one lock by key, in grant order. Most locks are mutexes with one holder: it is kept in a field,
 * and a map exists only while a lock has two or more. At a million held locks a map per lock (its table, entry
 * and values view) was three objects and ~136 bytes of every lock, and a third of the work of loading them.
 */
final class HolderSet {
  /** The only holder, or null; null whenever {@link #many} is set. */
  private Holder one;
  /** Two or more holders in grant order, or null. */
  private LinkedHashMap<String, Holder> many;

  Holder get(String key) {
    if (one != null) {
      return one.key().equals(key) ? one : null;
    }
    return many == null ? null : many.get(key);
  }

  boolean containsKey(String key) {
    return get(key) != null;
  }

  /** Adds a holder or replaces the one with its key (keeping its place); returns the one replaced, or null. */
  Holder put(Holder holder) {
    String key = holder.key();
    if (many != null) {
      return many.put(key, holder);
    }
    if (one == null) {
      one = holder;
      return null;
    }
    if (one.key().equals(key)) {
      Holder replaced = one;
      one = holder;
      return replaced;
    }
    many = new LinkedHashMap<>(4);
    many.put(one.key(), one);
    many.put(key, holder);
    one = null;
    return null;
  }

  /** Removes the holder with this key; returns it, or null. */
  Holder remove(String key) {
    if (one != null) {
      if (!one.key().equals(key)) {
        return null;
      }
      Holder removed = one;
      one = null;
      return removed;
    }
    if (many == null) {
      return null;
    }
    Holder removed = many.remove(key);
    if (many.size() == 1) {
      one = many.values().iterator().next();
      many = null;
    }
    return removed;
  }

  int size() {
    return one != null ? 1 : many == null ? 0 : many.size();
  }

  boolean isEmpty() {
    return one == null && many == null;
  }

  /** The holders in grant order: a view, so copy it before removing while iterating. */
  Collection<Holder> values() {
    return one != null ? List.of(one) : many == null ? List.of() : many.values();
  }

  void clear() {
    one = null;
    many = null;
  }
}
