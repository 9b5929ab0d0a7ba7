// The deadlines of store calls that have not answered yet (internal; used by callStore in store-call.ts).

/** A store call that has not answered: when it times out, and what then (undefined once it answered). */
export interface PendingCall {
  at: number;
  expire: (() => void) | undefined;
}

/**
 * The deadlines of the pending calls that share one timeout. Calls start one after another, so their deadlines
 * come in the order they were added: one timer, armed for the oldest pending call, serves them all, and a call
 * that answers is only marked (and dropped once it reaches the front). The timer keeps the process alive only
 * while a call is pending, as a timer per call did.
 */
class Deadlines {
  private calls: PendingCall[] = [];
  /** Index of the oldest call not yet answered or expired (earlier entries are done). */
  private first = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Calls not answered yet. */
  private waiting = 0;
  /** Set while the timer's callback runs: it arms the next timer itself. */
  private firing = false;

  constructor(private readonly timeout: number) {}

  add(call: PendingCall): void {
    call.at = performance.now() + this.timeout;
    this.calls.push(call);
    if (this.waiting++ === 0) this.timer?.ref();
    if (this.timer === undefined && !this.firing) this.timer = this.arm(this.timeout);
  }

  settle(call: PendingCall): void {
    if (call.expire === undefined) return;
    call.expire = undefined;
    if (--this.waiting === 0) this.timer?.unref();
    if (this.calls[this.first] === call) this.dropAnswered();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.firing = true;
    const now = performance.now();
    for (let call = this.calls[this.first]; call !== undefined; call = this.calls[this.first]) {
      if (call.expire !== undefined && call.at > now) break;
      this.first++;
      const expire = call.expire;
      if (expire === undefined) continue;
      call.expire = undefined;
      this.waiting--;
      try {
        expire();
      } catch (err) {
        // The caller's callback threw: as from a timer of its own, after the others are done.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.firing = false;
    this.compact();
    const next = this.calls[this.first];
    if (next !== undefined) this.timer = this.arm(next.at - performance.now());
  };

  private dropAnswered(): void {
    while (this.calls[this.first]?.expire === undefined && this.first < this.calls.length) this.first++;
    this.compact();
  }

  private compact(): void {
    if (this.first === this.calls.length) {
      this.calls.length = 0;
      this.first = 0;
    } else if (this.first > 1024 && this.first * 2 > this.calls.length) {
      this.calls = this.calls.slice(this.first);
      this.first = 0;
    }
  }

  private arm(ms: number): NodeJS.Timeout {
    return setTimeout(this.fire, Math.max(1, Math.ceil(ms)));
  }
}

/** One Deadlines per timeout in use (one per module instance, in practice). */
const deadlines = new Map<number, Deadlines>();

export function deadlinesOf(timeout: number): Deadlines {
  let found = deadlines.get(timeout);
  if (found === undefined) deadlines.set(timeout, (found = new Deadlines(timeout)));
  return found;
}
