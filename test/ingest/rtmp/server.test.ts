/**
 * Integration with a real publisher: ffmpeg 5.1 (native RTMP client, digest handshake) pushing H.264 + AAC.
 * Each publisher runs ≤ ~3 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRtmpServer, type PublishRequest, type RtmpServer, type RtmpServerOptions } from '../../../ingest/rtmp/index.js';
import { flvTag } from '../../../ingest/rtmp/flv.js';
import {
  type FfmpegRun,
  killIfRunning,
  playWithFfmpeg,
  probeFlv,
  publishWithFfmpeg,
  RecordingLogger,
  RecordingSink,
  SessionEventLog,
} from './helpers.js';

const KEY_A = 'kf_AAAAaaaaAAAAaaaaAAAAaaaaAAAAaaaa';
const KEY_B = 'kf_BBBBbbbbBBBBbbbbBBBBbbbbBBBBbbbb';

let server: RtmpServer | undefined;
const runs: FfmpegRun[] = [];

afterEach(async () => {
  for (const r of runs.splice(0)) killIfRunning(r);
  await server?.close();
  server = undefined;
});

async function start(options: Partial<RtmpServerOptions> = {}) {
  const logger = new RecordingLogger();
  const requests: PublishRequest[] = [];
  const sinks = new Map<string, RecordingSink>();
  server = createRtmpServer({
    logger,
    onPublish: async (request) => {
      requests.push(request);
      const sink = new RecordingSink();
      sinks.set(request.key, sink);
      return { accept: true, sink };
    },
    ...options,
  });
  const events = new SessionEventLog(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, logger, requests, sinks, events, url: (key: string) => `rtmp://127.0.0.1:${port}/live/${key}` };
}

function track(run: FfmpegRun): FfmpegRun {
  runs.push(run);
  return run;
}

describe('RTMP server with ffmpeg', () => {
  it('receives a publish as FLV that ffprobe decodes as h264 + aac of the expected duration', async () => {
    const { url, requests, sinks, logger, events } = await start();
    const ff = track(publishWithFfmpeg(url(KEY_A), { seconds: 2 }));
    const { code, stderr } = await ff.exit;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(requests.map((r) => [r.app, r.key])).toEqual([['live', KEY_A]]);
    const sink = sinks.get(KEY_A)!;
    expect(await sink.endedWithin()).toBe('unpublish');
    expect(sink.ends).toEqual(['unpublish']);
    expect(sink.chunks[0].subarray(0, 3).toString()).toBe('FLV');

    const probe = await probeFlv(sink.bytes);
    expect(probe.format.format_name).toBe('flv');
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    expect(video).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(audio?.codec_name).toBe('aac');
    expect(Number(video!.nb_read_frames)).toBeGreaterThanOrEqual(58);
    expect(Number(video!.nb_read_frames)).toBeLessThanOrEqual(61);
    expect(Number(probe.format.duration)).toBeGreaterThan(1.8);
    expect(Number(probe.format.duration)).toBeLessThan(2.3);
    expect(logger.text()).not.toContain(KEY_A);
    await events.allClosed(server!);
  });

  it('hands media messages as they are to a sink that takes them (no FLV framing), the FLV header only to write()', async () => {
    const writes: Buffer[] = [];
    const messages: { type: number; timestamp: number; payload: Buffer }[] = [];
    let ended: (reason: string) => void = () => {};
    const done = new Promise<string>((resolve) => (ended = resolve));
    const { url } = await start({
      onPublish: async () => ({
        accept: true,
        sink: {
          write: (chunk: Buffer) => void writes.push(chunk),
          message: (type: number, timestamp: number, payload: Buffer) => void messages.push({ type, timestamp, payload }),
          end: (reason: string) => ended(reason),
        },
      }),
    });
    const ff = track(publishWithFfmpeg(url(KEY_A), { seconds: 2 }));
    expect((await ff.exit).code).toBe(0);
    expect(await done).toBe('unpublish');
    expect(writes).toHaveLength(1);
    expect(writes[0].subarray(0, 3).toString()).toBe('FLV');
    expect(new Set(messages.map((m) => m.type))).toEqual(new Set([8, 9, 18]));
    // The same bytes a FLV sink would have had: framed back, ffprobe decodes them.
    const probe = await probeFlv(Buffer.concat([writes[0], ...messages.map((m) => flvTag(m.type, m.timestamp, m.payload))]));
    const video = probe.streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(Number(video!.nb_read_frames)).toBeGreaterThanOrEqual(58);
  });

  it('makes ffmpeg fail quickly on a rejected key, and writes nothing', async () => {
    const { url, logger, events } = await start({
      onPublish: () => ({ accept: false, code: 'NetStream.Publish.BadName', description: 'Unknown stream key' }),
    });
    const ff = track(publishWithFfmpeg(url(KEY_A), { seconds: 3 }));
    // Timed from the refusal, not from the spawn: ffmpeg's own start-up is slow on a loaded machine.
    const refused = events.next('ended').then(() => Date.now());
    const { code, stderr } = await ff.exit;
    const exitedAt = Date.now();
    expect(code).not.toBe(0);
    expect(exitedAt - (await refused)).toBeLessThan(2000); // the server's 2 s grace would be the slow path
    expect(stderr).toContain('Unknown stream key');
    expect(logger.count('info', 'rtmp publish rejected')).toBe(1);
    expect(logger.count('info', 'rtmp publish started')).toBe(0);
    expect(server!.publishingCount).toBe(0);
  });

  it('keeps two concurrent publishers apart', async () => {
    const { url, sinks, requests, events } = await start();
    const a = track(publishWithFfmpeg(url(KEY_A), { seconds: 2, size: '320x240' }));
    const b = track(publishWithFfmpeg(url(`${KEY_B}?app_token=1`), { seconds: 2, size: '160x120' }));
    await events.next('publish-started', 2, 10_000);
    expect(server!.publishingCount).toBe(2);
    const [ra, rb] = await Promise.all([a.exit, b.exit]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect(requests.map((r) => r.key).sort()).toEqual([KEY_A, KEY_B]);
    const [pa, pb] = await Promise.all([probeFlv(sinks.get(KEY_A)!.bytes), probeFlv(sinks.get(KEY_B)!.bytes)]);
    expect(pa.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 320, height: 240 });
    expect(pb.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 160, height: 120 });
  });

  it('ends ffmpeg’s publish when the session is kicked', async () => {
    const { url, sinks, events } = await start();
    const ff = track(publishWithFfmpeg(url(KEY_A), { seconds: 20 }));
    const { session } = await events.next('publish-started', 1, 10_000);
    await sinks.get(KEY_A)!.written(11);
    const kickedAt = Date.now();
    session.close('kicked');
    const { code } = await ff.exit;
    expect(code).not.toBe(0);
    expect(Date.now() - kickedAt).toBeLessThan(5000); // not the 20 s it was asked to run
    expect(sinks.get(KEY_A)!.ends).toEqual(['kicked']);
  });

  it('passes ffmpeg’s strict digest handshake as a player, then refuses play', async () => {
    const { url, logger, requests, events } = await start();
    const ff = track(playWithFfmpeg(url(KEY_A)));
    const refused = events.next('ended').then(() => Date.now());
    const { code } = await ff.exit;
    expect(code).not.toBe(0);
    expect(Date.now() - (await refused)).toBeLessThan(2000); // not its 5 s read timeout
    // FFmpeg as a player validates S1's digest and S2's signature; reaching `play` proves it accepted them.
    expect(logger.count('info', 'rtmp play refused')).toBe(1);
    expect(requests).toEqual([]);
  });
});
