/**
 * A task that dies (kill -9) leaves its route in the origin's cache for up to a second, and in the table until
 * the task-events function purges it. A refused or reset connection must never become a 5xx then: the origin
 * drops the cached route and reads the table once more.
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryMetrics, type MemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin, type Origin } from '../../../functions/origin/origin';
import { createHttpUpstream, type HttpUpstream } from '../../../functions/origin/upstream';
import { closedPort, fakeRoutes, makeRoute, memoryLogger, startFakeTask, type FakeTask } from './fake-task';

const ID = 'AbCdEf123456';
const MEDIA = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:9', '#EXTINF:1.000,', 'k3j9x0a1b2_9.m4s', ''].join(
  '\n',
);

let live: FakeTask;
let upstream: HttpUpstream;
let routes: ReturnType<typeof fakeRoutes>;
let metrics: MemoryMetrics;
let logger: ReturnType<typeof memoryLogger>;
let origin: Origin;

beforeEach(async () => {
  live = await startFakeTask();
  live.files.set(`/${ID}/index.m3u8`, MEDIA);
  upstream = createHttpUpstream();
  routes = fakeRoutes();
  metrics = createMemoryMetrics();
  logger = memoryLogger();
  // A long route cache: only the re-resolve can get past a dead task's cached route.
  origin = createOrigin({ routes, fetchUpstream: upstream.fetch, routeCacheMs: 60_000, upstreamTimeoutMs: 2000, segmentSeconds: 1, logger, metrics });
});

afterEach(async () => {
  upstream.close();
  await live.close();
});

/** A server that accepts and resets every connection. */
async function startResettingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const get = () => origin({ method: 'GET', path: `/${ID}/index.m3u8`, headers: {} });

/** Warm the route cache with a route to a task that then dies (its port refuses connections). */
async function cacheDeadRoute(): Promise<void> {
  const dead = await closedPort();
  routes.routes.set(ID, makeRoute(ID, dead, { taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/keyframe/dead', session: 'deadsess01' }));
  // The first request caches the dead route; re-resolved against the same dead route, nothing listens: 404.
  expect((await get()).statusCode).toBe(404);
}

describe('a task that stopped answering', () => {
  it('answers 404 once its route is purged, although the dead route is still cached', async () => {
    await cacheDeadRoute();
    routes.routes.delete(ID); // the task-events function purged it
    const calls = routes.calls.length;
    const res = await get();
    expect(res.statusCode).toBe(404);
    expect(routes.calls.length).toBe(calls + 1); // read the table once more, past the cache
    expect(logger.lines.at(-1)?.attributes).toMatchObject({ status: 404, reresolved: 'gone' });
  });

  it('follows the stream to its new task when the publisher has moved', async () => {
    await cacheDeadRoute();
    routes.routes.set(ID, makeRoute(ID, live.port, { session: 'newsess001' }));
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe(MEDIA);
    expect(logger.lines.at(-1)?.attributes).toMatchObject({ status: 200, reresolved: 'moved' });
  });

  it('is a 404, not a 5xx, while the table still names the dead task (its STOPPED event not yet applied)', async () => {
    await cacheDeadRoute();
    const res = await get();
    expect(res.statusCode).toBe(404);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect(logger.lines.at(-1)?.attributes).toMatchObject({ status: 404, reresolved: 'same' });
    expect(metrics.counts.UpstreamFailures).toBeGreaterThan(0); // operators still see the dead task
  });

  it('stays a 502 when the task reset the connection (it may be restarting), after one more look', async () => {
    const reset = await startResettingServer();
    try {
      routes.routes.set(ID, makeRoute(ID, reset.port));
      const res = await get();
      expect(res.statusCode).toBe(502);
      expect(logger.lines.at(-1)?.attributes).toMatchObject({ status: 502, reresolved: 'same' });
    } finally {
      await reset.close();
    }
  });

  it('shares one table read among viewers who hit the dead task at once', async () => {
    await cacheDeadRoute();
    routes.routes.delete(ID);
    const calls = routes.calls.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => get()));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(20).fill(404));
    expect(routes.calls.length - calls).toBeLessThanOrEqual(2);
    expect(metrics.counts.Origin5xx).toBe(0);
  });
});
