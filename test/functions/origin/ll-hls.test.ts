import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryMetrics, type MemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin, type Origin, type OriginDeps } from '../../../functions/origin/origin';
import { createHttpUpstream, type FetchUpstream, type HttpUpstream } from '../../../functions/origin/upstream';
import { waitFor } from '../../support/wait';
import { fakeRoutes, makeRoute, memoryLogger, startFakeTask, type FakeTask } from './fake-task';

/** LL-HLS through the origin: blocking reloads and parts pass the strict rules, coalesce, and wait long enough. */
const ID = 'AbCdEf123456';
const S = 'k3j9x0a1b2';
const LL = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-TARGETDURATION:1',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,HOLD-BACK=3',
  '#EXT-X-PART-INF:PART-TARGET=0.334',
  '#EXT-X-MEDIA-SEQUENCE:5',
  `#EXT-X-MAP:URI="${S}_init.mp4"`,
  `#EXT-X-PART:DURATION=0.334,URI="${S}_5.0.m4s",INDEPENDENT=YES`,
  '#EXTINF:0.334,',
  `${S}_5.m4s`,
  `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${S}_6.0.m4s"`,
  '',
].join('\n');
const PART = Buffer.from('moof-and-mdat');

let task: FakeTask;
let upstream: HttpUpstream;
let routes: ReturnType<typeof fakeRoutes>;
let metrics: MemoryMetrics;
const timeouts = new Map<string, number>();

function origin(over: Partial<OriginDeps> = {}): Origin {
  const fetchUpstream: FetchUpstream = (req) => {
    timeouts.set(req.path, req.timeoutMs);
    return upstream.fetch(req);
  };
  return createOrigin({
    routes,
    fetchUpstream,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 2000,
    blockingHoldMs: 3000,
    segmentSeconds: 1,
    logger: memoryLogger(),
    metrics,
    ...over,
  });
}
const get = (o: Origin, path: string) => o({ method: 'GET', path, headers: {} });

beforeEach(async () => {
  task = await startFakeTask();
  upstream = createHttpUpstream();
  routes = fakeRoutes();
  metrics = createMemoryMetrics();
  timeouts.clear();
  routes.routes.set(ID, makeRoute(ID, task.port));
  task.files.set(`/${ID}/index.m3u8`, LL);
  for (const q of ['_HLS_msn=6&_HLS_part=0', '_HLS_msn=6&_HLS_part=1', '_HLS_msn=6', '_HLS_msn=6&_HLS_skip=YES'])
    task.files.set(`/${ID}/index.m3u8?${q}`, LL);
  task.files.set(`/${ID}/${S}_6.0.m4s`, PART);
});

afterEach(async () => {
  upstream.close();
  await task.close();
});

describe('origin: LL-HLS', () => {
  it('100 concurrent blocking reloads of one msn/part (any parameter order) → 1 upstream request', async () => {
    const release = task.hold();
    const o = origin();
    const paths = [`/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`, `/${ID}/index.m3u8?_HLS_part=0&_HLS_msn=6`];
    const pending = Promise.all(Array.from({ length: 100 }, (_, i) => get(o, paths[i % 2])));
    await waitFor('the upstream fetch', () => task.count(`/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`) > 0);
    release();
    const results = await pending;
    expect(results.every((r) => r.statusCode === 200 && r.body.toString() === LL)).toBe(true);
    expect(task.count(`/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`)).toBe(1);
    expect([...task.requests.keys()]).toEqual([`/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`]);
    // About a second, never no-cache: CloudFront shares one origin request among a part's viewers.
    expect(results[0].headers['Cache-Control']).toBe('public, max-age=1');
  });

  it('100 concurrent requests for a preload-hinted part → 1 upstream request; the part is immutable', async () => {
    const release = task.hold();
    const o = origin();
    const pending = Promise.all(Array.from({ length: 100 }, () => get(o, `/${ID}/${S}_6.0.m4s`)));
    await waitFor('the upstream fetch', () => task.count(`/${ID}/${S}_6.0.m4s`) > 0);
    release();
    const results = await pending;
    expect(results.every((r) => r.statusCode === 200 && r.body.equals(PART))).toBe(true);
    expect(task.count(`/${ID}/${S}_6.0.m4s`)).toBe(1);
    expect(results[0].headers['Cache-Control']).toBe('public, max-age=1209600, immutable');
    expect(results[0].headers['Content-Type']).toBe('video/iso.segment');
  });

  it('different parts, msns or skip requests are different upstream requests', async () => {
    const o = origin();
    for (const q of ['_HLS_msn=6&_HLS_part=0', '_HLS_msn=6&_HLS_part=1', '_HLS_msn=6', '_HLS_msn=6&_HLS_skip=YES']) {
      expect((await get(o, `/${ID}/index.m3u8?${q}`)).statusCode).toBe(200);
      expect(task.count(`/${ID}/index.m3u8?${q}`)).toBe(1);
    }
  });

  it('gives blocking requests and parts the longest hold on top of the upstream timeout, others not', async () => {
    const o = origin();
    await get(o, `/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`);
    await get(o, `/${ID}/${S}_6.0.m4s`);
    await get(o, `/${ID}/index.m3u8`);
    expect(Object.fromEntries(timeouts)).toEqual({
      [`/${ID}/index.m3u8?_HLS_msn=6&_HLS_part=0`]: 5000,
      [`/${ID}/${S}_6.0.m4s`]: 5000,
      [`/${ID}/index.m3u8`]: 2000,
    });
  });

  it("relays the task's 400 for a reload too far ahead as a 400 (not an upstream failure)", async () => {
    task.status.set(`/${ID}/index.m3u8?_HLS_msn=99`, 400);
    const res = await get(origin(), `/${ID}/index.m3u8?_HLS_msn=99`);
    expect(res.statusCode).toBe(400);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(metrics.counts.UpstreamFailures ?? 0).toBe(0);
  });

  it('refuses malformed blocking parameters and queries on parts with 400, before any upstream request', async () => {
    const o = origin();
    for (const path of [
      `/${ID}/index.m3u8?_HLS_msn=06`,
      `/${ID}/index.m3u8?_HLS_part=1`,
      `/${ID}/index.m3u8?_HLS_msn=6&_HLS_msn=7`,
      `/${ID}/index.m3u8?_HLS_msn=6&_HLS_skip=NO`,
      `/${ID}/${S}_6.0.m4s?_HLS_msn=6`,
      `/${ID}/${S}_6.00.m4s`,
    ]) {
      expect((await get(o, path)).statusCode, path).toBe(400);
    }
    expect(task.requests.size).toBe(0);
  });
});
