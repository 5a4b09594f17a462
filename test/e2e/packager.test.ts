import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { LocalTask } from '../../local/tasks';
import type { StreamStatus } from '../../ingest/streams';
import { taskLogs, type TaskLogRecord } from '../support/task-logs';
import { waitFor, withDeadline } from '../support/wait';
import { channelStatus, formatStatus } from '../../cli/status';

/**
 * The in-process packager (ingest/packager) on the passthrough path, end to end: real ffmpeg publishers through
 * the local balancer into two ingest tasks, the origin in front. No ffmpeg runs in the tasks; what comes out is
 * CMAF HLS (EXT-X-MAP, `.m4s`), checked with ffprobe/ffmpeg as a player would read it.
 */
let stack: LocalStack;
let logs: ReturnType<typeof taskLogs>;
let dir: string;
const procs: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kf-packager-'));
  logs = taskLogs();
  stack = await startLocalStack({
    rtmpPort: 0,
    httpPort: 0,
    tasks: 2,
    replaceDeadTasks: false,
    taskEnv: { KEYFRAME_LOG_LEVEL: 'INFO', KEYFRAME_END_LINGER_SECONDS: '1', KEYFRAME_ROUTE_TTL_SECONDS: '3' },
    onTaskLog: logs.onTaskLog,
  });
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  if (stack) {
    const stopped = stack.stop();
    for (const t of stack.fleet.list()) if (t.status !== 'STOPPED') void stack.fleet.signal(t.id, 'SIGKILL');
    await stopped;
  }
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

function run(cmd: string, args: string[]): Run {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (stderr += d));
  proc.stdout!.resume();
  return { proc, exited: new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stderr }))) };
}

/**
 * A real-time ffmpeg publisher. `obsDefault`: what OBS sends out of the box at 1080p30: x264 with a keyframe
 * every 250 frames (8.3 s), B-frames, CBR 6 Mbit/s (nal-hrd=cbr pads to the rate, as OBS's CBR does), AAC 48 kHz.
 */
function publish(url: string, seconds: number, opts: { obsDefault?: boolean } = {}): Run {
  const video = opts.obsDefault ? ['-f', 'lavfi', '-i', 'testsrc=size=1920x1080:rate=30'] : ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30'];
  const encode = opts.obsDefault
    ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-x264-params', 'keyint=250:min-keyint=250:scenecut=0:nal-hrd=cbr'].concat([
        '-b:v',
        '6M',
        '-minrate',
        '6M',
        '-maxrate',
        '6M',
        '-bufsize',
        '6M',
        '-c:a',
        'aac',
        '-b:a',
        '128k',
      ])
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0'].concat([
        '-bf',
        '2',
        '-c:a',
        'aac',
        '-b:a',
        '64k',
      ]);
  const rate = opts.obsDefault ? '48000' : '44100';
  return run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-re',
    ...video,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=${rate}`,
    '-t',
    String(seconds),
    ...encode,
    '-f',
    'flv',
    url,
  ]);
}

interface Playlist {
  readonly status: number;
  readonly text: string;
  readonly mediaSequence?: number;
  readonly discontinuitySequence?: number;
  readonly segments: Array<{ uri: string; duration: number }>;
  readonly map?: string;
}

async function playlist(url: string): Promise<Playlist> {
  const res = await fetch(url);
  const text = res.status === 200 ? await res.text() : '';
  const num = (tag: string) => {
    const m = new RegExp(`^#${tag}:(\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const segments: Array<{ uri: string; duration: number }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^#EXTINF:([\d.]+),/.exec(lines[i]);
    const uri = m && lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    if (m && uri) segments.push({ uri, duration: Number(m[1]) });
  }
  return {
    status: res.status,
    text,
    mediaSequence: num('EXT-X-MEDIA-SEQUENCE'),
    discontinuitySequence: num('EXT-X-DISCONTINUITY-SEQUENCE'),
    segments,
    map: /^#EXT-X-MAP:URI="([^"]+)"$/m.exec(text)?.[1],
  };
}

const routeOf = async (playbackId: string) => stack.store.getRoute(playbackId);
const taskOf = (taskArn: string): LocalTask => stack.fleet.list().find((t) => t.taskArn === taskArn)!;

async function statusOf(task: LocalTask, playbackId: string): Promise<StreamStatus | undefined> {
  const res = await fetch(`http://127.0.0.1:${task.healthPort}/streams`);
  const body = (await res.json()) as { streams: StreamStatus[] };
  return body.streams.find((s) => s.playbackId === playbackId);
}

