import { describe, expect, it } from 'vitest';
import { createMemoryMetrics } from '../../functions/origin/metrics';
import { createOrigin, type OriginDeps } from '../../functions/origin/origin';
import { createStreamLister, liveStreams, type StreamListing } from '../../functions/origin/streams';
import type { Channel, Route } from '../../core/model';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const HASH = 'a'.repeat(64);

function channel(playbackId: string, name: string, over: Partial<Channel> = {}): Channel {
  return {
    playbackId,
    name,
    keyHash: `${HASH.slice(0, 60)}${playbackId.slice(0, 4).toLowerCase()}`,
    state: 'active',
    createdAt: '2029-12-01T00:00:00Z',
    ...over,
  };
}

function route(playbackId: string, over: Partial<Route> = {}): Route {
  return {
    playbackId,
    taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/keyframe/0123456789abcdef',
    host: '10.1.2.3',
    port: 8080,
    session: 'k3j9x0a1b2',
    startedAt: NOW - 60_000,
    heartbeatAt: NOW - 1000,
    expiresAt: NOW + 14_000,
    mediaSequence: 42,
    discontinuitySequence: 0,
    ...over,
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function origin(listing: StreamListing | undefined, over: Partial<OriginDeps> = {}) {
  return createOrigin({
    routes: { getRoute: async () => undefined },
    listing,
    now: () => NOW,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 1000,
    segmentSeconds: 1,
    logger: silent,
    metrics: createMemoryMetrics(),
    ...over,
  });
}

const LIVE_A = 'AAAAbbbb1111';
const LIVE_B = 'BBBBcccc2222';
const EXPIRED = 'CCCCdddd3333';
const REVOKED = 'DDDDeeee4444';
const PRIVATE = 'EEEEffff5555';
const OFFLINE = 'FFFFgggg6666';

const fixture: StreamListing = {
  listRoutes: async () => [
    route(LIVE_A, { startedAt: NOW - 120_000 }),
    route(LIVE_B, { startedAt: NOW - 5_000, host: '10.9.9.9', port: 18080 }),
    route(EXPIRED, { expiresAt: NOW - 1 }),
    route(REVOKED),
    route(PRIVATE, { private: true }),
    route('ZZZZnochan99'), // a route whose channel is gone
  ],
  listChannels: async () => [
    channel(LIVE_A, 'alpha'),
    channel(LIVE_B, 'bravo'),
    channel(EXPIRED, 'expired'),
    channel(REVOKED, 'revoked', { state: 'revoked' }),
    channel(PRIVATE, 'private', { private: true }),
    channel(OFFLINE, 'offline'),
  ],
};

describe('GET /api/streams', () => {
  it('lists live public channels only, newest first, with public fields only', async () => {
    const res = await origin(fixture)({ method: 'GET', path: '/api/streams', headers: {} });
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toMatch(/^application\/json/);
    expect(res.headers['Cache-Control']).toBe('public, max-age=2');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('*');
    const body = JSON.parse(res.body.toString('utf8'));
    expect(body).toEqual({
      streams: [
        { playbackId: LIVE_B, name: 'bravo', startedAt: new Date(NOW - 5_000).toISOString(), thumbnailUrl: `/${LIVE_B}/thumbnail.jpg` },
        { playbackId: LIVE_A, name: 'alpha', startedAt: new Date(NOW - 120_000).toISOString(), thumbnailUrl: `/${LIVE_A}/thumbnail.jpg` },
      ],
      recordings: [],
    });
  });

  it('never carries keys, key hashes, task ARNs, sessions, hosts or ports', async () => {
    const text = (await origin(fixture)({ method: 'GET', path: '/api/streams', headers: {} })).body.toString('utf8');
    for (const secret of [
      HASH.slice(0, 16),
      'kf_',
      'keyHash',
      'arn:aws',
      'taskArn',
      'k3j9x0a1b2',
      '10.1.2.3',
      '10.9.9.9',
      '8080',
      'host',
      'port',
      'session',
    ]) {
      expect(text).not.toContain(secret);
    }
    for (const s of JSON.parse(text).streams) expect(Object.keys(s).sort()).toEqual(['name', 'playbackId', 'startedAt', 'thumbnailUrl']);
  });

  it('answers HEAD with headers only, keeps the strict parser for anything near it, and 503s a failed look-up', async () => {
    const o = origin(fixture);
    const head = await o({ method: 'HEAD', path: '/api/streams', headers: {} });
    expect(head.statusCode).toBe(200);
    expect(head.body.length).toBe(0);
    for (const path of ['/api/streams?x=1', '/api/streams/', '/api/Streams', '/api/streams/../x']) {
      expect((await o({ method: 'GET', path, headers: {} })).statusCode, path).toBe(400);
    }
    expect((await o({ method: 'POST', path: '/api/streams', headers: {} })).statusCode).toBe(405);

    const failing = origin({ listRoutes: async () => Promise.reject(new Error('table unreachable at 10.0.0.1')), listChannels: async () => [] });
    const res = await failing({ method: 'GET', path: '/api/streams', headers: {} });
    expect(res.statusCode).toBe(503);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(res.body.toString()).not.toContain('10.0.0.1');
  });

  it('is 400 on an origin without a listing (the strict path parser decides)', async () => {
    expect((await origin(undefined)({ method: 'GET', path: '/api/streams', headers: {} })).statusCode).toBe(400);
  });

  it('memoizes the scan briefly and coalesces concurrent look-ups', async () => {
    let now = NOW;
    let scans = 0;
    // The first scan stays in flight until both look-ups have been made.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lister = createStreamLister(
      {
        listRoutes: async () => {
          scans++;
          await gate;
          return [route(LIVE_A)];
        },
        listChannels: async () => [channel(LIVE_A, 'alpha')],
      },
      { now: () => now, memoMs: 1000 },
    );
    const both = Promise.all([lister.list(), lister.list()]);
    release();
    const [a, b] = await both;
    expect(a).toBe(b);
    expect(scans).toBe(1);
    now += 500;
    await lister.list();
    expect(scans).toBe(1);
    now += 600;
    await lister.list();
    expect(scans).toBe(2);
  });

  it('liveStreams: one entry per playback ID, expired routes left out at the exact expiry', () => {
    const routes = [route(LIVE_A, { expiresAt: NOW }), route(LIVE_B), route(LIVE_B, { session: 'zzzzzzzzzz' })];
    expect(liveStreams(routes, [channel(LIVE_A, 'alpha'), channel(LIVE_B, 'bravo')], NOW).map((s) => s.playbackId)).toEqual([LIVE_B]);
  });
});
