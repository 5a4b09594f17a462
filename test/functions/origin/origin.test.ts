import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryMetrics, type MemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin, MAX_BUFFERED_BODY_BYTES, type Origin, type OriginDeps } from '../../../functions/origin/origin';
import { createHttpUpstream, type HttpUpstream } from '../../../functions/origin/upstream';
import { waitFor } from '../../support/wait';
import { closedPort, fakeRoutes, makeRoute, memoryLogger, startFakeTask, type FakeTask } from './fake-task';

const ID = 'AbCdEf123456';
const MV = 'MvMvMvMv1234'; // a stream with renditions: its index.m3u8 is multivariant
const S = 'k3j9x0a1b2';

const MEDIA = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:1', '#EXTINF:2.000,', `${S}_1.ts`, ''].join('\n');
const MEDIA6 = MEDIA.replace('TARGETDURATION:2', 'TARGETDURATION:6');
const MULTI = ['#EXTM3U', '#EXT-X-STREAM-INF:BANDWIDTH=2500000', '720p.m3u8', ''].join('\n');
const SEGMENT = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256)); // every byte value, twice over

let task: FakeTask;
let upstream: HttpUpstream;
let routes: ReturnType<typeof fakeRoutes>;
let metrics: MemoryMetrics;
let logger: ReturnType<typeof memoryLogger>;

function origin(over: Partial<OriginDeps> = {}): Origin {
  return createOrigin({
    routes,
    fetchUpstream: upstream.fetch,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 2000,
    segmentSeconds: 1,
    logger,
    metrics,
    ...over,
  });
}

const get = (o: Origin, path: string, method = 'GET') => o({ method, path, headers: {} });
const json = (body: Buffer) => JSON.parse(body.toString('utf8'));

beforeEach(async () => {
  task = await startFakeTask();
  upstream = createHttpUpstream();
  routes = fakeRoutes();
  metrics = createMemoryMetrics();
  logger = memoryLogger();
  routes.routes.set(ID, makeRoute(ID, task.port));
  routes.routes.set(MV, makeRoute(MV, task.port));
  task.files.set(`/${ID}/index.m3u8`, MEDIA);
  task.files.set(`/${ID}/720p.m3u8`, MEDIA6);
  task.files.set(`/${MV}/index.m3u8`, MULTI);
  task.files.set(`/${ID}/${S}_1.ts`, SEGMENT);
  task.files.set(`/${ID}/${S}_1.m4s`, SEGMENT);
  task.files.set(`/${ID}/${S}_init.mp4`, SEGMENT);
});

afterEach(async () => {
  upstream.close();
  await task.close();
});

describe('origin: successful responses', () => {
  it.each([
    [`/${ID}/index.m3u8`, 'application/vnd.apple.mpegurl', 'public, max-age=1', MEDIA],
    [`/${ID}/720p.m3u8`, 'application/vnd.apple.mpegurl', 'public, max-age=3', MEDIA6],
    [`/${MV}/index.m3u8`, 'application/vnd.apple.mpegurl', 'public, max-age=2', MULTI],
    [`/${ID}/${S}_1.ts`, 'video/mp2t', 'public, max-age=1209600, immutable', SEGMENT],
    [`/${ID}/${S}_1.m4s`, 'video/iso.segment', 'public, max-age=1209600, immutable', SEGMENT],
    [`/${ID}/${S}_init.mp4`, 'video/mp4', 'public, max-age=1209600, immutable', SEGMENT],
  ])('GET %s → 200 %s, %s', async (path, type, cacheControl, body) => {
    const res = await get(origin(), path);
    expect(res.statusCode).toBe(200);
    expect(res.headers).toEqual({
      'Access-Control-Allow-Origin': '*',
      'Content-Type': type,
      'Cache-Control': cacheControl,
    });
    expect(res.body.equals(Buffer.from(body))).toBe(true);
  });

  it('HEAD answers the same headers with an empty body', async () => {
    const res = await get(origin(), `/${ID}/${S}_1.ts`, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('video/mp2t');
    expect(res.body.length).toBe(0);
  });

  it('OPTIONS → 204 with CORS, for any path', async () => {
    const res = await get(origin(), '/whatever', 'OPTIONS');
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
    });
    expect(routes.calls).toHaveLength(0);
  });

  it('logs one structured line per request and counts metrics', async () => {
    const o = origin();
    await get(o, `/${ID}/index.m3u8`);
    await get(o, `/${ID}/index.m3u8`);
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[0]).toMatchObject({
      level: 'info',
      attributes: { status: 200, playbackId: ID, file: 'index.m3u8', routeCache: 'miss', bodyCache: 'miss' },
    });
    expect(logger.lines[1].attributes).toMatchObject({ routeCache: 'hit' });
    expect(typeof logger.lines[0].attributes.latencyMs).toBe('number');
    expect(metrics.counts).toEqual({ OriginRequests: 2, Origin4xx: 0, Origin5xx: 0, UpstreamFailures: 0 });
    expect(metrics.latencies).toHaveLength(2);
  });
});