describe('passthrough through the packager', () => {
  it('every segment decodes on its own with its init, and ffmpeg plays the playback URL through the origin without an error', async () => {
    const channel = await stack.createChannel('decode');
    const pub = publish(`${stack.rtmpUrl}/${channel.streamKey}`, 13);
    const live = await waitFor(
      'three segments in the playlist',
      async () => {
        const p = await playlist(channel.playbackUrl);
        return p.segments.length >= 3 ? p : undefined;
      },
      20_000,
    );
    expect(live.text).toContain('#EXT-X-VERSION:6');
    expect(live.map).toMatch(/^[a-z0-9]{10}_init\.mp4$/);
    expect(live.segments.every((s) => /^[a-z0-9]{10}_\d+\.m4s$/.test(s.uri))).toBe(true);
    // A 1 s GOP on a 1 s grid: every segment starts with a keyframe, and the playlist says so.
    expect(live.text).toContain('#EXT-X-INDEPENDENT-SEGMENTS');

    // A player joining now, through the origin: 10 s of media decoded with nothing printed at `-v error`.
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-nostats', '-i', channel.playbackUrl, '-t', '10', '-f', 'null', '-']);

    // Meanwhile, every segment listed until the end decodes (all frames, -count_frames) after its init, silently.
    const init = await fetch(new URL(live.map!, channel.playbackUrl));
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toBe('video/mp4');
    const initBytes = Buffer.from(await init.arrayBuffer());
    const checked = new Set<string>();
    const failures: string[] = [];
    await waitFor(
      'the end of the list, every segment checked',
      async () => {
        const p = await playlist(channel.playbackUrl);
        for (const s of p.segments) {
          if (checked.has(s.uri)) continue;
          checked.add(s.uri);
          const res = await fetch(new URL(s.uri, channel.playbackUrl));
          if (res.status !== 200) {
            failures.push(`${s.uri}: ${res.status}`);
            continue;
          }
          expect(res.headers.get('content-type')).toBe('video/iso.segment');
          const file = join(dir, s.uri.replace('.m4s', '.mp4'));
          await writeFile(file, Buffer.concat([initBytes, Buffer.from(await res.arrayBuffer())]));
          const entries = 'stream=codec_type,codec_name,nb_read_frames';
          const probe = run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', entries, '-of', 'json', file]);
          let json = '';
          probe.proc.stdout!.on('data', (d) => (json += d));
          const { code, stderr } = await probe.exited;
          if (code !== 0 || stderr.trim()) failures.push(`${s.uri}: ffprobe ${code} ${stderr.trim()}`);
          type Probed = { streams: Array<{ codec_type: string; codec_name: string; nb_read_frames?: string }> };
          const { streams } = JSON.parse(json || '{"streams":[]}') as Probed;
          expect(streams.map((x) => `${x.codec_type}/${x.codec_name}`).sort()).toEqual(['audio/aac', 'video/h264']);
          const frames = Number(streams.find((x) => x.codec_type === 'video')?.nb_read_frames ?? 0);
          // About 30 frames per 1 s segment (the last may be shorter).
          if (!(frames >= 1 && frames <= 33)) failures.push(`${s.uri}: ${frames} video frames`);
        }
        return p.text.includes('#EXT-X-ENDLIST');
      },
      { timeoutMs: 25_000, everyMs: 250, detail: () => `checked ${checked.size}` },
    );
    expect(failures).toEqual([]);
    expect(checked.size).toBeGreaterThanOrEqual(8);
    expect((await withDeadline(pub.exited, 'the publisher to finish', 10_000)).code).toBe(0);
    const played = await withDeadline(player.exited, 'the player ffmpeg to finish', 15_000);
    expect(played.stderr).toBe('');
    expect(played.code).toBe(0);
  }, 60_000);

  it('OBS defaults (1080p30, keyframe every 250 frames, CBR 6 Mbit/s): 1 s segments all served, and the keyframe warning', async () => {
    const channel = await stack.createChannel('obs');
    const pub = publish(`${stack.rtmpUrl}/${channel.streamKey}`, 11, { obsDefault: true });
    const route = await waitFor('the route', () => routeOf(channel.playbackId), 10_000);
    const task = taskOf(route.taskArn);
    const warning = logs.waitFor(
      'the keyframe warning in the log',
      (r: TaskLogRecord) => r.message === 'stream warning' && r.playbackId === channel.playbackId && r.code === 'keyframe-interval',
      25_000,
    );

    const served = new Map<string, number>();
    const durations = new Map<string, number>();
    let health: StreamStatus | undefined;
    let independentClaimed = false;
    let statusText: string | undefined;
    await waitFor(
      'the end of the list, every segment fetched',
      async () => {
        const p = await playlist(channel.playbackUrl);
        if (p.text.includes('#EXT-X-INDEPENDENT-SEGMENTS')) independentClaimed = true;
        for (const s of p.segments) {
          if (served.has(s.uri)) continue;
          const res = await fetch(new URL(s.uri, channel.playbackUrl));
          await res.arrayBuffer();
          served.set(s.uri, res.status);
          durations.set(s.uri, s.duration);
        }
        if (!p.text.includes('#EXT-X-ENDLIST')) {
          const h = await statusOf(task, channel.playbackId);
          if (h?.health.warnings.some((w) => w.code === 'keyframe-interval')) health = h;
          // What `keyframe status` prints: the health the task wrote to the route with its last heartbeat.
          if (!statusText) {
            const statuses = await channelStatus(stack.store, channel.name);
            if (statuses[0]?.health?.warnings.some((w) => w.code === 'keyframe-interval')) statusText = formatStatus(statuses, 'the local stack');
          }
        }
        return p.text.includes('#EXT-X-ENDLIST');
      },
      { timeoutMs: 30_000, everyMs: 250, detail: () => `served ${served.size}` },
    );
    expect((await withDeadline(pub.exited, 'the publisher to finish', 10_000)).code).toBe(0);

    expect(
      [...served.values()].every((s) => s === 200),
      JSON.stringify([...served]),
    ).toBe(true);
    expect(served.size).toBeGreaterThanOrEqual(8);
    // ≈ 1 s each, not the 8.3 s GOP (the last one may be shorter).
    const ds = [...durations.values()];
    expect(Math.max(...ds)).toBeLessThanOrEqual(1.05);
    expect(ds.slice(0, -1).every((d) => d >= 0.9)).toBe(true);
    // Segments start mid-GOP, so the playlist never claims they are independent.
    expect(independentClaimed).toBe(false);
    expect((await warning).warning).toMatch(/^keyframe interval 8\.3 s/);
    expect(health, 'GET /streams on the health port showed the keyframe warning while live').toBeDefined();
    expect(health!.health.video).toMatchObject({ width: 1920, height: 1080 });
    expect(health!.health.video!.keyframeIntervalSeconds).toBeCloseTo(8.33, 1);
    expect(statusText, 'keyframe status showed the keyframe warning while live').toMatch(/! keyframe interval 8\.3 s: set 1 or 2 s in OBS/);
    expect(statusText).toMatch(/avc1\.[0-9a-f]{6} 1920x1080/);
    console.log(`OBS-default case: ${served.size} segments, ${JSON.stringify(health!.health.video)}`);
  }, 60_000);

  it('kill -9 of the task holding a stream, republish through the balancer: the numbers only grow, the same URL plays', async () => {
    const channel = await stack.createChannel('phoenix');
    const first = publish(`${stack.rtmpUrl}/${channel.streamKey}`, 30);
    const polls: Playlist[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        polls.push(await playlist(channel.playbackUrl));
        // A player's poll interval, not a wait: nothing is asserted after it.
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const oldRoute = await waitFor(
        'three segments on the first task',
        async () => {
          const last = polls.at(-1);
          return last && last.segments.length >= 3 ? routeOf(channel.playbackId) : undefined;
        },
        20_000,
      );
      const doomed = taskOf(oldRoute!.taskArn);
      await stack.fleet.signal(doomed.id, 'SIGKILL');
      first.proc.kill('SIGKILL');
      const killedAt = polls.length;
      // The balancer sends the new publish to the task still alive.
      await waitFor('the dead task to leave the fleet', () => taskOf(oldRoute!.taskArn).status === 'STOPPED', 10_000);
      publish(`${stack.rtmpUrl}/${channel.streamKey}`, 30);
      const moved = await waitFor(
        'the route on the other task',
        async () => {
          const r = await routeOf(channel.playbackId);
          return r && r.taskArn !== oldRoute!.taskArn ? r : undefined;
        },
        15_000,
      );
      await waitFor(
        'two segments of the new session at the same URL',
        () => {
          const last = polls.at(-1);
          return last && last.segments.filter((s) => s.uri.startsWith(moved.session)).length >= 2;
        },
        20_000,
      );

      const ok = polls.filter((p) => p.status === 200);
      for (let i = 1; i < ok.length; i++) {
        expect(ok[i].mediaSequence!).toBeGreaterThanOrEqual(ok[i - 1].mediaSequence!);
        expect(ok[i].discontinuitySequence!).toBeGreaterThanOrEqual(ok[i - 1].discontinuitySequence!);
      }
      const numbers = (session: string) =>
        ok
          .flatMap((p) => p.segments)
          .filter((s) => s.uri.startsWith(session))
          .map((s) => Number(/_(\d+)\.m4s$/.exec(s.uri)![1]));
      expect(Math.min(...numbers(moved.session))).toBeGreaterThan(Math.max(...numbers(oldRoute!.session)));
      const before = ok.filter((p) => p.segments.some((s) => s.uri.startsWith(oldRoute!.session))).at(-1)!;
      const after = ok.find((p) => p.segments.some((s) => s.uri.startsWith(moved.session)))!;
      expect(after.discontinuitySequence!).toBeGreaterThan(before.discontinuitySequence!);
      const statuses = polls.slice(killedAt).map((p) => p.status);
      console.log(`kill -9 → republish: playlist statuses after the kill: ${JSON.stringify(countOf(statuses))}`);
      // Never a 5xx, before, during or after the task's death (the origin re-resolves a refused task's route).
      expect(polls.filter((p) => p.status >= 500).map((p) => p.status)).toEqual([]);
    } finally {
      watching = false;
      await watcher;
    }
  }, 60_000);
});

function countOf(xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
