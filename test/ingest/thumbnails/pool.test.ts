/**
 * The ThumbnailPool: concurrency across streams (counted by the processes themselves, through a wrapper that
 * logs their starts and ends), the timeout kill of a hung decode, a missing ffmpeg, and close().
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlvTag } from '../../../ingest/packager/index.js';
import { ThumbnailPool, Thumbnailer } from '../../../ingest/thumbnails/index';
import { waitFor, withDeadline } from '../../support/wait';
import { alive, FFMPEG, isVideoKeyframe, makeFlv, recorder, script, tempDir } from './support';

const tmp = tempDir();
let config: FlvTag;
let keys: FlvTag[];
const pools: ThumbnailPool[] = [];
const newPool = (opts: ConstructorParameters<typeof ThumbnailPool>[0]) => {
  const pool = new ThumbnailPool(opts);
  pools.push(pool);
  return pool;
};

beforeAll(async () => {
  const tags = await makeFlv(join(tmp.dir, 'hd.flv'), { size: '1280x720', seconds: 4, audio: false });
  config = tags.find((t) => t.type === 9 && t.payload[1] === 0)!;
  keys = tags.filter(isVideoKeyframe);
}, 60_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  tmp.remove();
});

/** A new stream's first keyframe (with its sequence header) into `t`: one decode due at once. */
function start(t: Thumbnailer, key = 0): void {
  t.push(9, 0, config.payload);
  t.push(9, keys[key].timestamp - keys[0].timestamp, keys[key].payload);
}

/** The pids a sleeping stand-in wrote: its shell and its `sleep`. */
async function sleeperPids(pidFile: string): Promise<number[]> {
  const text = await waitFor(
    'the stand-in ffmpeg to start',
    () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split(/\s+/).length === 2 && readFileSync(pidFile, 'utf8'),
  );
  return text.trim().split(/\s+/).map(Number);
}

