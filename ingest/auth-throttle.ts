import { isIPv6 } from 'node:net';

/**
 * Rate limit on failed publishes, per source. After `maxFailures` refused keys within `windowSeconds` from
 * one source, every publish from it is refused for `backoffSeconds` without the key being looked up (no
 * table read, no hash comparison). A success from the source clears its record (a streamer who fixed a typo).
 *
 * A source is an IPv4 address, or an IPv6 /64 (one subscriber usually holds a whole /64). Memory is bounded:
 * at most `maxTrackedSources` sources are tracked, each holding at most `maxFailures` timestamps; when full,
 * the source seen least recently is forgotten first.
 *
 * This needs the publisher's real address. Behind a load balancer that hides it (an NLB with client IP
 * preservation off), every publisher shares a few addresses and one guesser would lock them all out: the
 * throttle is off there (`maxFailures: 0`; the ingest config makes that the default whenever the per-IP
 * connection cap is `Infinity`, the template's signal that client IPs are hidden). See docs/security.md.
 */

export interface AuthThrottleOptions {
  /** 0 disables the throttle. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly backoffSeconds: number;
  readonly maxTrackedSources: number;
  readonly now?: () => number;
}

export type ThrottleCheck = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface SourceRecord {
  /** Times (ms) of recent failures, oldest first; never more than `maxFailures`. */
  failures: number[];
  /** Epoch ms until which publishes are refused; 0 when not blocked. */
  blockedUntil: number;
}

/** The throttle's key for an address: IPv4 as is, IPv6 by its /64 prefix. */
export function throttleSource(address: string): string {
  const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

export class AuthThrottle {
  readonly #opts: AuthThrottleOptions;
  readonly #now: () => number;
  /** Insertion order is recency: a touched source is moved to the end; the first one is evicted. */
  readonly #sources = new Map<string, SourceRecord>();

  constructor(opts: AuthThrottleOptions) {
    for (const [name, v] of Object.entries({
      maxFailures: opts.maxFailures,
      windowSeconds: opts.windowSeconds,
      backoffSeconds: opts.backoffSeconds,
      maxTrackedSources: opts.maxTrackedSources,
    })) {
      if (!Number.isFinite(v) || v < (name === 'maxFailures' ? 0 : 1))
        throw new RangeError(`auth throttle ${name} must be a positive number, got ${v}`);
    }
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#opts.maxFailures > 0;
  }

  /** Sources currently tracked (for tests and health). */
  get trackedSources(): number {
    return this.#sources.size;
  }

  /** Whether `address` may try a key now. Cheap: one map look-up. */
  check(address: string): ThrottleCheck {
    if (!this.enabled) return { allowed: true };
    const key = throttleSource(address);
    const rec = this.#sources.get(key);
    if (!rec || rec.blockedUntil === 0) return { allowed: true };
    const now = this.#now();
    if (rec.blockedUntil > now) return { allowed: false, retryAfterSeconds: Math.ceil((rec.blockedUntil - now) / 1000) };
    this.#sources.delete(key); // the backoff is over: start afresh
    return { allowed: true };
  }

  /** A refused key from `address`. Returns true when this failure started a backoff. */
  recordFailure(address: string): boolean {
    if (!this.enabled) return false;
    const key = throttleSource(address);
    const now = this.#now();
    const rec = this.#sources.get(key) ?? { failures: [], blockedUntil: 0 };
    this.#sources.delete(key);
    this.#sources.set(key, rec);
    if (rec.blockedUntil > now) return false;
    const windowStart = now - this.#opts.windowSeconds * 1000;
    while (rec.failures.length > 0 && rec.failures[0] <= windowStart) rec.failures.shift();
    rec.failures.push(now);
    let started = false;
    if (rec.failures.length >= this.#opts.maxFailures) {
      rec.blockedUntil = now + this.#opts.backoffSeconds * 1000;
      rec.failures = [];
      started = true;
    }
    while (this.#sources.size > this.#opts.maxTrackedSources) {
      const oldest = this.#sources.keys().next().value as string;
      this.#sources.delete(oldest);
    }
    return started;
  }

  /** An accepted key from `address`: forget its failures. */
  recordSuccess(address: string): void {
    if (!this.enabled) return;
    const key = throttleSource(address);
    const rec = this.#sources.get(key);
    if (rec && rec.blockedUntil === 0) this.#sources.delete(key);
  }
}
