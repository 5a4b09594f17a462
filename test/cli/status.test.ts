import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import type { ChannelStatus } from '../../cli/status';
import { createKey } from '../../core/channels';
import type { Route, StreamHealthReport } from '../../core/model';
import { writeLocalState } from '../../local/state';
import { startTestTable, type TestTable } from '../support/dynamo';

let t: TestTable;
let previousDir: string | undefined;
const urls = { rtmpUrl: 'rtmp://127.0.0.1:1935/live', playbackBaseUrl: 'http://127.0.0.1:8080' };

const HEALTH: StreamHealthReport = {
  video: { codec: 'avc1.640028', width: 1920, height: 1080, frameRate: 30, bitrateBps: 6_012_000, keyframeIntervalSeconds: 8.333 },
  audio: { codec: 'mp4a.40.2', sampleRate: 48000, channels: 2, bitrateBps: 128_000 },
  jitterMs: 12,
  segments: 40,
  discontinuities: 0,
  warnings: [{ code: 'keyframe-interval', message: 'keyframe interval 8.3 s: set 1 or 2 s in OBS → Settings → Output → Keyframe Interval' }],
};

beforeAll(async () => {
  t = await startTestTable();
  const dir = await mkdtemp(join(tmpdir(), 'kf-status-'));
  previousDir = process.env.KEYFRAME_STATE_DIR;
  process.env.KEYFRAME_STATE_DIR = dir;
  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: t.dynamo.endpoint,
    tableName: t.tableName,
    ...urls,
  });
  const live = await createKey(t.store, urls, 'live-one', { record: true, ladder: '720p,360p' });
  await createKey(t.store, urls, 'quiet-one');
  const now = Date.now();
  const route: Route = {
    playbackId: live.playbackId,
    taskArn: 'arn:aws:ecs:local:000000000000:task/keyframe-local/task-1',
    host: '127.0.0.1',
    port: 40000,
    session: 'abcdefghij',
    startedAt: now - 65_000,
    heartbeatAt: now,
    expiresAt: now + 15_000,
    mediaSequence: 123,
    discontinuitySequence: 1,
    recordingId: 'mh2k3l4q0abcdefg',
  };
  await t.store.putRoute(route);
  // The health arrives with a heartbeat, as the ingest writes it.
  await t.store.heartbeatRoute({
    playbackId: live.playbackId,
    taskArn: route.taskArn,
    session: route.session,
    heartbeatAt: now,
    expiresAt: now + 15_000,
    mediaSequence: 124,
    health: HEALTH,
  });
});

afterAll(async () => {
  if (previousDir === undefined) delete process.env.KEYFRAME_STATE_DIR;
  else process.env.KEYFRAME_STATE_DIR = previousDir;
  await t.close();
});

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(argv, (s) => (out += s));
  return { code, out };
}

describe('keyframe status', () => {
  it('shows each channel, live or offline, with the health the task reported and its warnings', async () => {
    const { code, out } = await run('status');
    expect(code).toBe(0);
    expect(out).toMatch(/^live-one \([A-Za-z0-9]{12}\) {2}LIVE {2}recorded {2}ladder 720p,360p$/m);
    expect(out).toContain('recording    mh2k3l4q0abcdefg (see: keyframe recordings list live-one)');
    expect(out).toMatch(/thumbnail {4}http:\/\/127\.0\.0\.1:8080\/[A-Za-z0-9]{12}\/thumbnail\.jpg/);
    expect(out).toMatch(/since .*\(1 min \d+ s\), task task-1, segment 124/);
    expect(out).toContain('video        avc1.640028 1920x1080, 30 fps, 6012 kbit/s, keyframe every 8.333 s');
    expect(out).toContain('audio        mp4a.40.2 48000 Hz, 2 ch, 128 kbit/s');
    expect(out).toContain('! keyframe interval 8.3 s: set 1 or 2 s in OBS → Settings → Output → Keyframe Interval');
    expect(out).toMatch(/^quiet-one \([A-Za-z0-9]{12}\) {2}offline$/m);
  });

  it('--json gives the same, for one channel by name', async () => {
    const { code, out } = await run('status', 'live-one', '--json');
    expect(code).toBe(0);
    const statuses = JSON.parse(out) as ChannelStatus[];
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({
      name: 'live-one',
      state: 'live',
      mediaSequence: 124,
      health: HEALTH,
      record: true,
      recordingId: 'mh2k3l4q0abcdefg',
    });
    expect(statuses[0].thumbnailUrl).toBe(`${urls.playbackBaseUrl}/${statuses[0].playbackId}/thumbnail.jpg`);
  });

  it('says which channel it could not find', async () => {
    await expect(run('status', 'nobody')).rejects.toThrow(/no channel named or with playback ID "nobody"/);
  });
});
