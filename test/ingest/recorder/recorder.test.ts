/**
 * The recorder against a real S3-compatible server (local/s3.ts) and a real table (dynalite), fed with real
 * CMAF: an ffmpeg FLV through the packager.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recording } from '../../../core/model';
import { createRecordingS3Client, fromPackagerSegment, type RecorderEvent, RecordingService, s3RecordingObjects } from '../../../ingest/recorder';
import { type LocalS3, startLocalS3 } from '../../../local/s3';
import { startTestTable, type TestTable } from '../../support/dynamo';
import { EventLog, waitFor } from '../../support/wait';
import { feed, getBytes, getText, listKeys, makeFlv, packageFlv, parsePlaylist, probe, type Publish } from './support';

const BUCKET = 'kf-recordings';
const dir = mkdtempSync(join(tmpdir(), 'kf-recorder-'));
let s3server: LocalS3;
let s3: S3Client;
let table: TestTable;
let flv: string;
let first: Publish;
let second: Publish;
const FEED_SECONDS = 8;

beforeAll(async () => {
  [s3server, table, flv] = await Promise.all([startLocalS3({ buckets: [BUCKET] }), startTestTable(), makeFlv(dir, FEED_SECONDS)]);
  s3 = createRecordingS3Client({ endpoint: s3server.endpoint, requestTimeoutMs: 2000 });
  first = packageFlv(flv, 'sessiona01');
  second = packageFlv(flv, 'sessionb02', 200);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await Promise.all([s3server?.close(), table?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

let services = 0;
function service(opts: { spoolMaxBytes?: number; now?: () => number } = {}) {
  const events = new EventLog<RecorderEvent>();
  const svc = new RecordingService({
    objects: s3RecordingObjects(s3, BUCKET),
    store: table.store,
    spoolDir: join(dir, `spool-${++services}`),
    spoolMaxBytes: opts.spoolMaxBytes ?? 64 * 1024 * 1024,
    targetDurationSeconds: 1,
    retryInitialMs: 100,
    retryMaxMs: 1000,
    now: opts.now,
    onEvent: (e) => events.push(e),
  });
  const finalized = (id: string) =>
    events
      .waitFor(`recording ${id} finalized`, (e) => e.type === 'finalized' && e.recording.id === id)
      .then((e) => (e as { recording: Recording }).recording);
  return { svc, events, finalized };
}

/** Every listed segment decodes (with the MAP it names), and each S3 object the playlist names exists. */
async function expectDecodable(prefix: string, segments: { uri: string; map: string }[]): Promise<void> {
  const keys = await listKeys(s3, BUCKET, prefix);
  for (const s of segments) {
    expect(keys).toContain(prefix + s.uri);
    expect(keys).toContain(prefix + s.map);
  }
  const inits = new Map<string, Buffer>();
  for (const s of segments) {
    if (!inits.has(s.map)) inits.set(s.map, await getBytes(s3, BUCKET, prefix + s.map));
    const { stderr, frames } = await probe(dir, s.uri, inits.get(s.map)!, await getBytes(s3, BUCKET, prefix + s.uri));
    expect(stderr, s.uri).toBe('');
    expect(frames, s.uri).toBeGreaterThan(0);
  }
}

