import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthThrottle, throttleSource } from '../../ingest/auth-throttle';

function throttle(overrides: Partial<ConstructorParameters<typeof AuthThrottle>[0]> = {}) {
  let now = 1_000_000;
  const t = new AuthThrottle({ maxFailures: 5, windowSeconds: 60, backoffSeconds: 300, maxTrackedSources: 1000, now: () => now, ...overrides });
  return { t, advance: (ms: number) => (now += ms) };
}

describe('AuthThrottle', () => {
  it('blocks a source after maxFailures within the window, for the backoff, then forgets it', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 4; i++) {
      expect(t.recordFailure('198.51.100.7')).toBe(false);
      expect(t.check('198.51.100.7')).toEqual({ allowed: true });
      advance(1000);
    }
    expect(t.recordFailure('198.51.100.7')).toBe(true);
    expect(t.check('198.51.100.7')).toEqual({ allowed: false, retryAfterSeconds: 300 });
    expect(t.check('198.51.100.8')).toEqual({ allowed: true });
    advance(299_000);
    expect(t.check('198.51.100.7')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    advance(1000);
    expect(t.check('198.51.100.7')).toEqual({ allowed: true });
    expect(t.trackedSources).toBe(0);
  });

  it('counts failures in a sliding window: slow guessing never blocks', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 50; i++) {
      expect(t.recordFailure('203.0.113.1')).toBe(false);
      advance(15_001); // 4 per minute
    }
    expect(t.check('203.0.113.1').allowed).toBe(true);
  });

  it('a success clears the failures of its source', () => {
    const { t } = throttle();
    for (let i = 0; i < 4; i++) t.recordFailure('203.0.113.2');
    t.recordSuccess('203.0.113.2');
    for (let i = 0; i < 4; i++) expect(t.recordFailure('203.0.113.2')).toBe(false);
  });

  it('treats one IPv6 /64 as one source, and IPv4-mapped addresses as IPv4', () => {
    expect(throttleSource('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('::1')).toBe('0:0:0:0::/64');
    expect(throttleSource('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const { t } = throttle({ maxFailures: 2 });
    t.recordFailure('2001:db8:1:2::1');
    t.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff');
    expect(t.check('2001:db8:1:2::99').allowed).toBe(false);
    expect(t.check('2001:db8:1:3::1').allowed).toBe(true);
  });

  it('is off with maxFailures 0', () => {
    const { t } = throttle({ maxFailures: 0 });
    for (let i = 0; i < 100; i++) expect(t.recordFailure('192.0.2.9')).toBe(false);
    expect(t.check('192.0.2.9').allowed).toBe(true);
    expect(t.trackedSources).toBe(0);
  });

  it('keeps memory bounded whatever the sources (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.ipV4(), fc.nat(120_000), fc.boolean()), { maxLength: 400 }), (events) => {
        const { t, advance } = throttle({ maxFailures: 3, maxTrackedSources: 25 });
        for (const [ip, dt, ok] of events) {
          advance(dt);
          if (t.check(ip).allowed) ok ? t.recordSuccess(ip) : t.recordFailure(ip);
          expect(t.trackedSources).toBeLessThanOrEqual(25);
        }
      }),
      { numRuns: 200 },
    );
  });
});
