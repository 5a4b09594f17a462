import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { waitFor } from '../support/wait';

/**
 * LL-HLS end to end: a real-time ffmpeg publisher (1 s GOP), one ingest task, the origin in front. The playlist
 * carries parts and the LL-HLS server control; blocking reloads and preload-hint parts are held at the task and
 * relayed by the origin; a player without LL-HLS support (ffmpeg) plays the same playlist.
 */
let stack: LocalStack;
const procs: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, taskEnv: { KEYFRAME_END_LINGER_SECONDS: '1' } });
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await stack?.stop();
});

function run(cmd: string, args: string[]): { exited: Promise<{ code: number | null; stderr: string }> } {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (stderr += d));
  proc.stdout!.resume();
  return { exited: new Promise((resolve) => proc.once('exit', (code) => resolve({ code, stderr }))) };
}

function publish(url: string, seconds: number) {
  return run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-g',
    '30',
    '-keyint_min',
    '30',
    '-sc_threshold',
    '0',
    '-bf',
    '2',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'flv',
    url,
  ]);
}

const attr = (line: string, name: string) => new RegExp(`${name}=("([^"]*)"|[^,]*)`).exec(line)?.[2] ?? new RegExp(`${name}=([^,]*)`).exec(line)?.[1];

describe('LL-HLS through the origin', () => {
  it('serves parts, holds blocking requests until the part exists, refuses far-ahead ones, and ffmpeg still plays', async () => {
    const channel = await stack.createChannel('ll-hls');
    const publisher = publish(channel.publishUrl, 40);
    const url = channel.playbackUrl;
    const text = await waitFor(
      'an LL playlist with 3 segments through the origin',
      async () => {
        const res = await fetch(url);
        const t = res.status === 200 ? await res.text() : '';
        return (t.match(/#EXTINF/g)?.length ?? 0) >= 3 ? t : undefined;
      },
      20_000,
    );
    expect(text).toMatch(/^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1\.002,HOLD-BACK=3$/m);
    expect(text).toMatch(/^#EXT-X-PART-INF:PART-TARGET=0\.334$/m);
    const parts = text.split('\n').filter((l) => l.startsWith('#EXT-X-PART:'));
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) expect(Number(attr(p, 'DURATION'))).toBeLessThanOrEqual(0.334);
    // 1 s GOP on a 1 s grid: every segment's first part is a keyframe.
    expect(parts.filter((p) => p.includes('INDEPENDENT=YES')).length).toBeGreaterThanOrEqual(3);

    // A blocking reload for the part after the newest: held, then answered once that part is listed.
    const last = /URI="([a-z0-9]{10})_(\d+)\.(\d+)\.m4s"[^\n]*\n(?![\s\S]*#EXT-X-PART:)/.exec(text)!;
    const [session, msn, index] = [last[1], Number(last[2]), Number(last[3])];
    const start = performance.now();
    const blocked = await fetch(`${url}?_HLS_msn=${msn}&_HLS_part=${index + 1}`);
    const heldMs = performance.now() - start;
    expect(blocked.status).toBe(200);
    expect(blocked.headers.get('cache-control')).toBe('public, max-age=1');
    const after = await blocked.text();
    expect(after.includes(`${session}_${msn}.${index + 1}.m4s`) || after.includes(`${session}_${msn + 1}.0.m4s`)).toBe(true);
    // A part is cut every 0.334 s: the answer cannot take much longer than one part (plus a loaded machine).
    expect(heldMs).toBeLessThan(1500);

    // The preload hint: requested before it exists, served once it is written; the same bytes end up in the segment.
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(after)![1];
    const part = await fetch(new URL(hint, url));
    expect(part.status).toBe(200);
    expect(part.headers.get('cache-control')).toBe('public, max-age=1209600, immutable');
    const partBytes = Buffer.from(await part.arrayBuffer());
    expect(partBytes.subarray(4, 8).toString('latin1')).toBe('moof');

    // Far ahead and malformed: 400 at the origin (and the task), never held.
    for (const q of [`_HLS_msn=${msn + 10}`, '_HLS_msn=01', `_HLS_part=1`, `_HLS_msn=${msn}&_HLS_part=x`]) {
      const res = await fetch(`${url}?${q}`);
      expect(res.status, q).toBe(400);
    }

    // A player that ignores parts: ffmpeg reads the same playlist for 8 s without an error.
    const player = run('ffmpeg', ['-hide_banner', '-v', 'error', '-nostats', '-i', url, '-t', '8', '-f', 'null', '-']);
    const played = await player.exited;
    expect(played.stderr).toBe('');
    expect(played.code).toBe(0);

    const segName = hint.replace(/\.\d+\.m4s$/, '.m4s');
    const segment = await waitFor(
      "the hinted part's segment",
      async () => {
        const res = await fetch(new URL(segName, url));
        return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
      },
      10_000,
    );
    expect(segment.includes(partBytes)).toBe(true);
    void publisher;
  }, 90_000);
});