const prefixOf = (r: { playbackId: string; id: string }) => `recordings/${r.playbackId}/${r.id}/`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('Recorder', () => {
  it('writes each object and an EVENT playlist while live; ends VOD, ready, durations adding up, every segment decoding', async () => {
    const { svc, events, finalized } = service();
    const rec = svc.start({ playbackId: 'PlaybackAAAA', channelName: 'alpha' });
    const half = Math.floor(first.segments.length / 2);
    feed(rec, first, 0, half);
    const prefix = `recordings/PlaybackAAAA/${rec.recordingId}/`;
    // While live: an EVENT playlist without ENDLIST, and the recording `recording` in the table.
    await events.waitFor('a live playlist', (e) => e.type === 'uploaded' && e.key === `${prefix}index.m3u8`);
    const live = parsePlaylist(await getText(s3, BUCKET, `${prefix}index.m3u8`));
    expect(live.type).toBe('EVENT');
    expect(live.ended).toBe(false);
    expect(live.segments.length).toBeGreaterThan(0);
    expect((await waitFor('the recording item', () => table.store.getRecording(rec.recordingId))).state).toBe('recording');

    feed(rec, first, half);
    rec.end();
    const done = await finalized(rec.recordingId);
    expect(done.state).toBe('ready');
    expect(done.gaps).toEqual([]);
    expect(done.segmentCount).toBe(first.segments.length);

    const vod = parsePlaylist(await getText(s3, BUCKET, `${prefix}index.m3u8`));
    expect(vod.type).toBe('VOD');
    expect(vod.ended).toBe(true);
    expect(vod.segments.map((s) => s.uri)).toEqual(first.segments.map((s) => s.name));
    const total = sum(vod.segments.map((s) => s.duration));
    const longest = Math.max(...vod.segments.map((s) => s.duration));
    expect(Math.abs(total - FEED_SECONDS)).toBeLessThanOrEqual(longest);
    expect(vod.segments.filter((s) => s.discontinuity)).toEqual([]);
    await expectDecodable(prefix, vod.segments);

    const item = await table.store.getRecording(rec.recordingId);
    expect(item).toMatchObject({ state: 'ready', playbackId: 'PlaybackAAAA', channelName: 'alpha', segmentCount: vod.segments.length });
    expect(item!.durationSeconds).toBeCloseTo(total, 2);
    expect(item!.startedAt).toBe(first.segments[0].programDateTimeMs);
    expect(item!.endedAt).toBeGreaterThanOrEqual(item!.startedAt);
    // The spool gave every byte back and holds no file.
    expect(svc.spoolUsedBytes).toBe(0);
    await svc.drain({ timeoutMs: 10_000 });
    for (const sub of readdirSync(join(dir, `spool-${services}`))) expect(readdirSync(join(dir, `spool-${services}`, sub))).toEqual([]);
  });

  it('S3 down mid-publish, then back: onSegment never blocks, the recording ends complete with no gap', async () => {
    const { svc, events, finalized } = service();
    const rec = svc.start({ playbackId: 'PlaybackBBBB', channelName: 'bravo' });
    const third = Math.floor(first.segments.length / 3);
    feed(rec, first, 0, third);
    await events.waitFor('the first third in S3', (e) => e.type === 'uploaded' && e.key.endsWith(first.segments[third - 1].name));
    await s3server.stop();
    const outageStart = performance.now();
    const took = feed(rec, first, third, first.segments.length);
    // Retries during the outage (each one refused), then S3 is back.
    // Backoff 100, 200, 400, 800, 1000 ms (±25 %): about 2.5 s of outage.
    await events.waitFor('six failed attempts of one upload', (e) => e.type === 'upload-failed' && e.attempt >= 6, 20_000);
    await s3server.start();
    const outageMs = performance.now() - outageStart;
    rec.end();
    const done = await finalized(rec.recordingId);
    expect(outageMs).toBeGreaterThan(1500);
    expect(Math.max(...took)).toBeLessThan(100); // the live path's calls return at once, whatever S3 does
    expect(done.state).toBe('ready');
    expect(done.gaps).toEqual([]);
    const vod = parsePlaylist(await getText(s3, BUCKET, `${prefixOf(done)}index.m3u8`));
    expect(vod.segments.map((s) => s.uri)).toEqual(first.segments.map((s) => s.name));
    expect(vod.ended).toBe(true);
    expect((await table.store.getRecording(done.id))?.state).toBe('ready');
  });

  it('spool full while S3 is down: the segments that did not fit are a recorded gap, the recording incomplete', async () => {
    // Room for the init and the first two segments exactly: nothing more fits until S3 takes them.
    const cap = first.inits[0].bytes.length + first.segments[0].byteLength + first.segments[1].byteLength;
    const { svc, events, finalized } = service({ spoolMaxBytes: cap });
    const rec = svc.start({ playbackId: 'PlaybackCCCC', channelName: 'charlie' });
    await s3server.stop();
    const outage = Math.min(first.segments.length - 2, 5);
    const took = feed(rec, first, 0, outage);
    await events.waitFor('a failed upload', (e) => e.type === 'upload-failed');
    await s3server.start();
    // S3 is back: each later segment comes when the spool has room again, as at live pace.
    for (let i = outage; i < first.segments.length; i++) {
      await waitFor('the spool to drain', () => svc.spoolUsedBytes === 0);
      feed(rec, first, i, i + 1);
    }
    rec.end();
    const done = await finalized(rec.recordingId);
    expect(Math.max(...took)).toBeLessThan(100);
    expect(done.state).toBe('incomplete');
    expect(done.gaps, JSON.stringify(done.gaps)).toHaveLength(1);
    const gap = done.gaps[0];
    const vod = parsePlaylist(await getText(s3, BUCKET, `${prefixOf(done)}index.m3u8`));
    const listed = new Set(vod.segments.map((s) => s.uri));
    const missing = first.segments.filter((s) => !listed.has(s.name));
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.map((s) => s.msn)).toEqual(Array.from({ length: gap.toMsn - gap.fromMsn + 1 }, (_, i) => gap.fromMsn + i));
    expect(gap).toMatchObject({ session: first.session, reason: 'spool-full', startedAt: missing[0].programDateTimeMs });
    expect(gap.seconds).toBeCloseTo(sum(missing.map((s) => s.duration)), 2);
    // The segment after the gap follows a discontinuity; the playlist and the table agree.
    const after = vod.segments.findIndex((s) => s.uri === first.segments[gap.toMsn - first.segments[0].msn + 1]?.name);
    expect(after).toBeGreaterThan(0);
    expect(vod.segments[after].discontinuity).toBe(true);
    expect(done.segmentCount).toBe(vod.segments.length);
    expect(await table.store.getRecording(done.id)).toMatchObject({ state: 'incomplete', gaps: [gap] });
    await expectDecodable(prefixOf(done), vod.segments);
  });

  it('a reconnect within the window continues the recording with a discontinuity; after the window, a new one', async () => {
    const clock = { now: Date.now() };
    const { svc, finalized } = service({ now: () => clock.now });
    const a = svc.start({ playbackId: 'PlaybackDDDD', channelName: 'delta' });
    feed(a, first);
    a.end();
    await finalized(a.recordingId);
    clock.now += 30_000; // within the 60 s window
    const b = svc.start({ playbackId: 'PlaybackDDDD', channelName: 'delta' });
    expect(b.recordingId).toBe(a.recordingId);
    feed(b, second);
    b.end();
    const one = await waitFor('the continued recording ready', async () => {
      const r = await table.store.getRecording(a.recordingId);
      return r?.state === 'ready' && r.segmentCount === first.segments.length + second.segments.length && r;
    });
    const vod = parsePlaylist(await getText(s3, BUCKET, `${prefixOf(one)}index.m3u8`));
    expect(vod.ended).toBe(true);
    const discs = vod.segments.flatMap((s, i) => (s.discontinuity ? [i] : []));
    expect(discs).toEqual([first.segments.length]);
    expect(vod.segments[first.segments.length].map).toBe(second.inits[0].name);
    expect(vod.segments[0].map).toBe(first.inits[0].name);
    await expectDecodable(prefixOf(one), [vod.segments[first.segments.length - 1], vod.segments[first.segments.length]]);

    clock.now += 61_000; // past the window
    const c = svc.start({ playbackId: 'PlaybackDDDD', channelName: 'delta' });
    expect(c.recordingId).not.toBe(a.recordingId);
    feed(c, first);
    c.end();
    expect((await finalized(c.recordingId)).state).toBe('ready');
    const all = await table.store.listRecordingsOfChannel('PlaybackDDDD');
    expect(all.map((r) => r.id).sort()).toEqual([a.recordingId, c.recordingId].sort());
  });

  it('a takeover publish continues the recording and the old handle goes inert', async () => {
    const { svc, finalized } = service();
    const a = svc.start({ playbackId: 'PlaybackEEEE', channelName: 'echo' });
    feed(a, first, 0, 3);
    const b = svc.start({ playbackId: 'PlaybackEEEE', channelName: 'echo' });
    expect(b.recordingId).toBe(a.recordingId);
    a.onSegment({ name: 'stale00000_999.m4s', bytes: Buffer.alloc(10), durationSeconds: 1, programDateTime: 0, discontinuity: false });
    a.end(); // the old publish's end does not end the recording
    feed(b, second);
    b.end();
    const done = await finalized(b.recordingId);
    expect(done.state).toBe('ready');
    expect(done.segmentCount).toBe(3 + second.segments.length);
  });

  it('segments before any init are a missing-init gap; the recorder never throws into the caller', async () => {
    const { svc, finalized } = service();
    const rec = svc.start({ playbackId: 'PlaybackGGGG', channelName: 'golf' });
    const [s0, s1] = first.segments;
    expect(() =>
      rec.onSegment({ name: s0.name, bytes: s0.chunks, durationSeconds: s0.duration, programDateTime: s0.programDateTimeMs, discontinuity: false }),
    ).not.toThrow();
    feed(rec, { ...first, segments: first.segments.slice(1) });
    rec.end();
    rec.end(); // twice: inert
    const done = await finalized(rec.recordingId);
    expect(done.state).toBe('incomplete');
    expect(done.gaps).toEqual([expect.objectContaining({ fromMsn: s0.msn, toMsn: s0.msn, reason: 'missing-init' })]);
    expect(done.segmentCount).toBe(first.segments.length - 1);
    const vod = parsePlaylist(await getText(s3, BUCKET, `${prefixOf(done)}index.m3u8`));
    expect(vod.segments[0].uri).toBe(s1.name);
    expect(svc.spoolUsedBytes).toBe(0);
  });

  it('drain ends a publish still on and waits for its uploads: the recording is ready before the task exits', async () => {
    const { svc } = service();
    const rec = svc.start({ playbackId: 'PlaybackHHHH', channelName: 'hotel' });
    feed(rec, first);
    await svc.drain({ timeoutMs: 20_000 });
    const item = await table.store.getRecording(rec.recordingId);
    expect(item).toMatchObject({ state: 'ready', segmentCount: first.segments.length, gaps: [] });
    expect(parsePlaylist(await getText(s3, BUCKET, `${prefixOf(item!)}index.m3u8`)).ended).toBe(true);
    rec.end(); // the stream manager's late end is a no-op
    rec.onSegment(fromPackagerSegment(first.segments[0]));
    expect(svc.spoolUsedBytes).toBe(0);
  });

  it('drain with S3 down past its deadline: what was not uploaded becomes a gap, nothing throws', async () => {
    const { svc } = service();
    const rec = svc.start({ playbackId: 'PlaybackFFFF', channelName: 'foxtrot' });
    await s3server.stop();
    try {
      feed(rec, first, 0, 3);
      rec.end();
      await svc.drain({ timeoutMs: 500 });
    } finally {
      await s3server.start();
    }
    const item = await table.store.getRecording(rec.recordingId);
    expect(item?.state).toBe('failed');
    expect(item?.gaps.map((g) => [g.fromMsn, g.toMsn, g.reason])).toEqual([[first.segments[0].msn, first.segments[2].msn, 'upload-abandoned']]);
  });
});
