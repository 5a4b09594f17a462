/**
 * Waiting in tests, on events or by polling with a deadline that FAILS, never for a fixed time.
 *
 * - `waitFor`: polls a probe until it yields a value; throws, naming what it waited for, when the deadline passes.
 * - `withDeadline`: a promise that must settle in time (a child's exit, a socket's close).
 * - `EventLog`: records entries (log lines, parsed log records, RTMP statuses) and waits for one that matches, seen
 *   already or still to come: the way to wait for a log line (see ./task-logs for the local stack's tasks).
 *
 * Deadlines are generous on purpose (the suite runs on a loaded 2-core machine): they only bound how long a
 * broken test takes to fail. What a test asserts is the event, never how soon it came.
 */

/** The deadline when a test names none. */
export const DEFAULT_DEADLINE_MS = 15_000;

/** What a probe returns while the awaited state has not come yet. */
type NotYet = undefined | null | false;

export interface WaitOptions {
  /** Fail after this long. Default `DEFAULT_DEADLINE_MS`. */
  readonly timeoutMs?: number;
  /** Pause between probes. Default 50 ms. */
  readonly everyMs?: number;
  /** Added to the failure message: the state the test saw last. */
  readonly detail?: () => string;
}

function timeoutError(what: string, timeoutMs: number, detail?: () => string): Error {
  let extra = '';
  try {
    extra = detail ? ` (${detail()})` : '';
  } catch {
    // the detail is a courtesy
  }
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined, null or false, and returns that value. Throws
 * `timed out after N ms waiting for <what>` when the deadline passes first. A probe that throws fails at once.
 * The third argument is the deadline in ms, or options; the fourth, the pause between probes.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  opts: number | WaitOptions = {},
  everyMs?: number,
): Promise<Exclude<T, NotYet>> {
  const o: WaitOptions = typeof opts === 'number' ? { timeoutMs: opts, everyMs } : opts;
  const timeoutMs = o.timeoutMs ?? DEFAULT_DEADLINE_MS;
  const every = o.everyMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, NotYet>;
    const left = deadline - Date.now();
    if (left <= 0) throw timeoutError(what, timeoutMs, o.detail);
    await pause(Math.min(every, left));
  }
}

/** `promise`, or a rejection naming `what` if it has not settled after `timeoutMs`. */
export function withDeadline<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_DEADLINE_MS, detail?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(what, timeoutMs, detail)), timeoutMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

interface Waiter<T> {
  readonly match: (entry: T) => boolean;
  readonly resolve: (entry: T) => void;
}

/**
 * Entries as they happen (log lines, parsed log records, statuses), and waits for one that matches. A wait sees
 * the entries recorded before it as well as the ones to come, so a test cannot miss an event by asking late.
 */
export class EventLog<T> {
  readonly entries: T[] = [];
  readonly #waiters = new Set<Waiter<T>>();

  /** Records one entry and wakes the waits it matches. */
  push(entry: T): void {
    this.entries.push(entry);
    for (const w of [...this.#waiters]) {
      if (w.match(entry)) {
        this.#waiters.delete(w);
        w.resolve(entry);
      }
    }
  }

  /** The entries that match, so far. */
  filter(match: (entry: T) => boolean): T[] {
    return this.entries.filter(match);
  }

  /**
   * The first entry that matches, recorded already or still to come. Fails after `timeoutMs` naming `what`, with
   * the last few entries in the message.
   */
  waitFor(what: string, match: (entry: T) => boolean, timeoutMs = DEFAULT_DEADLINE_MS): Promise<T> {
    let waiter: Waiter<T> | undefined;
    const found = this.#when(match, (w) => (waiter = w));
    const last = () =>
      `last entries: ${
        this.entries
          .slice(-5)
          .map((e) => JSON.stringify(e).slice(0, 400))
          .join(' | ') || 'none'
      }`;
    return withDeadline(found, what, timeoutMs, last).finally(() => waiter && this.#waiters.delete(waiter));
  }

  /** The first entry that matches, recorded already or still to come, with no deadline: race it with one. */
  when(match: (entry: T) => boolean): Promise<T> {
    return this.#when(match);
  }

  #when(match: (entry: T) => boolean, registered?: (w: Waiter<T>) => void): Promise<T> {
    const seen = this.entries.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve) => {
      const waiter = { match, resolve };
      this.#waiters.add(waiter);
      registered?.(waiter);
    });
  }
}