describe('origin: client errors', () => {
  it('unknown playback ID → 404 max-age=1, and the miss is cached for the window', async () => {
    let clock = 1_000_000;
    const o = origin({ now: () => clock });
    const res = await get(o, '/Unknown12345/index.m3u8');
    expect(res.statusCode).toBe(404);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(json(res.body)).toMatchObject({ statusCode: 404, error: 'NotFound' });
    await get(o, '/Unknown12345/index.m3u8');
    expect(routes.calls).toEqual(['Unknown12345']);
    clock += 1000;
    await get(o, '/Unknown12345/index.m3u8');
    expect(routes.calls).toEqual(['Unknown12345', 'Unknown12345']);
    expect(task.requests.size).toBe(0);
    expect(metrics.counts.Origin4xx).toBe(3);
  });

  it('an expired route is ignored even though the item exists → 404', async () => {
    routes.routes.set(ID, makeRoute(ID, task.port, { expiresAt: Date.now() - 1 }));
    const res = await get(origin(), `/${ID}/index.m3u8`);
    expect(res.statusCode).toBe(404);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(task.count(`/${ID}/index.m3u8`)).toBe(0);
  });

  it('a cached route that expires inside the cache window stops being served', async () => {
    let clock = 1_000_000;
    routes.routes.set(ID, makeRoute(ID, task.port, { expiresAt: clock + 500 }));
    const o = origin({ now: () => clock });
    expect((await get(o, `/${ID}/index.m3u8`)).statusCode).toBe(200);
    clock += 500;
    expect((await get(o, `/${ID}/index.m3u8`)).statusCode).toBe(404);
    expect(routes.calls).toHaveLength(1);
  });

  it.each([
    `/${ID}/../index.m3u8`,
    `/../../etc/passwd`,
    `/${ID}/%2e%2e/index.m3u8`,
    `/${ID}/index.m3u8?variant=1`,
    `/${ID}\\..\\index.m3u8`,
    `/${ID}//index.m3u8`,
  ])('traversal or trickery %j → 400 max-age=1, no look-up', async (path) => {
    const res = await get(origin(), path);
    expect(res.statusCode).toBe(400);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(json(res.body)).toMatchObject({ statusCode: 400, error: 'BadRequest' });
    expect(routes.calls).toHaveLength(0);
    expect(task.requests.size).toBe(0);
  });

  it('never logs a stream key pasted into a path', async () => {
    const key = 'kf_' + 'x'.repeat(32);
    const res = await get(origin(), `/${key}/index.m3u8`);
    expect(res.statusCode).toBe(400);
    const line = JSON.stringify(logger.lines);
    expect(line).not.toContain(key);
    expect(logger.lines[0].attributes.path).toBe('/kf_[redacted]/index.m3u8');
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s → 405 with Allow', async (method) => {
    const res = await get(origin(), `/${ID}/index.m3u8`, method);
    expect(res.statusCode).toBe(405);
    expect(res.headers.Allow).toBe('GET, HEAD, OPTIONS');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(routes.calls).toHaveLength(0);
  });

  it('upstream 404 → 404 max-age=1, not an upstream failure', async () => {
    const res = await get(origin(), `/${ID}/${S}_999.ts`);
    expect(res.statusCode).toBe(404);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(metrics.counts.UpstreamFailures).toBe(0);
  });
});

