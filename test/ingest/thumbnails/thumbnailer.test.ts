/**
 * The Thumbnailer on real encoder output: 720p x264 FLV made by ffmpeg, pushed tag by tag, decoded by the real
 * ffmpeg. The JPEGs are checked with ffprobe; the interval on media time; failures logged once, never thrown.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FlvTag, FlvTagReader } from '../../../ingest/packager/index.js';
import { ThumbnailPool, Thumbnailer } from '../../../ingest/thumbnails/index';
import { withDeadline } from '../../support/wait';
import { expectedPicks, FFMPEG, feedPaced, greyPixels, isVideoKeyframe, makeFlv, meanAbsDiff, probeJpeg, recorder, tempDir } from './support';

const run = promisify(execFile);
const tmp = tempDir();
let hd: FlvTag[]; // 12 s, 1280x720, keyframe every second, with audio
let small: FlvTag[]; // 3 s, 320x240
let audioOnly: FlvTag[];
let K: number[]; // hd's keyframe timestamps: 12, a second apart (after the encoder's audio priming offset)
const pools: ThumbnailPool[] = [];
const newPool = (opts: Partial<ConstructorParameters<typeof ThumbnailPool>[0]> = {}) => {
  const pool = new ThumbnailPool({ ffmpegPath: FFMPEG, ...opts });
  pools.push(pool);
  return pool;
};

beforeAll(async () => {
  [hd, small, audioOnly] = await Promise.all([
    makeFlv(join(tmp.dir, 'hd.flv'), { size: '1280x720', seconds: 12 }),
    makeFlv(join(tmp.dir, 'small.flv'), { size: '320x240', seconds: 3, audio: false }),
    makeFlv(join(tmp.dir, 'audio.flv'), { size: '', seconds: 3, video: false }),
  ]);
  K = hd.filter(isVideoKeyframe).map((x) => x.timestamp);
  expect(K).toHaveLength(12);
  for (let i = 1; i < K.length; i++) expect(K[i] - K[i - 1]).toBe(1000);
}, 60_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  tmp.remove();
});

describe('Thumbnailer on real 720p H.264', () => {
  it('makes JPEGs ffprobe reads as mjpeg 640x360, the first from the first keyframe, at once', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({
      intervalSeconds: 10,
      maxWidth: 640,
      pool,
      log: r.log,
      onThumbnail: (x) => r.thumbs.push(x),
      now: () => 1_700_000_000_000,
    });
    const firstKey = hd.findIndex(isVideoKeyframe);
    for (const tag of hd.slice(0, firstKey + 1)) t.push(tag.type, tag.timestamp, tag.payload);
    const first = await r.thumbs.waitFor('the first thumbnail', () => true, 20_000);
    expect(first.mediaTimestamp).toBe(hd[firstKey].timestamp);
    expect(first.takenAt).toBe(1_700_000_000_000);
    expect([first.width, first.height]).toEqual([640, 360]);
    expect(await probeJpeg(first.jpeg, tmp.dir)).toEqual({ codec_name: 'mjpeg', width: 640, height: 360 });
    expect(t.latest()).toBe(first);
    expect(r.warnings()).toEqual([]);
    expect(r.logs.filter((e) => e.message === 'first thumbnail')).toHaveLength(1);
    t.close();
  });

  it('changes over time: thumbnails seconds apart show different pictures', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 5, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, hd);
    const thumbs = r.thumbs.entries;
    expect(thumbs.map((x) => x.mediaTimestamp)).toEqual([K[0], K[5], K[10]]);
    const grey = await Promise.all(thumbs.map((x) => greyPixels(x.jpeg, tmp.dir)));
    for (let i = 1; i < grey.length; i++) {
      expect(thumbs[i].jpeg.equals(thumbs[i - 1].jpeg)).toBe(false);
      expect(meanAbsDiff(grey[i], grey[i - 1])).toBeGreaterThan(2); // testsrc2 moves; a repeated picture scores ~0
    }
    for (const x of thumbs) expect(await probeJpeg(x.jpeg, tmp.dir)).toEqual({ codec_name: 'mjpeg', width: 640, height: 360 });
    expect(t.latest()).toBe(thumbs[2]);
    t.close();
  });

  it.each([1, 2, 3, 4, 7])('interval %i s: one thumbnail per interval of media time', async (seconds) => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: seconds, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, hd);
    const got = r.thumbs.entries.map((x) => x.mediaTimestamp);
    expect(got).toEqual(expectedPicks(hd, seconds * 1000));
    expect(got).toHaveLength(Math.ceil(12 / seconds)); // keyframes at 0, 1, … 11 s
    expect(pool.stats().started).toBe(got.length);
    expect(r.warnings()).toEqual([]);
    t.close();
  });

  it('media faster than the decodes: a waiting decode is replaced by the newer keyframe, never queued up', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    for (const tag of hd) t.push(tag.type, tag.timestamp, tag.payload); // 12 s of media in one go
    await withDeadline(pool.idle(), 'the pool to be idle', 20_000);
    // The first keyframe's decode ran; 1 s … 10 s each waited behind it and were replaced; 11 s ran last.
    expect(r.thumbs.entries.map((x) => x.mediaTimestamp)).toEqual([K[0], K[11]]);
    expect(pool.stats()).toMatchObject({ started: 2, running: 0, queued: 0, peakRunning: 1 });
    t.close();
  });

  it('open GOP (keyframes that are recovery points, not IDR) and B-frames: each keyframe still decodes alone', async () => {
    const path = join(tmp.dir, 'open-gop.flv');
    await run(
      FFMPEG,
      ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '4', '-c:v', 'libx264', '-preset', 'veryfast'].concat([
        '-pix_fmt',
        'yuv420p',
        '-bf',
        '3',
        '-x264-params',
        'keyint=30:min-keyint=30:open-gop=1:scenecut=0',
        '-f',
        'flv',
        path,
      ]),
    );
    const tags = new FlvTagReader().push(readFileSync(path));
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, tags);
    expect(r.thumbs.entries.map((x) => x.mediaTimestamp)).toEqual(expectedPicks(tags, 1000));
    expect(r.thumbs.entries.length).toBeGreaterThanOrEqual(3); // keyframe DTS 0, 967, 1934, 2934 ms: 1934 is the first 1 s after 0
    for (const x of r.thumbs.entries) expect(await probeJpeg(x.jpeg, tmp.dir)).toEqual({ codec_name: 'mjpeg', width: 640, height: 360 });
    expect(r.warnings()).toEqual([]);
    t.close();
  });

  it('never scales up: a 320x240 stream gives 320x240 JPEGs', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 10, maxWidth: 640, pool, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, small);
    expect(r.thumbs.entries).toHaveLength(1);
    expect(await probeJpeg(r.thumbs.entries[0].jpeg, tmp.dir)).toEqual({ codec_name: 'mjpeg', width: 320, height: 240 });
    t.close();
  });

  it('scales to maxWidth with the aspect kept and even sizes', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 10, maxWidth: 333, pool, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, hd.slice(0, 40));
    expect(await probeJpeg(r.thumbs.entries[0].jpeg, tmp.dir)).toEqual({ codec_name: 'mjpeg', width: 332, height: 186 });
    t.close();
  });

  it('interval 0: no thumbnails and no ffmpeg', async () => {
    const pool = newPool({ ffmpegPath: '/nonexistent/ffmpeg' });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 0, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    await feedPaced(t, pool, hd);
    expect(pool.stats().started).toBe(0);
    expect(t.latest()).toBeUndefined();
    expect(r.logs.entries).toEqual([]);
    t.close();
  });

  it('audio only: no thumbnails, no ffmpeg, nothing logged', async () => {
    const pool = newPool({ ffmpegPath: '/nonexistent/ffmpeg' });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
    expect(audioOnly.every((x) => x.type !== 9)).toBe(true);
    expect(audioOnly.some((x) => x.type === 8)).toBe(true);
    for (const tag of audioOnly) t.push(tag.type, tag.timestamp, tag.payload);
    expect(pool.stats().started).toBe(0);
    expect(r.logs.entries).toEqual([]);
  });

  it('video that is not AVC (legacy HEVC id 12, Enhanced RTMP hvc1, VP6): no thumbnails, no ffmpeg, nothing logged', async () => {
    const pool = newPool({ ffmpegPath: '/nonexistent/ffmpeg' });
    const streams: Buffer[][] = [
      [Buffer.from([0x1c, 0, 0, 0, 0, 1, 2, 3]), Buffer.from([0x1c, 1, 0, 0, 0, 0, 0, 0, 2, 0x26, 1])],
      [Buffer.from([0x90, ...Buffer.from('hvc1'), 1, 2, 3]), Buffer.from([0x91, ...Buffer.from('hvc1'), 0, 0, 0, 0, 0, 0, 2, 0x26, 1])],
      [Buffer.from([0x14, 0, 1, 2, 3, 4])],
    ];
    for (const payloads of streams) {
      const r = recorder();
      const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log });
      for (let i = 0; i < 20; i++) for (const p of payloads) t.push(9, i * 1000, p);
      expect(r.logs.entries).toEqual([]);
      t.close();
    }
    expect(pool.stats().started).toBe(0);
  });

  it('garbage keyframe bytes: a warning once per cause, no throw, and the next interval tries again', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 2, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    const config = hd.find((x) => x.type === 9 && x.payload[1] === 0)!;
    t.push(config.type, config.timestamp, config.payload);
    // NAL lengths that add up, contents that are not H.264: two intervals of them, each tried, warned once.
    const junk = (ts: number) => {
      const nal = Buffer.alloc(20_000, 0xab);
      const body = Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(4), nal]);
      body.writeUInt32BE(nal.length, 5);
      t.push(9, ts, body);
    };
    junk(0);
    await withDeadline(pool.idle(), 'the first garbage decode', 20_000);
    junk(1000); // not due
    junk(2000);
    await withDeadline(pool.idle(), 'the second garbage decode', 20_000);
    expect(pool.stats().started).toBe(2);
    expect(r.warnings('decode-failed')).toHaveLength(1);
    expect(r.warnings('decode-failed')[0].extra?.error).toMatch(/ffmpeg exited with code \d+/);
    // Lengths that run past the tag: not sent to ffmpeg at all.
    t.push(9, 4000, Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x65, 1, 2]));
    expect(pool.stats().started).toBe(2);
    expect(r.warnings('bad-frame')).toHaveLength(1);
    // Anything at all in any message type: never a throw.
    const noise = [
      Buffer.alloc(0),
      Buffer.from([0x17]),
      Buffer.from([0x17, 0]),
      Buffer.from([0x17, 0, 0, 0, 0, 9, 9]),
      Buffer.from([0x17, 9, 0, 0, 0]),
    ];
    for (const type of [8, 9, 18, 20, 0]) for (const p of noise) expect(() => t.push(type, 5000, p)).not.toThrow();
    // A broken sequence header is warned about once and leaves no header: keyframes wait for a good one.
    t.push(9, 5000, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 40, 0x67]));
    expect(r.warnings('bad-sequence-header')).toHaveLength(1);
    t.push(config.type, config.timestamp, config.payload);
    await feedPaced(
      t,
      pool,
      hd.filter((x) => x.timestamp >= K[6]),
    );
    expect(r.thumbs.entries.map((x) => x.mediaTimestamp)).toEqual([K[6], K[8], K[10]]);
    expect(r.warnings().map((e) => e.extra?.cause)).toEqual(['decode-failed', 'bad-frame', 'bad-sequence-header']);
    t.close();
  });

  it('a throwing onThumbnail is logged once and the thumbnail is still kept', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({
      intervalSeconds: 5,
      maxWidth: 640,
      pool,
      log: r.log,
      onThumbnail: () => {
        throw new Error('subscriber broke');
      },
    });
    await feedPaced(t, pool, hd);
    expect(t.latest()?.mediaTimestamp).toBe(K[10]);
    expect(r.warnings('callback')).toHaveLength(1);
    t.close();
    expect(t.latest()).toBeUndefined();
  });

  it('timestamps that restart (a jump back) make a thumbnail at once; the 32-bit wrap is just time going on', async () => {
    const pool = newPool();
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 10, maxWidth: 640, pool, onThumbnail: (x) => r.thumbs.push(x) });
    const config = hd.find((x) => x.type === 9 && x.payload[1] === 0)!;
    const keys = hd.filter(isVideoKeyframe);
    t.push(9, 0, config.payload);
    const key = async (ts: number, i: number) => {
      t.push(9, ts, keys[i].payload);
      await withDeadline(pool.idle(), 'the pool to be idle', 20_000);
    };
    await key(50_000, 0); // first: made
    await key(55_000, 1); // 5 s later: not due
    await key(2_000, 2); // back 53 s: restart, made
    await key(2 ** 32 - 4000, 3); // far ahead (reads as a step back of 6 s): made
    await key(2000, 4); // 6 s later, across the 2^32 wrap: not due
    await key(7000, 5); // 11 s after 2^32 - 4000: made
    expect(r.thumbs.entries.map((x) => x.mediaTimestamp)).toEqual([50_000, 2_000, 2 ** 32 - 4000, 7000]);
    t.close();
  });
});
