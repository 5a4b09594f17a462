/**
 * `GET /api/streams` with recordings and thumbnails: each live stream's thumbnail URL and live-rewind recording,
 * the newest recordings of public, active channels, nothing of private channels or private recordings, the
 * look-ups bounded, and the memo and coalescing kept.
 */
import { describe, expect, it } from 'vitest';
import type { Channel, Recording, Route } from '../../../core/model';
import { createMemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin } from '../../../functions/origin/origin';
import {
  createStreamLister,
  MAX_LISTED_RECORDINGS,
  MAX_RECORDING_LOOKUPS,
  publicRecordings,
  RECORDING_LOOKUP_CONCURRENCY,
  recordingLookupOrder,
  type StreamListing,
} from '../../../functions/origin/streams';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const HASH = 'b'.repeat(64);

function channel(playbackId: string, name: string, over: Partial<Channel> = {}): Channel {
  return { playbackId, name, keyHash: HASH, state: 'active', createdAt: '2029-12-01T00:00:00Z', ...over };
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
let seq = 0;
function rec(playbackId: string, startedAt: number, over: Partial<Recording> = {}): Recording {
  seq++;
  return {
    id: `${startedAt.toString(36).padStart(9, '0').slice(-9)}${String(seq).padStart(7, 'a')}`.slice(0, 16),
    playbackId,
    channelName: 'ignored',
    state: 'ready',
    startedAt,
    endedAt: startedAt + 20_000,
    durationSeconds: 20.0004,
    segmentCount: 20,
    gaps: [{ session: 'k3j9x0a1b2', fromMsn: 3, toMsn: 4, startedAt, seconds: 2, reason: 'spool-full' }],
    updatedAt: startedAt + 20_000,
    ...over,
  };
}

const PUB = 'PubLive12345';
const REC = 'RecOff123456';
const PRIV = 'PrivLive1234';
const REVOKED = 'Revoked12345';
const LIVE_REC_ID = 'mh3k2j1a0liverec';

const live = rec(PUB, NOW - 60_000, { id: LIVE_REC_ID, state: 'recording', endedAt: undefined });
const old = rec(REC, NOW - 86_400_000);
const incomplete = rec(REC, NOW - 3_600_000, { state: 'incomplete' });
const failed = rec(REC, NOW - 1000, { state: 'failed' });
const madePrivate = rec(REC, NOW - 2000, { private: true });
const privRec = rec(PRIV, NOW - 500);
const revokedRec = rec(REVOKED, NOW - 500);

function listing(over: Partial<StreamListing> = {}): StreamListing & { queried: string[] } {
  const queried: string[] = [];
  const all = [live, old, incomplete, failed, madePrivate, privRec, revokedRec];
  return {
    queried,
    listRoutes: async () => [route(PUB, { recordingId: LIVE_REC_ID }), route(PRIV, { private: true, recordingId: privRec.id })],
    listChannels: async () => [
      channel(PUB, 'alpha', { record: true }),
      channel(REC, 'bravo', { record: true }),
      channel(PRIV, 'secret', { private: true, record: true }),
      channel(REVOKED, 'gone', { state: 'revoked' }),
    ],
    listRecordingsOfChannel: async (id) => {
      queried.push(id);
      return all.filter((r) => r.playbackId === id).sort((a, b) => b.startedAt - a.startedAt);
    },
    ...over,
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
async function getStreams(l: StreamListing) {
  const o = createOrigin({
    routes: { getRoute: async () => undefined },
    listing: l,
    now: () => NOW,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 1000,
    segmentSeconds: 1,
    logger: silent,
    metrics: createMemoryMetrics(),
  });
  const res = await o({ method: 'GET', path: '/api/streams', headers: {} });
  expect(res.statusCode).toBe(200);
  return { text: res.body.toString('utf8'), body: JSON.parse(res.body.toString('utf8')) };
}

describe('GET /api/streams: thumbnails and recordings', () => {
  it('gives each live stream its thumbnail URL and, when recorded, its live recording (relative URLs)', async () => {
    const { body } = await getStreams(listing());
    expect(body.streams).toEqual([
      {
        playbackId: PUB,
        name: 'alpha',
        startedAt: new Date(NOW - 60_000).toISOString(),
        thumbnailUrl: `/${PUB}/thumbnail.jpg`,
        recording: { id: LIVE_REC_ID, playbackUrl: `/recordings/${PUB}/${LIVE_REC_ID}/index.m3u8` },
      },
    ]);
  });

  it('lists the newest recordings of public, active channels with public fields only', async () => {
    const { body } = await getStreams(listing());
    expect(body.recordings).toEqual([
      {
        id: LIVE_REC_ID,
        playbackId: PUB,
        channel: 'alpha',
        state: 'recording',
        startedAt: new Date(live.startedAt).toISOString(),
        durationSeconds: 20,
        playbackUrl: `/recordings/${PUB}/${LIVE_REC_ID}/index.m3u8`,
        posterUrl: `/recordings/${PUB}/${LIVE_REC_ID}/poster.jpg`,
      },
      {
        id: incomplete.id,
        playbackId: REC,
        channel: 'bravo',
        state: 'incomplete',
        startedAt: new Date(incomplete.startedAt).toISOString(),
        endedAt: new Date(incomplete.endedAt!).toISOString(),
        durationSeconds: 20,
        playbackUrl: `/recordings/${REC}/${incomplete.id}/index.m3u8`,
        posterUrl: `/recordings/${REC}/${incomplete.id}/poster.jpg`,
      },
      expect.objectContaining({ id: old.id, state: 'ready' }),
    ]);
  });

  it('never shows a private channel, a recording made while private, a failed one, or anything secret', async () => {
    const l = listing();
    const { text, body } = await getStreams(l);
    for (const id of [PRIV, REVOKED, privRec.id, revokedRec.id, failed.id, madePrivate.id]) expect(text).not.toContain(id);
    for (const secret of [
      HASH.slice(0, 16),
      'keyHash',
      'arn:aws',
      'taskArn',
      'k3j9x0a1b2',
      '10.1.2.3',
      '8080',
      'gaps',
      'spool-full',
      'secret',
      'private',
    ]) {
      expect(text).not.toContain(secret);
    }
    // Private and revoked channels are not even queried.
    expect(l.queried.sort()).toEqual([PUB, REC].sort());
    for (const r of body.recordings) {
      expect(Object.keys(r).sort()).toEqual(
        [
          'channel',
          'durationSeconds',
          'id',
          'playbackId',
          'playbackUrl',
          'posterUrl',
          'startedAt',
          'state',
          ...('endedAt' in r ? ['endedAt'] : []),
        ].sort(),
      );
    }
  });

  it('keeps at most MAX_LISTED_RECORDINGS, and queries at most MAX_RECORDING_LOOKUPS channels, a few at a time', async () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      channel(`Chan${String(i).padStart(8, '0')}`, `c${i}`, { createdAt: new Date(NOW - i * 1000).toISOString() }),
    );
    let inFlight = 0;
    let peak = 0;
    const queried: string[] = [];
    const l: StreamListing = {
      listRoutes: async () => [route(many[39].playbackId)],
      listChannels: async () => many,
      listRecordingsOfChannel: async (id) => {
        queried.push(id);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await Promise.resolve();
        inFlight--;
        return [rec(id, NOW - 10_000), rec(id, NOW - 20_000)];
      },
    };
    const { body } = await getStreams(l);
    expect(body.recordings).toHaveLength(MAX_LISTED_RECORDINGS);
    expect(queried).toHaveLength(MAX_RECORDING_LOOKUPS);
    expect(peak).toBeLessThanOrEqual(RECORDING_LOOKUP_CONCURRENCY);
    // The live channel first, then the newest channels.
    expect(queried[0]).toBe(many[39].playbackId);
    expect(new Set(queried)).toEqual(new Set([many[39], ...many.slice(0, MAX_RECORDING_LOOKUPS - 1)].map((c) => c.playbackId)));
  });

  it('orders the look-ups: live, then recorded, then the newest channels', () => {
    const channels = [
      channel('Plain0000001', 'p1', { createdAt: '2029-12-03T00:00:00Z' }),
      channel('Recorded0001', 'r1', { record: true, createdAt: '2029-01-01T00:00:00Z' }),
      channel('LiveNow00001', 'l1', { createdAt: '2028-01-01T00:00:00Z' }),
      channel('Plain0000002', 'p2', { createdAt: '2029-12-04T00:00:00Z' }),
    ];
    const order = recordingLookupOrder([route('LiveNow00001')], channels, NOW).map((c) => c.name);
    expect(order).toEqual(['l1', 'r1', 'p2', 'p1']);
    expect(recordingLookupOrder([], channels, NOW, 2).map((c) => c.name)).toEqual(['r1', 'p2']);
  });

  it('has no recordings without a recordings store, and a failed recordings look-up fails the listing (503)', async () => {
    const { body } = await getStreams(listing({ listRecordingsOfChannel: undefined }));
    expect(body.recordings).toEqual([]);
    expect(body.streams).toHaveLength(1);
    const o = createOrigin({
      routes: { getRoute: async () => undefined },
      listing: listing({ listRecordingsOfChannel: async () => Promise.reject(new Error('table down')) }),
      now: () => NOW,
      routeCacheMs: 1000,
      upstreamTimeoutMs: 1000,
      segmentSeconds: 1,
      logger: silent,
      metrics: createMemoryMetrics(),
    });
    expect((await o({ method: 'GET', path: '/api/streams', headers: {} })).statusCode).toBe(503);
  });

  it('drops a route whose recording ID is malformed rather than echo it', () => {
    expect(publicRecordings([channel(PUB, 'alpha')], [{ ...live, id: '../../etc' }])).toEqual([]);
  });

  it('keeps the memo and the coalescing: one round of look-ups for concurrent and repeated calls', async () => {
    let now = NOW;
    const l = listing();
    let scans = 0;
    const counted: StreamListing = {
      ...l,
      listRoutes: async () => {
        scans++;
        return l.listRoutes();
      },
    };
    const lister = createStreamLister(counted, { now: () => now, memoMs: 1000 });
    const [a, b] = await Promise.all([lister.list(), lister.list()]);
    expect(a).toBe(b);
    await lister.list();
    expect(scans).toBe(1);
    expect(l.queried).toHaveLength(2);
    now += 1000;
    await lister.list();
    expect(scans).toBe(2);
    expect(l.queried).toHaveLength(4);
  });
});
