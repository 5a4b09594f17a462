import { describe, expect, it } from 'vitest';
import type { Route } from '../../../core/model';
import { createRouteCache } from '../../../functions/origin/route-cache';
import { SegmentCache } from '../../../functions/origin/segment-cache';
import { waitFor } from '../../support/wait';

const route = (playbackId: string): Route => ({
  playbackId,
  taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/keyframe/abc',
  host: '127.0.0.1',
  port: 8080,
  session: 'k3j9x0a1b2',
  startedAt: 0,
  heartbeatAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
  mediaSequence: 0,
  discontinuitySequence: 0,
});

describe('route cache', () => {
  it('caches found and missing routes for the window, then reads again', async () => {
    let clock = 1_000;
    const calls: string[] = [];
    const cache = createRouteCache({
      ttlMs: 1000,
      now: () => clock,
      getRoute: async (id) => {
        calls.push(id);
        return id === 'known' ? route(id) : undefined;
      },
    });
    expect((await cache.get('known')).cache).toBe('miss');
    expect(await cache.get('known')).toMatchObject({ cache: 'hit', route: { playbackId: 'known' } });
    expect(await cache.get('unknown')).toEqual({ cache: 'miss', route: undefined });
    expect(await cache.get('unknown')).toEqual({ cache: 'hit', route: undefined });
    clock += 999;
    await cache.get('known');
    await cache.get('unknown');
    expect(calls).toEqual(['known', 'unknown']);
    clock += 1;
    expect((await cache.get('known')).cache).toBe('miss');
    expect((await cache.get('unknown')).cache).toBe('miss');
    expect(calls).toEqual(['known', 'unknown', 'known', 'unknown']);
  });

  it('coalesces concurrent look-ups and does not cache a failure', async () => {
    let calls = 0;
    let fail = true;
    // Each look-up waits for the test to open its gate: all 20 gets are in before it answers.
    let open = () => {};
    const cache = createRouteCache({
      ttlMs: 1000,
      getRoute: async (id) => {
        calls++;
        await new Promise<void>((r) => (open = r));
        if (fail) throw new Error('store down');
        return route(id);
      },
    });
    const failing = Promise.allSettled(Array.from({ length: 20 }, () => cache.get('x')));
    await waitFor('the look-up', () => calls > 0);
    open();
    const results = await failing;
    expect(calls).toBe(1);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    fail = false;
    const succeeding = Promise.all(Array.from({ length: 20 }, () => cache.get('x')));
    await waitFor('the second look-up', () => calls > 1);
    open();
    const ok = await succeeding;
    expect(calls).toBe(2);
    expect(ok.filter((r) => r.cache === 'miss')).toHaveLength(1);
    expect(ok.filter((r) => r.cache === 'coalesced')).toHaveLength(19);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const cache = createRouteCache({
      ttlMs: 1000,
      getRoute: () => {
        throw new Error('sync');
      },
    });
    await expect(cache.get('x')).rejects.toThrow('sync');
  });

  it('keeps at most maxEntries', async () => {
    const cache = createRouteCache({ ttlMs: 1000, maxEntries: 3, getRoute: async (id) => route(id) });
    for (const id of ['a', 'b', 'c', 'd', 'e']) await cache.get(id);
    expect(cache.size).toBe(3);
  });
});

describe('segment cache', () => {
  it('evicts least recently used entries past the byte bound', () => {
    const cache = new SegmentCache({ maxBytes: 400, ttlMs: 60_000 });
    cache.set('a', Buffer.alloc(100));
    cache.set('b', Buffer.alloc(100));
    cache.set('c', Buffer.alloc(100));
    cache.get('a'); // a is now the most recent
    cache.set('d', Buffer.alloc(100));
    cache.set('e', Buffer.alloc(100));
    expect(cache.bytes).toBeLessThanOrEqual(400);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('e')).toBeDefined();
  });

  it('expires entries and skips bodies too large to share the cache', () => {
    let clock = 0;
    const cache = new SegmentCache({ maxBytes: 400, ttlMs: 1000, now: () => clock });
    cache.set('a', Buffer.alloc(10));
    cache.set('big', Buffer.alloc(101));
    expect(cache.get('big')).toBeUndefined();
    clock = 999;
    expect(cache.get('a')).toBeDefined();
    clock = 1000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});
