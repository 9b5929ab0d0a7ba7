import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { SESSION_MODULE_OPTIONS } from './session.constants.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { sessionContext } from './middleware/request-context.js';
import { controlsOf } from './controls/session-controls.js';
import type { SessionControls } from './controls/session-controls.js';
import { INDEXED_STORES, userKeyOf, userKeyOfHandle } from './controls/session-index.js';
import type { IndexEntry, SessionIndex } from './controls/session-index.js';
import type { SessionEvent } from './controls/session-events.js';
import { handleOf, recordProblem } from './stores/session-record.js';
import { cookieExpiry } from './stores/changed-key-writes.js';
import { readRecord } from './stores/store-call.js';
import { lastSeenOf } from './controls/index-upkeep.js';
import { describe } from './log-format.js';

/** One live session of a user, as `SessionRegistry.list()` shows it: enough to recognise a device, never its id. */
export interface SessionInfo {
  /** The session's opaque handle: what `revoke` takes. */
  handle: string;
  /** The user the session belongs to. */
  userId: string | number;
  /** When the user logged in with it. */
  createdAt: Date;
  /** Its last use (a touch or a write; with `touchAfter`, as fresh as that window). */
  lastSeenAt: Date;
  /** When it expires unless used again; null for a cookie that ends with the browser. */
  expiresAt: Date | null;
  /** The User-Agent it logged in with. */
  userAgent?: string;
  /** The client IP it logged in from (Express's `req.ip`, so `trust proxy` applies). */
  ip?: string;
  /** Whether it is the session of the request that asked (false outside a request). */
  current: boolean;
}

/** What the bridge needs of `@nestjs/event-emitter`'s EventEmitter2. */
interface Emitter {
  emit(event: string, payload: unknown): unknown;
  emitAsync?(event: string, payload: unknown): Promise<unknown>;
}

/** Options of {@link SessionRegistry.revokeAll}. */
export interface RevokeAllOptions {
  /** A handle to keep (typically the caller's own session). */
  except?: string;
}

/**
 * A user's sessions, for "where am I signed in" pages, "sign out everywhere" and administrators: list them,
 * end one by its handle or all of a user's, and watch their lifecycle events. A singleton that works outside
 * requests too (an admin job). A revoked session is anonymous on its next request on every instance. Needs a
 * store with a per-user index; with any other store its methods reject.
 */
@Injectable()
export class SessionRegistry implements OnModuleInit {
  private readonly controls: SessionControls;
  private readonly logger = new Logger('SessionRegistry');

  constructor(
    @Inject(SESSION_MODULE_OPTIONS) private readonly options: ResolvedSessionModuleOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    this.controls = controlsOf(options);
  }

  /** Every session event of this app instance: created, loggedIn, loggedOut, revoked, evicted, expired. */
  get events(): Observable<SessionEvent> {
    return this.controls.events.observable;
  }

  /** The user's live sessions, most recently used first. */
  async list(userId: string | number): Promise<SessionInfo[]> {
    const index = this.index();
    const key = userKeyOf(userId);
    const entries = await this.existing(key, await index.list(key));
    const current = handleOf(sessionContext.getStore()?.session);
    return entries
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt || (a.handle < b.handle ? -1 : 1))
      .map((entry) => {
        const info: SessionInfo = {
          handle: entry.handle,
          userId: entry.userId,
          createdAt: new Date(entry.createdAt),
          lastSeenAt: new Date(entry.lastSeenAt),
          expiresAt: entry.expiresAt === null ? null : new Date(entry.expiresAt),
          current: entry.handle === current,
        };
        if (entry.userAgent !== undefined) info.userAgent = entry.userAgent;
        if (entry.ip !== undefined) info.ip = entry.ip;
        return info;
      });
  }

  /** Ends the session with this handle; resolves with whether a live session was ended. */
  async revoke(handle: string): Promise<boolean> {
    const index = this.index();
    const key = userKeyOfHandle(handle);
    if (key === undefined) return false;
    const entries = (await index.list(key)).filter((entry) => entry.handle === handle);
    return (await this.controls.end(key, entries)) > 0;
  }

  /** Ends every session of the user but `except`; resolves with how many ended. */
  async revokeAll(userId: string | number, options: RevokeAllOptions = {}): Promise<number> {
    this.index();
    return this.controls.revokeAll(userId, options.except);
  }

  /** Also emits every event through `@nestjs/event-emitter` as `session.<type>`, when the app has it. */
  async onModuleInit(): Promise<void> {
    const name = '@nestjs/event-emitter';
    let emitterClass: unknown;
    try {
      emitterClass = ((await import(name)) as { EventEmitter2?: unknown }).EventEmitter2;
    } catch {
      return;
    }
    let emitter: Emitter | undefined;
    try {
      emitter = this.moduleRef.get(emitterClass as never, { strict: false });
    } catch {
      return;
    }
    if (!emitter) return;
    const found = emitter;
    // emitAsync hands back the listeners' promises: a handler that rejects (an @OnEvent handler with
    // `suppressErrors: false`) is logged here, never an unhandled rejection that could end the process.
    this.events.subscribe((event) => {
      const name = `session.${event.type}`;
      const sent = found.emitAsync ? found.emitAsync(name, event) : found.emit(name, event);
      if (sent instanceof Promise) {
        sent.catch((err: unknown) => this.logger.error(`A ${name} event listener failed: ${describe(err)}`));
      }
    });
  }

  /**
   * The entries whose session record still exists (with this handle), each with its last use and expiry as
   * the record has them (every request records its use there); entries of vanished sessions are dropped.
   */
  private async existing(key: string, entries: IndexEntry[]): Promise<IndexEntry[]> {
    const store = this.options.session.store;
    const alive = await Promise.all(
      entries.map(async (entry) => {
        const record = await readRecord(store, entry.sid);
        const live =
          record !== null &&
          handleOf(record) === entry.handle &&
          String(this.controls.ownerOf(record)) === key &&
          recordProblem(record, this.limits()) === undefined;
        if (live) {
          entry.lastSeenAt = Math.max(entry.lastSeenAt, lastSeenOf(record) ?? 0);
          entry.expiresAt = cookieExpiry(record.cookie) ?? entry.expiresAt;
        }
        return live;
      }),
    );
    const gone = entries.filter((_, i) => !alive[i]);
    if (gone.length > 0) {
      await this.index()
        .remove(key, { handles: gone.map((entry) => entry.handle) })
        .catch((err: unknown) => this.logger.warn(`Could not drop index entries of ended sessions: ${describe(err)}`));
    }
    return entries.filter((_, i) => alive[i]);
  }

  private limits(): Parameters<typeof recordProblem>[1] {
    return {
      idleTimeout: this.options.idleTimeout,
      absoluteTimeout: this.options.absoluteTimeout,
      cookieExpiry: typeof this.options.session.store.touch !== 'function',
    };
  }

  private index(): SessionIndex {
    const index = this.controls.index;
    if (!index) {
      throw new Error(
        `SessionRegistry needs a store with a per-user index of sessions, which this app's store ` +
          `(${this.options.session.store.constructor?.name ?? 'unknown'}) has not. Stores with one: ${INDEXED_STORES}.`,
      );
    }
    return index;
  }
}
