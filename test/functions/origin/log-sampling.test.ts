import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryMetrics } from '../../../functions/origin/metrics';
import { createOrigin } from '../../../functions/origin/origin';
import { createHttpUpstream, type HttpUpstream } from '../../../functions/origin/upstream';
import { fakeRoutes, makeRoute, memoryLogger, startFakeTask, type FakeTask } from './fake-task';

const ID = 'AbCdEf123456';
let task: FakeTask;
let upstream: HttpUpstream;

beforeEach(async () => {
  task = await startFakeTask();
  task.files.set(`/${ID}/index.m3u8`, '#EXTM3U\n#EXT-X-TARGETDURATION:1\n');
  upstream = createHttpUpstream();
});
afterEach(async () => {
  upstream.close();
  await task.close();
});

function run(sampleRate: number | undefined, draws: number[]) {
  const routes = fakeRoutes();
  routes.routes.set(ID, makeRoute(ID, task.port));
  const logger = memoryLogger();
  const metrics = createMemoryMetrics();
  let i = 0;
  const origin = createOrigin({
    routes,
    fetchUpstream: upstream.fetch,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 2000,
    segmentSeconds: 1,
    logger,
    metrics,
    ...(sampleRate !== undefined ? { logSampleRate: sampleRate } : {}),
    random: () => draws[i++ % draws.length],
  });
  return { origin, logger, metrics };
}

const ok = { method: 'GET', path: `/${ID}/index.m3u8`, headers: {} };
const bad = { method: 'GET', path: '/nope', headers: {} };

describe('origin log sampling (KEYFRAME_LOG_SAMPLE_RATE)', () => {
  it('logs every request by default', async () => {
    const { origin, logger } = run(undefined, [0.99]);
    for (let n = 0; n < 10; n++) await origin(ok);
    expect(logger.lines).toHaveLength(10);
    expect(logger.lines.every((l) => !('sampled' in l.attributes))).toBe(true);
  });

  it('keeps a share of the successes, marked `sampled`, every error, and every metric', async () => {
    // Draws below the rate are kept: 2 of these 10.
    const { origin, logger, metrics } = run(0.1, [0.05, 0.5, 0.9, 0.2, 0.3, 0.09, 0.7, 0.4, 0.6, 0.8]);
    for (let n = 0; n < 10; n++) await origin(ok);
    for (let n = 0; n < 3; n++) await origin(bad);
    const successes = logger.lines.filter((l) => l.attributes.status === 200);
    expect(successes).toHaveLength(2);
    expect(successes.every((l) => l.attributes.sampled === 0.1)).toBe(true);
    expect(logger.lines.filter((l) => l.attributes.status === 400)).toHaveLength(3);
    expect(metrics.counts.OriginRequests).toBe(13);
  });

  it('rate 0 logs errors only', async () => {
    const { origin, logger } = run(0, [0]);
    await origin(ok);
    await origin(bad);
    expect(logger.lines.map((l) => l.attributes.status)).toEqual([400]);
  });
});
