/**
 * Recordings and thumbnails at the origin. Recordings come from a real S3-compatible server (s3rver, local/s3.ts)
 * through the origin's S3 adapter, exactly as the local stack serves them; thumbnails from a fake task's HLS
 * server. Covers the token rule (private recordings and channels), the recording item check, the bucket being
 * unset or down, the body budget and the Cache-Control per type.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordingPrefix, type Recording } from '../../../core/model';
import { staticPlaybackKey } from '../../../core/playback-secret';
import { playbackKey, signPlaybackToken } from '../../../core/playback-token';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { createOriginFromEnv } from '../../../functions/origin/build';
import { createFunctionUrlHandler } from '../../../functions/origin/lambda';
import { createMemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin, type Origin, type OriginDeps } from '../../../functions/origin/origin';
import { createRecordingsS3Client, s3RecordingObjects } from '../../../functions/origin/recording-objects';
import { createHttpUpstream, type HttpUpstream } from '../../../functions/origin/upstream';
import { type LocalS3, startLocalS3 } from '../../../local/s3';
import { makeRoute, memoryLogger, startFakeTask, type FakeTask } from './fake-task';

const SECRET = 'recordings-origin-test-secret-0123456789';
const KEY = playbackKey(SECRET);
const BUCKET = 'keyframe-recordings-test';
const PUB = 'PublicChan12';
const PRIV = 'PrivateChan1';
const OTHER = 'OtherChan123';
const R_PUB = 'mh3k2j1a0pubrec1';
const R_PRIV = 'mh3k2j1a0privre1';
const R_LIVE = 'mh3k2j1a0liverec';
const R_BARE = 'mh3k2j1a0barerec';
const S = 'k3j9x0a1b2';
const VOD = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-TARGETDURATION:1',
  '#EXT-X-PLAYLIST-TYPE:VOD',
  `#EXT-X-MAP:URI="${S}_init.mp4"`,
  '#EXTINF:1.000,',
  `${S}_0.m4s`,
  '#EXT-X-ENDLIST',
  '',
].join('\n');
const EVENT = VOD.replace('VOD', 'EVENT').replace('#EXT-X-ENDLIST\n', '');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
const SEGMENT = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));

function recording(id: string, playbackId: string, over: Partial<Recording> = {}): Recording {
  return {
    id,
    playbackId,
    channelName: playbackId.toLowerCase(),
    state: 'ready',
    startedAt: Date.parse('2030-01-01T12:00:00Z'),
    endedAt: Date.parse('2030-01-01T12:00:20Z'),
    durationSeconds: 20,
    segmentCount: 20,
    gaps: [],
    updatedAt: Date.parse('2030-01-01T12:00:20Z'),
    ...over,
  };
}

const items = new Map<string, Recording>([
  [R_PUB, recording(R_PUB, PUB)],
  [R_PRIV, recording(R_PRIV, PRIV, { private: true })],
  [R_LIVE, recording(R_LIVE, PUB, { state: 'recording', endedAt: undefined })],
  [R_BARE, recording(R_BARE, PUB)],
]);

let s3: LocalS3;
let client: S3Client;
let task: FakeTask;
let upstream: HttpUpstream;
let logger: ReturnType<typeof memoryLogger>;
const exp = () => Math.floor(Date.now() / 1000) + 600;

async function put(key: string, body: Buffer | string, contentType: string, cacheControl?: string): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType, ...(cacheControl ? { CacheControl: cacheControl } : {}) }),
  );
}

function origin(over: Partial<OriginDeps> = {}): Origin {
  return createOrigin({
    routes: {
      getRoute: async (id) => (id === PRIV ? makeRoute(PRIV, task.port, { private: true }) : id === PUB ? makeRoute(PUB, task.port) : undefined),
    },
    fetchUpstream: upstream.fetch,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 2000,
    segmentSeconds: 1,
    logger,
    metrics: createMemoryMetrics(),
    playbackKey: staticPlaybackKey(SECRET),
    recordings: { getRecording: async (id) => items.get(id) },
    recordingObjects: s3RecordingObjects({ bucket: BUCKET, endpoint: s3.endpoint }),
    ...over,
  });
}
const get = (o: Origin, path: string, method = 'GET') => o({ method, path, headers: {} });
const body = (res: { body: Buffer }) => JSON.parse(res.body.toString('utf8'));

beforeAll(async () => {
  s3 = await startLocalS3({ memory: true, buckets: [BUCKET] });
  client = createRecordingsS3Client({ endpoint: s3.endpoint });
  // The recorder's objects, with the Cache-Control it sets on each.
  await put(`${recordingPrefix(PUB, R_PUB)}index.m3u8`, VOD, 'application/vnd.apple.mpegurl', 'public, max-age=60');
  await put(`${recordingPrefix(PUB, R_PUB)}poster.jpg`, JPEG, 'image/jpeg', 'public, max-age=86400');
  await put(`${recordingPrefix(PUB, R_PUB)}${S}_init.mp4`, SEGMENT.subarray(0, 800), 'video/mp4', 'public, max-age=31536000, immutable');
  await put(`${recordingPrefix(PUB, R_PUB)}${S}_0.m4s`, SEGMENT, 'video/iso.segment', 'public, max-age=31536000, immutable');
  await put(`${recordingPrefix(PRIV, R_PRIV)}index.m3u8`, VOD, 'application/vnd.apple.mpegurl', 'public, max-age=60');
  await put(`${recordingPrefix(PRIV, R_PRIV)}poster.jpg`, JPEG, 'image/jpeg', 'public, max-age=86400');
  await put(`${recordingPrefix(PRIV, R_PRIV)}${S}_0.m4s`, SEGMENT, 'video/iso.segment', 'public, max-age=31536000, immutable');
  await put(`${recordingPrefix(PUB, R_LIVE)}index.m3u8`, EVENT, 'application/vnd.apple.mpegurl', 'public, max-age=1');
  // Objects without a Cache-Control of their own: the origin's policy applies.
  await put(`${recordingPrefix(PUB, R_BARE)}index.m3u8`, VOD, 'application/vnd.apple.mpegurl');
  await put(`${recordingPrefix(PUB, R_BARE)}poster.jpg`, JPEG, 'image/jpeg');
  await put(`${recordingPrefix(PUB, R_BARE)}${S}_0.m4s`, SEGMENT, 'video/iso.segment');
  await put(`${recordingPrefix(PUB, R_BARE)}${S}_init.mp4`, SEGMENT.subarray(0, 10), 'video/mp4');
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await s3?.close();
});
beforeEach(async () => {
  task = await startFakeTask();
  upstream = createHttpUpstream();
  logger = memoryLogger();
  task.files.set(`/${PUB}/thumbnail.jpg`, JPEG);
  task.files.set(`/${PRIV}/thumbnail.jpg`, JPEG);
});
afterEach(async () => {
  upstream.close();
  await task.close();
  if (!s3.running) await s3.start();
});

describe('recordings from the bucket', () => {
  const base = `/recordings/${PUB}/${R_PUB}`;

  it.each([
    [`${base}/index.m3u8`, 'application/vnd.apple.mpegurl', 'public, max-age=60', Buffer.from(VOD)],
    [`${base}/poster.jpg`, 'image/jpeg', 'public, max-age=86400', JPEG],
    [`${base}/${S}_init.mp4`, 'video/mp4', 'public, max-age=31536000, immutable', SEGMENT.subarray(0, 800)],
    [`${base}/${S}_0.m4s`, 'video/iso.segment', 'public, max-age=31536000, immutable', SEGMENT],
  ])('GET %s → 200 %s, the object’s own %s', async (path, type, cacheControl, bytes) => {
    const res = await get(origin(), path);
    expect(res.statusCode).toBe(200);
    expect(res.headers).toEqual({ 'Access-Control-Allow-Origin': '*', 'Content-Type': type, 'Cache-Control': cacheControl });
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('the live recording’s EVENT playlist keeps its short cache', async () => {
    const res = await get(origin(), `/recordings/${PUB}/${R_LIVE}/index.m3u8`);
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe(EVENT);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
  });

  it.each([
    ['index.m3u8', 'public, max-age=60'],
    ['poster.jpg', 'public, max-age=86400'],
    [`${S}_0.m4s`, 'public, max-age=1209600, immutable'],
    [`${S}_init.mp4`, 'public, max-age=1209600, immutable'],
  ])('an object without Cache-Control (%s) gets the policy of its type: %s', async (file, cacheControl) => {
    const res = await get(origin(), `/recordings/${PUB}/${R_BARE}/${file}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['Cache-Control']).toBe(cacheControl);
  });

  it('HEAD answers the headers with an empty body', async () => {
    const res = await get(origin(), `${base}/${S}_0.m4s`, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('video/iso.segment');
    expect(res.body.length).toBe(0);
  });

  it('404s an unknown recording, one of another playback ID, and a missing object, cached a second', async () => {
    const o = origin();
    const cases: Array<[string, string]> = [
      [`/recordings/${PUB}/zzzzzzzzzzzzzzzz/index.m3u8`, 'No such recording'],
      [`/recordings/${PUB}/zzzzzzzzzzzzzzzz/poster.jpg`, 'No such recording'],
      // The item exists, but under another channel: a known recording ID does not open another playback ID.
      [`/recordings/${OTHER}/${R_PUB}/index.m3u8`, 'No such recording'],
      [`/recordings/${PUB}/${R_PRIV}/index.m3u8`, 'No such recording'],
      [`/recordings/${PUB}/${R_LIVE}/poster.jpg`, 'No such file'],
      [`${base}/${S}_9.m4s`, 'No such file'],
      [`/recordings/${OTHER}/${R_PUB}/${S}_0.m4s`, 'No such file'],
    ];
    for (const [path, message] of cases) {
      const res = await get(o, path);
      expect(res.statusCode, path).toBe(404);
      expect(res.headers['Cache-Control']).toBe('public, max-age=1');
      expect(body(res)).toEqual({ error: 'NotFound', message, statusCode: 404 });
    }
  });

  it('400s bad shapes before any look-up, and any query on segments', async () => {
    let lookups = 0;
    const o = origin({
      recordings: {
        getRecording: async (id) => {
          lookups++;
          return items.get(id);
        },
      },
    });
    for (const path of [
      `/recordings/${PUB}/${R_PUB}/../${R_PRIV}/index.m3u8`,
      `/recordings/${PUB}/${R_PUB}/%2e%2e/index.m3u8`,
      `/recordings/${PUB}/${R_PUB.slice(1)}/index.m3u8`,
      `/recordings/${PUB}/${R_PUB}/${S}_0.m4s?token=${signPlaybackToken(KEY, PUB, exp())}`,
      `/recordings/${PUB}/${R_PUB}/index.m3u8?_HLS_msn=1`,
      `/recordings/${PUB}/${R_PUB}/other.jpg`,
    ]) {
      expect((await get(o, path)).statusCode, path).toBe(400);
    }
    expect(lookups).toBe(0);
  });
});

describe('private recordings', () => {
  const base = `/recordings/${PRIV}/${R_PRIV}`;

  it('serve the playlist and poster with a valid token, and segments without one', async () => {
    const o = origin();
    const token = signPlaybackToken(KEY, PRIV, exp());
    for (const file of ['index.m3u8', 'poster.jpg']) {
      const res = await get(o, `${base}/${file}?token=${token}`);
      expect(res.statusCode, file).toBe(200);
    }
    expect((await get(o, `${base}/${S}_0.m4s`)).statusCode).toBe(200);
    expect(JSON.stringify(logger.lines)).not.toContain(token.split('.')[1]);
  });

  it('403 the playlist and poster without, with an expired, forged or other-channel token (the live messages)', async () => {
    const o = origin();
    const past = Math.floor(Date.now() / 1000) - 1;
    const cases: Array<[string, string]> = [
      ['', 'Playback token required'],
      [`?token=${signPlaybackToken(KEY, PRIV, past)}`, 'Playback token expired'],
      [`?token=${signPlaybackToken(playbackKey('another-secret-entirely-0123456789abcdef'), PRIV, exp())}`, 'Playback token invalid'],
      [`?token=${signPlaybackToken(KEY, PUB, exp())}`, 'Playback token invalid'],
      [`?token=${exp()}.${'A'.repeat(43)}`, 'Playback token invalid'],
    ];
    for (const file of ['index.m3u8', 'poster.jpg']) {
      for (const [query, message] of cases) {
        const res = await get(o, `${base}/${file}${query}`);
        expect(res.statusCode, `${file}${query}`).toBe(403);
        expect(res.headers['Cache-Control']).toBe('public, max-age=1');
        expect(body(res)).toEqual({ error: 'Forbidden', message, statusCode: 403 });
      }
    }
  });

  it('are 503 on an origin with no playback secret, as private live playlists are', async () => {
    const res = await get(origin({ playbackKey: undefined }), `${base}/index.m3u8`);
    expect(res.statusCode).toBe(503);
    expect(body(res).message).toBe('Private playback is unavailable');
  });
});

describe('thumbnails from the task', () => {
  it('serve /<playbackId>/thumbnail.jpg as a JPEG with a short cache, fetched each time it expires', async () => {
    const o = origin();
    const res = await get(o, `/${PUB}/thumbnail.jpg`);
    expect(res.statusCode).toBe(200);
    expect(res.headers).toEqual({ 'Access-Control-Allow-Origin': '*', 'Content-Type': 'image/jpeg', 'Cache-Control': 'public, max-age=5' });
    expect(res.body.equals(JPEG)).toBe(true);
    // Never kept in the segment cache: the next request sees the task's current picture.
    const next = Buffer.from([0xff, 0xd8, 9, 9, 0xff, 0xd9]);
    task.files.set(`/${PUB}/thumbnail.jpg`, next);
    expect((await get(o, `/${PUB}/thumbnail.jpg`)).body.equals(next)).toBe(true);
    expect(task.count(`/${PUB}/thumbnail.jpg`)).toBe(2);
  });

  it('404 (cached a second) while the task has none yet, or the stream is not live', async () => {
    task.files.delete(`/${PUB}/thumbnail.jpg`);
    for (const path of [`/${PUB}/thumbnail.jpg`, `/${OTHER}/thumbnail.jpg`]) {
      const res = await get(origin(), path);
      expect(res.statusCode, path).toBe(404);
      expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    }
  });

  it('of a private channel need a valid token, as its playlists do; the token never reaches the task', async () => {
    const o = origin();
    const token = signPlaybackToken(KEY, PRIV, exp());
    expect((await get(o, `/${PRIV}/thumbnail.jpg`)).statusCode).toBe(403);
    expect(body(await get(o, `/${PRIV}/thumbnail.jpg?token=${signPlaybackToken(KEY, PUB, exp())}`)).message).toBe('Playback token invalid');
    expect(task.count(`/${PRIV}/thumbnail.jpg`)).toBe(0);
    const res = await get(o, `/${PRIV}/thumbnail.jpg?token=${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.body.equals(JPEG)).toBe(true);
    expect([...task.requests.keys()].some((p) => p.includes('token'))).toBe(false);
    // A public channel's thumbnail takes a token too (a player adds it whatever the channel), and ignores it.
    expect((await get(o, `/${PUB}/thumbnail.jpg?token=${token}`)).statusCode).toBe(200);
  });
});

describe('when the bucket is unset, down or the object too large', () => {
  it('unset: every recordings path is 404, and the log line says why', async () => {
    const o = origin({ recordingObjects: undefined });
    for (const file of ['index.m3u8', 'poster.jpg', `${S}_0.m4s`]) {
      const res = await get(o, `/recordings/${PUB}/${R_PUB}/${file}`);
      expect(res.statusCode).toBe(404);
      expect(body(res)).toEqual({ error: 'NotFound', message: 'No such recording', statusCode: 404 });
    }
    expect(logger.lines.at(-1)).toMatchObject({ attributes: { status: 404, recordings: 'unconfigured', recordingId: R_PUB } });
  });

  it('down: 503, never cached, with a body that names no endpoint or bucket; served again once it is back', async () => {
    const o = origin();
    await s3.stop();
    for (const file of ['index.m3u8', `${S}_0.m4s`]) {
      const res = await get(o, `/recordings/${PUB}/${R_PUB}/${file}`);
      expect(res.statusCode, file).toBe(503);
      expect(res.headers['Cache-Control']).toBe('no-store');
      expect(body(res)).toEqual({ error: 'ServiceUnavailable', message: 'Recording storage unavailable', statusCode: 503 });
      expect(res.body.toString()).not.toContain(String(s3.port));
      expect(res.body.toString()).not.toContain(BUCKET);
    }
    expect(logger.lines.at(-1)).toMatchObject({ message: 'origin request failed', attributes: { status: 503, recordings: 'storage-failed' } });
    await s3.start();
    expect((await get(o, `/recordings/${PUB}/${R_PUB}/${S}_0.m4s`)).statusCode).toBe(200);
  });

  it('the recording look-up failing is a 503 too', async () => {
    const o = origin({ recordings: { getRecording: async () => Promise.reject(new Error('table unreachable')) } });
    const res = await get(o, `/recordings/${PUB}/${R_PUB}/index.m3u8`);
    expect(res.statusCode).toBe(503);
    expect(body(res).message).toBe('Recording lookup failed');
  });

  it('an object over the body budget is a 502, never buffered whole', async () => {
    const res = await get(origin({ maxBodyBytes: 65_536 }), `/recordings/${PUB}/${R_PUB}/${S}_0.m4s`);
    expect(res.statusCode).toBe(502);
    expect(body(res)).toEqual({ error: 'BadGateway', message: 'Recording object too large', statusCode: 502 });
  });

  it('an unknown bucket is a 502 (misconfiguration), not a 404', async () => {
    const o = origin({ recordingObjects: s3RecordingObjects({ bucket: 'no-such-bucket-here', endpoint: s3.endpoint }) });
    const res = await get(o, `/recordings/${PUB}/${R_PUB}/${S}_0.m4s`);
    expect(res.statusCode).toBe(502);
    expect(body(res).message).toBe('Recording storage failed');
  });
});

describe('the origin built from its environment', () => {
  const env = (over: Record<string, string> = {}) => ({
    KEYFRAME_TABLE: 'unused',
    KEYFRAME_LOG_LEVEL: 'SILENT',
    KEYFRAME_UPSTREAM_CIDRS: '127.0.0.0/8',
    KEYFRAME_UPSTREAM_PORTS: '*',
    KEYFRAME_PLAYBACK_SECRET: SECRET,
    ...over,
  });
  const NO_METRICS = { publishStoredMetrics: () => undefined, addMetric: () => undefined };
  const store = {
    getRoute: async () => undefined,
    listRoutes: async () => [],
    listChannels: async () => [],
    getRecording: async (id: string) => items.get(id),
  };

  it('reads KEYFRAME_RECORDING_BUCKET and KEYFRAME_S3_ENDPOINT', async () => {
    const { origin: o } = createOriginFromEnv({
      env: env({ KEYFRAME_RECORDING_BUCKET: BUCKET, KEYFRAME_S3_ENDPOINT: s3.endpoint }),
      routes: store,
      metrics: NO_METRICS,
    });
    const res = await get(o, `/recordings/${PUB}/${R_PUB}/index.m3u8`);
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe(VOD);
  });

  it('without KEYFRAME_RECORDING_BUCKET answers 404 on recordings paths', async () => {
    const { origin: o } = createOriginFromEnv({ env: env(), routes: store, metrics: NO_METRICS });
    expect((await get(o, `/recordings/${PUB}/${R_PUB}/index.m3u8`)).statusCode).toBe(404);
  });
});

describe('through the function URL', () => {
  const event = (rawPath: string, rawQueryString = '') =>
    ({
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString,
      headers: {},
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 't' } },
    }) as unknown as LambdaFunctionURLEvent;

  it('sends posters and segments as base64 (bytes intact), playlists as text, and passes the token query through', async () => {
    const handler = createFunctionUrlHandler(origin());
    const call = async (path: string, query = '') =>
      (await handler(event(path, query), {} as never, () => undefined)) as Exclude<LambdaFunctionURLResult, string>;
    const poster = await call(`/recordings/${PRIV}/${R_PRIV}/poster.jpg`, `token=${signPlaybackToken(KEY, PRIV, exp())}`);
    expect(poster.statusCode).toBe(200);
    expect(poster.isBase64Encoded).toBe(true);
    expect(Buffer.from(poster.body ?? '', 'base64').equals(JPEG)).toBe(true);
    const segment = await call(`/recordings/${PUB}/${R_PUB}/${S}_0.m4s`);
    expect(Buffer.from(segment.body ?? '', 'base64').equals(SEGMENT)).toBe(true);
    const playlist = await call(`/recordings/${PUB}/${R_PUB}/index.m3u8`);
    expect(playlist.isBase64Encoded).toBe(false);
    expect(playlist.body).toBe(VOD);
    expect((await call(`/recordings/${PRIV}/${R_PRIV}/poster.jpg`)).statusCode).toBe(403);
  });
});
