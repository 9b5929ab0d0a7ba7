import { LRUCache } from 'lru-cache';

/** The bounds of a {@link SessionLru}. */
export interface SessionLruBounds {
  /** Most entries held at once, both lists together. */
  maxCount: number;
  /** Largest total size of the entries held, both lists together (the sizes given to `set`). */
  maxSize: number;
  /** Lifetime in milliseconds of an entry set without one. */
  ttl: number;
}

/** How `set` stores one entry. */
export interface SessionLruPut {
  /** Milliseconds until the entry expires. */
  ttl: number;
  /** The entry's size, counted toward `maxSize`. */
  size: number;
  /** Whether the entry is a logged-in session; undefined: it stays in the list it is in (anonymous if new). */
  loggedIn?: boolean;
}

/**
 * The embedded store's memory (internal): two least-recently-used lists, one of anonymous sessions and one of
 * logged-in ones, under one bound on their count and one on their total size (lru-cache's size accounting).
 * Past either bound the least recently used anonymous session goes first, and a logged-in one only once no
 * anonymous session is left: anonymous traffic can never push a logged-in user out. When logged-in sessions
 * fill the bounds by themselves, a new anonymous session is not kept.
 */
export class SessionLru<V extends NonNullable<unknown>> {
  private readonly anonymous: LRUCache<string, V>;
  private readonly loggedIn: LRUCache<string, V>;

  constructor(private readonly bounds: SessionLruBounds) {
    // Each list alone stays within the bounds; `trim` keeps the two together within them.
    const options = { max: bounds.maxCount, maxSize: bounds.maxSize, ttl: bounds.ttl, updateAgeOnGet: false };
    this.anonymous = new LRUCache<string, V>(options);
    this.loggedIn = new LRUCache<string, V>(options);
  }

  /** How many entries are held (expired ones included until they are purged). */
  get size(): number {
    return this.anonymous.size + this.loggedIn.size;
  }

  /** The total size of the entries held. */
  get calculatedSize(): number {
    return this.anonymous.calculatedSize + this.loggedIn.calculatedSize;
  }

  /** The entry under `key` unless it expired, marked as the most recently used. */
  get(key: string): V | undefined {
    return this.loggedIn.get(key) ?? this.anonymous.get(key);
  }

  /** Stores an entry as the most recently used of its list, then evicts what the bounds no longer allow. */
  set(key: string, value: V, put: SessionLruPut): void {
    const loggedIn = put.loggedIn ?? this.loggedIn.has(key);
    const [into, other] = loggedIn ? [this.loggedIn, this.anonymous] : [this.anonymous, this.loggedIn];
    // Only a session that logged in or out can be in the other list.
    if (put.loggedIn !== undefined) other.delete(key);
    into.set(key, value, { ttl: put.ttl, size: put.size });
    this.trim();
  }

  delete(key: string): void {
    if (!this.loggedIn.delete(key)) this.anonymous.delete(key);
  }

  /** Removes every expired entry. */
  purgeStale(): void {
    this.loggedIn.purgeStale();
    this.anonymous.purgeStale();
  }

  /** Every entry that has not expired. */
  *entries(): Generator<[string, V]> {
    yield* this.loggedIn.entries();
    yield* this.anonymous.entries();
  }

  clear(): void {
    this.loggedIn.clear();
    this.anonymous.clear();
  }

  private trim(): void {
    const { maxCount, maxSize } = this.bounds;
    while (this.size > maxCount || this.calculatedSize > maxSize) {
      (this.anonymous.size > 0 ? this.anonymous : this.loggedIn).pop();
    }
  }
}
