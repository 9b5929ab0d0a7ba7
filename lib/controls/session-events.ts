import { Logger } from '@nestjs/common';
import { Observable, Subscriber } from 'rxjs';
import type { Operator, Subscription } from 'rxjs';

/** What happened to a session. */
export type SessionEventType = 'created' | 'loggedIn' | 'loggedOut' | 'revoked' | 'evicted' | 'expired';

/** One event of a session's life, as `SessionRegistry.events` emits it: never a session id, only its handle. */
export interface SessionEvent {
  /** What happened. */
  type: SessionEventType;
  /** The session's handle, when it was logged in. */
  handle?: string;
  /** The user it belonged to, when it was logged in. */
  userId?: string | number;
  /** When it happened. */
  at: Date;
}

const logger = new Logger('SessionRegistry');

type Listener = (event: SessionEvent) => void;

/**
 * An observable whose subscribers cannot hurt the code that emits: what a subscriber throws, directly or
 * through operators, is logged, never thrown into the request that caused the event, and never left to RxJS's
 * "unhandled error" (which rethrows it on a timer and would end the process). Operators keep the protection
 * (`lift` makes the same kind of observable).
 */
class SafeObservable<T> extends Observable<T> {
  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const lifted = new SafeObservable<R>();
    (lifted as unknown as { source: Observable<T> }).source = this;
    (lifted as unknown as { operator?: Operator<T, R> }).operator = operator;
    return lifted;
  }

  override subscribe(...args: unknown[]): Subscription {
    const [first] = args;
    // Operators subscribe with their own Subscriber: those pass through, only the app's observer is wrapped.
    if (first instanceof Subscriber) return super.subscribe(first as Subscriber<T>);
    const observer =
      typeof first === 'function'
        ? {
            next: first as (v: T) => void,
            error: args[1] as ((e: unknown) => void) | undefined,
            complete: args[2] as (() => void) | undefined,
          }
        : ((first ?? {}) as { next?: (v: T) => void; error?: (e: unknown) => void; complete?: () => void });
    return super.subscribe({
      next: (value: T) => guarded(() => observer.next?.(value)),
      error: (err: unknown) => (observer.error ? guarded(() => observer.error!(err)) : report(err)),
      complete: () => guarded(() => observer.complete?.()),
    });
  }
}

function guarded(run: () => void): void {
  try {
    run();
  } catch (err) {
    report(err);
  }
}

function report(err: unknown): void {
  logger.error(`A subscriber of SessionRegistry.events threw: ${err instanceof Error ? err.message : String(err)}`);
}

/** The events of one module instance: an observable, and what emits into it (internal). */
export class SessionEvents {
  private readonly listeners = new Set<Listener>();

  /** The events as an RxJS observable (hot: a subscriber sees what happens after it subscribed). */
  readonly observable: Observable<SessionEvent> = new SafeObservable<SessionEvent>((subscriber) => {
    const listener: Listener = (event) => subscriber.next(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  });

  /** Emits an event to every subscriber; does nothing, at no cost, while nobody listens. */
  emit(type: SessionEventType, handle?: string, userId?: string | number): void {
    if (this.listeners.size === 0) return;
    const event: SessionEvent = { type, at: new Date() };
    if (handle !== undefined) event.handle = handle;
    if (userId !== undefined) event.userId = userId;
    for (const listener of [...this.listeners]) guarded(() => listener(event));
  }
}