describe('ThumbnailPool', () => {
  it('10 streams at once run at most maxConcurrent ffmpegs at a time, and every stream gets its thumbnail', async () => {
    const log = join(tmp.dir, 'concurrency.log');
    const wrapper = script(tmp.dir, 'ffmpeg-counting', `echo "start $$" >> ${log}\n${FFMPEG} "$@"\nrc=$?\necho "end $$" >> ${log}\nexit $rc`);
    const pool = newPool({ ffmpegPath: wrapper, maxConcurrent: 2 });
    const made: number[] = [];
    const streams = Array.from({ length: 10 }, (_, i) => {
      const r = recorder();
      return { r, t: new Thumbnailer({ intervalSeconds: 10, maxWidth: 640, pool, log: r.log, onThumbnail: () => made.push(i) }) };
    });
    for (const [i, { t }] of streams.entries()) start(t, i % keys.length);
    expect(pool.stats()).toMatchObject({ running: 2, queued: 8 });
    await withDeadline(pool.idle(), 'all 10 decodes', 30_000);
    expect(made.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const { r } of streams) expect(r.warnings()).toEqual([]);
    // What the processes themselves say: never more than 2 alive at once.
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(20);
    let now = 0;
    let peak = 0;
    for (const line of lines) {
      now += line.startsWith('start') ? 1 : -1;
      peak = Math.max(peak, now);
    }
    expect(peak).toBe(2);
    expect(pool.stats()).toMatchObject({ started: 10, peakRunning: 2, running: 0, queued: 0 });
    for (const { t } of streams) t.close();
  });

  it('the queue is bounded: beyond maxQueued a stream waits for a later keyframe, which then gets its turn', async () => {
    const pool = newPool({ ffmpegPath: FFMPEG, maxConcurrent: 1, maxQueued: 2 });
    const made: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(
      (name) => new Thumbnailer({ intervalSeconds: 10, maxWidth: 640, pool, onThumbnail: () => made.push(name) }),
    );
    start(a); // runs
    start(b); // queued
    start(c); // queued
    start(d); // queue full: not sent, not counted as an attempt
    expect(pool.stats()).toMatchObject({ running: 1, queued: 2 });
    await withDeadline(pool.idle(), 'the three decodes', 30_000);
    expect(made).toEqual(['a', 'b', 'c']);
    d.push(9, keys[1].timestamp - keys[0].timestamp, keys[1].payload); // its next keyframe, not an interval later
    await withDeadline(pool.idle(), 'the fourth decode', 30_000);
    expect(made).toEqual(['a', 'b', 'c', 'd']);
    for (const t of [a, b, c, d]) t.close();
  });

  it('a hung decode is killed at the timeout (the whole process group), logged once, and tried again at the next interval', async () => {
    const pidFile = join(tmp.dir, 'hung.pids');
    const sleeper = script(tmp.dir, 'ffmpeg-hangs', `rm -f ${pidFile}\nsleep 60 &\necho "$$ $!" > ${pidFile}\nwait $!`);
    const pool = newPool({ ffmpegPath: sleeper, timeoutMs: 300 });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
    start(t);
    const pids = await sleeperPids(pidFile);
    expect(pids.every(alive)).toBe(true);
    const warned = await r.logs.waitFor('the timeout warning', (e) => e.extra?.cause === 'timeout', 20_000);
    expect(warned.extra?.error).toBe('ffmpeg still running after 300 ms');
    await withDeadline(pool.idle(), 'the pool to be idle', 20_000);
    await waitFor('the shell and its sleep to be gone', () => !pids.some(alive), 5000);
    expect(t.latest()).toBeUndefined();
    // The next interval: tried again, killed again, not logged again.
    t.push(9, 1000, keys[1].payload);
    const again = await sleeperPids(pidFile);
    await withDeadline(pool.idle(), 'the second decode to be killed', 20_000);
    await waitFor('the second stand-in to be gone', () => !again.some(alive), 5000);
    expect(pool.stats().started).toBe(2);
    expect(r.warnings()).toHaveLength(1);
    t.close();
  });

  it('a stand-in that exits but leaves a process holding its output: given up after a grace, that process killed', async () => {
    const pidFile = join(tmp.dir, 'linger.pids');
    const lingerer = script(tmp.dir, 'ffmpeg-lingers', `rm -f ${pidFile}\nsleep 60 &\necho "$$ $!" > ${pidFile}\nexit 0`);
    const pool = newPool({ ffmpegPath: lingerer, timeoutMs: 60_000 });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
    start(t);
    const [, sleep] = await sleeperPids(pidFile);
    const warned = await r.logs.waitFor('the warning', (e) => e.level === 'warn', 20_000);
    expect(warned.extra).toMatchObject({ cause: 'decode-failed', error: expect.stringMatching(/exited but its output stayed open/) });
    await withDeadline(pool.idle(), 'the pool to be idle', 10_000);
    await waitFor('the lingering sleep to be gone', () => !alive(sleep), 5000);
    t.close();
  });

  it('ffmpeg missing: logged once per stream, tried again at each interval, never thrown', async () => {
    const pool = newPool({ ffmpegPath: join(tmp.dir, 'no-such-ffmpeg') });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
    start(t);
    await withDeadline(pool.idle(), 'the first attempt', 20_000);
    for (let i = 1; i < keys.length; i++) {
      t.push(9, keys[i].timestamp - keys[0].timestamp, keys[i].payload);
      await withDeadline(pool.idle(), `attempt ${i + 1}`, 20_000);
    }
    expect(pool.stats().started).toBe(keys.length);
    expect(r.warnings()).toHaveLength(1);
    expect(r.warnings('ffmpeg-missing')[0].extra?.error).toMatch(/no-such-ffmpeg.*ENOENT/);
    // A second stream on the same task logs it too (once per stream).
    const r2 = recorder();
    const t2 = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r2.log });
    start(t2);
    await withDeadline(pool.idle(), 'the second stream', 20_000);
    expect(r2.warnings('ffmpeg-missing')).toHaveLength(1);
    t.close();
    t2.close();
  });

  it("close() kills the stream's running decode and drops its state; later pushes do nothing", async () => {
    const pidFile = join(tmp.dir, 'close.pids');
    const sleeper = script(tmp.dir, 'ffmpeg-sleeps', `rm -f ${pidFile}\nsleep 60 &\necho "$$ $!" > ${pidFile}\nwait $!`);
    const pool = newPool({ ffmpegPath: sleeper, timeoutMs: 60_000 });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
    start(t);
    const pids = await sleeperPids(pidFile);
    expect(pool.stats().running).toBe(1);
    t.close();
    await withDeadline(pool.idle(), 'the killed decode to end', 10_000);
    await waitFor('the stand-in to be gone', () => !pids.some(alive), 5000);
    t.push(9, 5000, keys[1].payload);
    expect(pool.stats()).toMatchObject({ started: 1, running: 0, queued: 0 });
    expect(r.logs.entries).toEqual([]); // a cancel is not a failure
    expect(t.latest()).toBeUndefined();
  });

  it('pool.close() kills what runs, drops what waits, and refuses more', async () => {
    const pidFile = join(tmp.dir, 'pool-close.pids');
    const sleeper = script(tmp.dir, 'ffmpeg-sleeps-too', `rm -f ${pidFile}\nsleep 60 &\necho "$$ $!" > ${pidFile}\nwait $!`);
    const pool = new ThumbnailPool({ ffmpegPath: sleeper, maxConcurrent: 1, timeoutMs: 60_000 });
    const r = recorder();
    const streams = [0, 1, 2].map(() => new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log }));
    for (const t of streams) start(t);
    const pids = await sleeperPids(pidFile);
    expect(pool.stats()).toMatchObject({ running: 1, queued: 2 });
    await withDeadline(pool.close(), 'pool.close()', 10_000);
    await waitFor('the stand-in to be gone', () => !pids.some(alive), 5000);
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0, started: 1 });
    expect(pool.accepts(streams[0])).toBe(false);
    const late = await pool.decode({}, { annexB: Buffer.alloc(8), width: 2, height: 2 });
    expect(late).toEqual({ kind: 'dropped', reason: 'closed' });
    expect(r.logs.entries).toEqual([]);
  });
});
