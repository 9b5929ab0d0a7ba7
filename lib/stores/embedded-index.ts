import { liveEntries, overLimit } from '../controls/session-index.js';
import type { AddOutcome, IndexEntry, LimitMode, SessionIndex } from '../controls/session-index.js';

/**
 * The embedded store's per-user index: a map per user in the same process, every step synchronous, so a
 * limit check and its evictions can never interleave with another login. Expired entries are dropped
 * whenever their user's map is read, and a user with none left is forgotten (internal).
 */
export class EmbeddedIndex implements SessionIndex {
  private readonly users = new Map<string, Map<string, IndexEntry>>();

  add(entry: IndexEntry, limit: number | undefined, mode: LimitMode): Promise<AddOutcome> {
    const key = String(entry.userId);
    const entries = this.live(key);
    const others = entries.filter((e) => e.handle !== entry.handle);
    const evicted = overLimit(others, limit, mode);
    if (evicted === 'refuse') return Promise.resolve({ refused: true, evicted: [] });
    const map = this.users.get(key) ?? new Map<string, IndexEntry>();
    for (const gone of evicted) map.delete(gone.handle);
    map.set(entry.handle, { ...entry });
    this.users.set(key, map);
    return Promise.resolve({ refused: false, evicted });
  }

  seen(
    userKey: string,
    handle: string,
    lastSeenAt: number,
    expiresAt: number | null,
    keepUntil: number,
  ): Promise<void> {
    const entry = this.users.get(userKey)?.get(handle);
    if (entry) Object.assign(entry, { lastSeenAt, expiresAt, keepUntil });
    return Promise.resolve();
  }

  list(userKey: string): Promise<IndexEntry[]> {
    return Promise.resolve(this.live(userKey).map((entry) => ({ ...entry })));
  }

  remove(userKey: string, which: { handles: string[] } | { except?: string }): Promise<IndexEntry[]> {
    const map = this.users.get(userKey);
    const removed: IndexEntry[] = [];
    if (map) {
      for (const entry of [...map.values()]) {
        const hit = 'handles' in which ? which.handles.includes(entry.handle) : entry.handle !== which.except;
        if (hit) {
          map.delete(entry.handle);
          removed.push(entry);
        }
      }
      if (map.size === 0) this.users.delete(userKey);
    }
    return Promise.resolve(liveEntries(removed));
  }

  /** Forgets every user (the store was cleared or closed). */
  clear(): void {
    this.users.clear();
  }

  /** The user's live entries; the expired ones are dropped from the map. */
  private live(userKey: string): IndexEntry[] {
    const map = this.users.get(userKey);
    if (!map) return [];
    const live = liveEntries(map.values());
    if (live.length !== map.size) {
      for (const entry of map.values()) if (!live.includes(entry)) map.delete(entry.handle);
      if (map.size === 0) this.users.delete(userKey);
    }
    return live;
  }
}
