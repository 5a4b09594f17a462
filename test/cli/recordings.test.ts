/** `keyframe recordings list|delete` against a real table (dynalite) and a real S3-compatible server (s3rver). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import type { RecordingView } from '../../cli/recordings';
import { createKey } from '../../core/channels';
import { createRecordingS3Client, RecordingService, s3RecordingObjects } from '../../ingest/recorder';
import { type LocalS3, startLocalS3 } from '../../local/s3';
import { writeLocalState } from '../../local/state';
import { startTestTable, type TestTable } from '../support/dynamo';
import { waitFor } from '../support/wait';
import { feed, listKeys, makeFlv, packageFlv, type Publish } from '../ingest/recorder/support';

const BUCKET = 'kf-cli-recordings';
const urls = { rtmpUrl: 'rtmp://127.0.0.1:1935/live', playbackBaseUrl: 'http://127.0.0.1:8080' };
const ENV = ['KEYFRAME_STATE_DIR', 'KEYFRAME_RECORDING_BUCKET', 'KEYFRAME_S3_ENDPOINT'] as const;
const saved = new Map<string, string | undefined>();
let t: TestTable;
let s3server: LocalS3;
let s3: S3Client;
let dir: string;
let publish: Publish;
let svc: RecordingService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kf-recordings-cli-'));
  let flv: string;
  [t, s3server, flv] = await Promise.all([startTestTable(), startLocalS3({ buckets: [BUCKET] }), makeFlv(dir, 4)]);
  publish = packageFlv(flv, 'clisessn01');
  s3 = createRecordingS3Client({ endpoint: s3server.endpoint });
  svc = new RecordingService({ objects: s3RecordingObjects(s3, BUCKET), store: t.store, spoolDir: join(dir, 'spool'), spoolMaxBytes: 1 << 26 });
  for (const name of ENV) saved.set(name, process.env[name]);
  process.env.KEYFRAME_STATE_DIR = dir;
  process.env.KEYFRAME_RECORDING_BUCKET = BUCKET;
  process.env.KEYFRAME_S3_ENDPOINT = s3server.endpoint;
  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: t.dynamo.endpoint,
    tableName: t.tableName,
    ...urls,
  });
}, 60_000);

afterAll(async () => {
  for (const [name, v] of saved) {
    if (v === undefined) delete process.env[name];
    else process.env[name] = v;
  }
  s3?.destroy();
  await Promise.all([t?.close(), s3server?.close()]);
  await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(argv, (s) => (out += s));
  return { code, out };
}

async function listJson(...args: string[]): Promise<RecordingView[]> {
  return JSON.parse((await run('recordings', 'list', ...args, '--json')).out) as RecordingView[];
}

describe('keyframe recordings', () => {
  it('lists a published recording as ready soon after the publish ends, with its playback URL; deletes it', async () => {
    const channel = await createKey(t.store, urls, 'rec-cli');
    await createKey(t.store, urls, 'other-cli');
    const rec = svc.start({ playbackId: channel.playbackId, channelName: channel.name });
    feed(rec, publish);
    // While live it is listed as recording, and cannot be deleted.
    const live = await waitFor('the recording listed', async () => (await listJson('rec-cli'))[0]);
    expect(live).toMatchObject({ id: rec.recordingId, state: 'recording', channel: 'rec-cli', playbackId: channel.playbackId });
    await expect(run('recordings', 'delete', rec.recordingId)).rejects.toThrow(/still being recorded/);

    rec.end();
    const ready = await waitFor('the recording ready', async () => (await listJson(channel.playbackId)).find((r) => r.state === 'ready'), {
      timeoutMs: 5000,
    });
    expect(ready.playbackUrl).toBe(`${urls.playbackBaseUrl}/recordings/${channel.playbackId}/${rec.recordingId}/index.m3u8`);
    expect(ready.segmentCount).toBe(publish.segments.length);
    expect(ready.durationSeconds).toBeGreaterThan(3);
    expect(Date.parse(ready.endedAt!)).toBeGreaterThanOrEqual(Date.parse(ready.startedAt));
    expect(await listJson('other-cli')).toEqual([]);
    expect((await listJson()).map((r) => r.id)).toContain(rec.recordingId);

    const text = await run('recordings', 'list');
    expect(text.code).toBe(0);
    expect(text.out).toContain(`${rec.recordingId}  rec-cli (${channel.playbackId})  ready`);
    expect(text.out).toContain(ready.playbackUrl);
    await expect(run('recordings', 'list', 'no-such-channel')).rejects.toThrow(/no channel named/);

    const prefix = `recordings/${channel.playbackId}/${rec.recordingId}/`;
    expect((await listKeys(s3, BUCKET, prefix)).length).toBe(publish.segments.length + 2); // init, segments, playlist
    const deleted = await run('recordings', 'delete', rec.recordingId, '--json');
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.out)).toMatchObject({ deleted: { id: rec.recordingId }, objectsDeleted: publish.segments.length + 2 });
    expect(await listKeys(s3, BUCKET, prefix)).toEqual([]);
    expect(await t.store.getRecording(rec.recordingId)).toBeUndefined();
    await expect(run('recordings', 'delete', rec.recordingId)).rejects.toThrow(/no recording/);
    await expect(run('recordings', 'delete', 'not-an-id')).rejects.toThrow(/not a recording id/);
  });
});
