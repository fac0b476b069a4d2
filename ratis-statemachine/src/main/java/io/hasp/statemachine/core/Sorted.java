package io.hasp.statemachine.core;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Fills an empty TreeMap or TreeSet from a list that is already sorted, in linear time: both copy a
 * {@link SortedMap} / {@link SortedSet} with their own comparator without comparing a single key (their
 * {@code buildFromSorted}). The views below offer exactly what those copies read: comparator, size, iteration.
 */
final class Sorted {
  private Sorted() {}

  /** {@code sorted} must be strictly increasing by the key's natural order. */
  static <K extends Comparable<K>, V> void fill(TreeMap<K, V> empty, List<V> sorted, Function<V, K> key) {
    fill(empty, sorted, key, true);
  }

  /**
   * As {@link #fill(TreeMap, List, Function)}; {@code check} false skips the order check, for a list that
   * {@link #sortIfNeeded} just checked.
   */
  static <K extends Comparable<K>, V> void fill(TreeMap<K, V> empty, List<V> sorted, Function<V, K> key,
      boolean check) {
    if (!empty.isEmpty() || empty.comparator() != null) {
      throw new IllegalArgumentException("needs an empty TreeMap in natural order");
    }
    if (check) {
      int at = firstOutOfOrder(sorted, key);
      if (at >= 0) {
        throw new IllegalStateException("not strictly increasing at " + key.apply(sorted.get(at)));
      }
    }
    empty.putAll(new SortedView<>(sorted, key));
  }

  /**
   * Leaves {@code list} strictly increasing by the key's natural order: one pass when it already is (a store
   * hands its records over in key order), a sort when not. Throws when two elements have the same key.
   */
  static <K extends Comparable<K>, V> void sortIfNeeded(List<V> list, Function<V, K> key) {
    if (firstOutOfOrder(list, key) < 0) {
      return;
    }
    list.sort((a, b) -> key.apply(a).compareTo(key.apply(b)));
    int at = firstOutOfOrder(list, key);
    if (at >= 0) {
      throw new IllegalStateException("two elements have the key " + key.apply(list.get(at)));
    }
  }

  /** The first index whose key is not above the previous one's, or -1. */
  private static <K extends Comparable<K>, V> int firstOutOfOrder(List<V> list, Function<V, K> key) {
    if (list.isEmpty()) {
      return -1;
    }
    K last = key.apply(list.get(0));
    for (int i = 1; i < list.size(); i++) {
      K k = key.apply(list.get(i));
      if (last.compareTo(k) >= 0) {
        return i;
      }
      last = k;
    }
    return -1;
  }

  /**
   * {@code list} in a stable order by {@code time}: elements of equal time keep their order in {@code list}. A
   * primitive sort of (time, position) pairs packed into longs when times span less than 2^40 ms (35 years) and
   * there are fewer than 2^23 elements, else a comparator sort.
   */
  static <E> List<E> stableByTime(List<E> list, java.util.function.ToLongFunction<E> time) {
    int n = list.size();
    if (n < 2) {
      return list;
    }
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (E e : list) {
      long t = time.applyAsLong(e);
      min = Math.min(min, t);
      max = Math.max(max, t);
    }
    if (n >= 1 << 23 || max - min < 0 || max - min >= 1L << 40) {
      List<E> copy = new java.util.ArrayList<>(list);
      copy.sort(Comparator.comparingLong(time)); // List.sort is stable
      return copy;
    }
    long[] packed = new long[n];
    for (int i = 0; i < n; i++) {
      packed[i] = (time.applyAsLong(list.get(i)) - min) << 23 | i;
    }
    java.util.Arrays.sort(packed);
    List<E> sorted = new java.util.ArrayList<>(n);
    for (long p : packed) {
      sorted.add(list.get((int) (p & ((1 << 23) - 1))));
    }
    return sorted;
  }

  /** {@code sorted} must be strictly increasing by the set's comparator. */
  static <E> void fill(TreeSet<E> empty, List<E> sorted) {
    Comparator<? super E> order = empty.comparator();
    if (!empty.isEmpty() || order == null) {
      throw new IllegalArgumentException("needs an empty TreeSet with a comparator");
    }
    for (int i = 1; i < sorted.size(); i++) {
      if (order.compare(sorted.get(i - 1), sorted.get(i)) >= 0) {
        throw new IllegalStateException("not strictly increasing at " + sorted.get(i));
      }
    }
    empty.addAll(new SortedSetView<>(sorted, order));
  }

  private static final class SortedView<K, V> extends AbstractMap<K, V> implements SortedMap<K, V> {
    private final List<V> values;
    private final Function<V, K> key;

    SortedView(List<V> values, Function<V, K> key) {
      this.values = values;
      this.key = key;
    }

    @Override
    public Comparator<? super K> comparator() {
      return null;
    }

    @Override
    public int size() {
      return values.size();
    }

    @Override
    public Set<Map.Entry<K, V>> entrySet() {
      return new AbstractSet<>() {
        @Override
        public Iterator<Map.Entry<K, V>> iterator() {
          Iterator<V> it = values.iterator();
          return new Iterator<>() {
            @Override
            public boolean hasNext() {
              return it.hasNext();
            }

            @Override
            public Map.Entry<K, V> next() {
              V v = it.next();
              return new AbstractMap.SimpleImmutableEntry<>(key.apply(v), v);
            }
          };
        }

        @Override
        public int size() {
          return values.size();
        }
      };
    }

    @Override
    public SortedMap<K, V> subMap(K fromKey, K toKey) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedMap<K, V> headMap(K toKey) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedMap<K, V> tailMap(K fromKey) {
      throw new UnsupportedOperationException();
    }

    @Override
    public K firstKey() {
      return key.apply(values.get(0));
    }

    @Override
    public K lastKey() {
      return key.apply(values.get(values.size() - 1));
    }
  }

  private static final class SortedSetView<E> extends AbstractSet<E> implements SortedSet<E> {
    private final List<E> elements;
    private final Comparator<? super E> order;

    SortedSetView(List<E> elements, Comparator<? super E> order) {
      this.elements = elements;
      this.order = order;
    }

    @Override
    public Comparator<? super E> comparator() {
      return order;
    }

    @Override
    public Iterator<E> iterator() {
      return elements.iterator();
    }

    @Override
    public int size() {
      return elements.size();
    }

    @Override
    public SortedSet<E> subSet(E fromElement, E toElement) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedSet<E> headSet(E toElement) {
      throw new UnsupportedOperationException();
    }

    @Override
    public SortedSet<E> tailSet(E fromElement) {
      throw new UnsupportedOperationException();
    }

    @Override
    public E first() {
      return elements.get(0);
    }

    @Override
    public E last() {
      return elements.get(elements.size() - 1);
    }
  }
}