describe('origin: upstream failures', () => {
  const noLeak = (body: Buffer, port: number) => {
    const text = body.toString('utf8');
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain(String(port));
    expect(text).not.toMatch(/ECONN|at .*\(|\.ts:\d+/);
  };

  it('connection refused (nothing listens where the route points) → one more look at the table, then 404, never a 5xx', async () => {
    const port = await closedPort();
    routes.routes.set(ID, makeRoute(ID, port));
    const calls = routes.calls.length;
    const res = await get(origin(), `/${ID}/index.m3u8`);
    expect(res.statusCode).toBe(404);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(json(res.body)).toEqual({ statusCode: 404, error: 'NotFound', message: 'Stream unavailable' });
    noLeak(res.body, port);
    expect(routes.calls.length - calls).toBe(2); // the cached route, then the table once more
    expect(metrics.counts).toMatchObject({ Origin5xx: 0, Origin4xx: 1, UpstreamFailures: 1 });
    const line = logger.lines.at(-1)!;
    expect(line.attributes).toMatchObject({ status: 404, reresolved: 'same', reason: 'Stream unavailable' });
  });

  it('connection reset → 502 no-store, logged with its cause', async () => {
    const server = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      routes.routes.set(ID, makeRoute(ID, port));
      const res = await get(origin(), `/${ID}/index.m3u8`);
      expect(res.statusCode).toBe(502);
      expect(res.headers['Cache-Control']).toBe('no-store');
      expect(json(res.body)).toEqual({ statusCode: 502, error: 'BadGateway', message: 'Upstream failed' });
      noLeak(res.body, port);
      expect(metrics.counts.Origin5xx).toBe(1);
      const line = logger.lines.at(-1)!;
      expect(line.level).toBe('error');
      expect(line.attributes.error).toBe('BadGateway');
      expect(line.attributes.cause).toEqual([expect.stringContaining('UpstreamError'), expect.stringMatching(/ECONNRESET|socket hang up/)]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a hanging upstream → 504 no-store after the timeout', async () => {
    task.hang.add(`/${ID}/${S}_1.ts`);
    const started = Date.now();
    const res = await get(origin({ upstreamTimeoutMs: 150 }), `/${ID}/${S}_1.ts`);
    const elapsed = Date.now() - started;
    expect(res.statusCode).toBe(504);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(json(res.body)).toMatchObject({ statusCode: 504, error: 'GatewayTimeout' });
    noLeak(res.body, task.port);
    // Not before the timeout; the upper bound is only a deadline (the task never answers: only the timeout ends it).
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(10_000);
    expect(metrics.counts.UpstreamFailures).toBe(1);
  });

  it('upstream 5xx → 502 no-store', async () => {
    task.status.set(`/${ID}/index.m3u8`, 500);
    const res = await get(origin(), `/${ID}/index.m3u8`);
    expect(res.statusCode).toBe(502);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(metrics.counts.UpstreamFailures).toBe(1);
  });

  it('an upstream body too large for a buffered response (Content-Length) → 502', async () => {
    task.files.set(`/${ID}/${S}_2.ts`, Buffer.alloc(MAX_BUFFERED_BODY_BYTES + 1));
    const res = await get(origin(), `/${ID}/${S}_2.ts`);
    expect(res.statusCode).toBe(502);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(json(res.body)).toMatchObject({ statusCode: 502, message: 'Upstream body too large' });
    expect(metrics.counts.UpstreamFailures).toBe(1);
    expect(logger.lines.at(-1)!.level).toBe('error');
  });

  it('an oversize chunked body is cut off while streaming → 502', async () => {
    task.files.set(`/${ID}/${S}_3.ts`, Buffer.alloc(200 * 1024));
    task.chunked.add(`/${ID}/${S}_3.ts`);
    const res = await get(origin({ maxBodyBytes: 64 * 1024 }), `/${ID}/${S}_3.ts`);
    expect(res.statusCode).toBe(502);
    expect(json(res.body)).toMatchObject({ message: 'Upstream body too large' });
  });

  it('the largest body that fits is served', async () => {
    task.files.set(`/${ID}/${S}_4.ts`, Buffer.alloc(MAX_BUFFERED_BODY_BYTES, 7));
    const res = await get(origin(), `/${ID}/${S}_4.ts`);
    expect(res.statusCode).toBe(200);
    expect(res.body.length).toBe(MAX_BUFFERED_BODY_BYTES);
    // base64 of it plus a generous envelope still fits the 6 MB function-URL payload
    expect(Math.ceil(res.body.length / 3) * 4 + 16 * 1024).toBeLessThanOrEqual(6_000_000);
  });

  it('a route store failure → 503 no-store without leaking the error', async () => {
    routes.fail(true);
    const res = await get(origin(), `/${ID}/index.m3u8`);
    expect(res.statusCode).toBe(503);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(res.body.toString()).not.toContain('10.0.0.9');
    routes.fail(false);
  });

  it('an unexpected error → 500 no-store with a generic body; the stack goes to the log only', async () => {
    const o = origin({ fetchUpstream: async () => ({ statusCode: 200, headers: {}, body: undefined as unknown as Buffer }) });
    const res = await get(o, `/${ID}/index.m3u8`);
    expect(res.statusCode).toBe(500);
    expect(res.headers['Cache-Control']).toBe('no-store');
    expect(json(res.body)).toEqual({ statusCode: 500, error: 'InternalServerError', message: 'Internal error' });
    expect(logger.lines.at(-1)!.attributes.stack).toEqual(expect.stringContaining('TypeError'));
  });

  it('an injected fetcher that throws a timeout-named error → 504', async () => {
    const o = origin({
      fetchUpstream: async () => {
        throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
      },
    });
    expect((await get(o, `/${ID}/index.m3u8`)).statusCode).toBe(504);
  });
});

describe('origin: coalescing and caching', () => {
  it('100 concurrent requests for one segment → 1 route look-up and 1 upstream fetch', async () => {
    const release = task.hold();
    const o = origin();
    const pending = Promise.all(Array.from({ length: 100 }, () => get(o, `/${ID}/${S}_1.ts`)));
    // The first fetch reaches the task and is held there; the other requests are waiting on it by then.
    await waitFor('the upstream fetch', () => task.count(`/${ID}/${S}_1.ts`) > 0);
    release();
    const results = await pending;
    expect(results.every((r) => r.statusCode === 200 && r.body.equals(SEGMENT))).toBe(true);
    expect(routes.calls).toHaveLength(1);
    expect(task.count(`/${ID}/${S}_1.ts`)).toBe(1);
    expect(metrics.counts.OriginRequests).toBe(100);
  });

  it('concurrent playlist requests coalesce, but playlists are not cached afterwards', async () => {
    const release = task.hold();
    const o = origin();
    const pending = Promise.all(Array.from({ length: 10 }, () => get(o, `/${ID}/index.m3u8`)));
    await waitFor('the upstream fetch', () => task.count(`/${ID}/index.m3u8`) > 0);
    release();
    await pending;
    expect(task.count(`/${ID}/index.m3u8`)).toBe(1);
    await get(o, `/${ID}/index.m3u8`);
    expect(task.count(`/${ID}/index.m3u8`)).toBe(2);
  });

  it('a finished segment is served from memory on a repeat', async () => {
    const o = origin();
    await get(o, `/${ID}/${S}_1.ts`);
    const again = await get(o, `/${ID}/${S}_1.ts`);
    expect(again.statusCode).toBe(200);
    expect(again.body.equals(SEGMENT)).toBe(true);
    expect(task.count(`/${ID}/${S}_1.ts`)).toBe(1);
    expect(logger.lines.at(-1)!.attributes.bodyCache).toBe('hit');
  });

  it('a failed fetch is not cached: the next request tries again', async () => {
    task.status.set(`/${ID}/${S}_1.ts`, 503);
    const o = origin();
    expect((await get(o, `/${ID}/${S}_1.ts`)).statusCode).toBe(502);
    task.status.delete(`/${ID}/${S}_1.ts`);
    expect((await get(o, `/${ID}/${S}_1.ts`)).statusCode).toBe(200);
    expect(task.count(`/${ID}/${S}_1.ts`)).toBe(2);
  });

  it('retries once when a kept-alive socket turns out to be dead', async () => {
    // A task that answers the first request on each connection and kills the connection on the second,
    // as when its keep-alive timeout races our reuse of the pooled socket.
    const connections: net.Socket[] = [];
    let served = 0;
    const flaky = net.createServer((socket) => {
      connections.push(socket);
      let requests = 0;
      socket.on('data', (chunk) => {
        if (!chunk.toString('latin1').includes('\r\n\r\n')) return;
        requests++;
        if (requests > 1) {
          socket.destroy();
          return;
        }
        served++;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${MEDIA.length}\r\nConnection: keep-alive\r\n\r\n${MEDIA}`);
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      routes.routes.set(ID, makeRoute(ID, (flaky.address() as net.AddressInfo).port));
      const o = origin();
      expect((await get(o, `/${ID}/index.m3u8`)).statusCode).toBe(200);
      expect((await get(o, `/${ID}/index.m3u8`)).statusCode).toBe(200);
      expect(served).toBe(2);
      expect(connections).toHaveLength(2);
      expect(metrics.counts.UpstreamFailures).toBe(0);
    } finally {
      for (const c of connections) c.destroy();
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  });
});
