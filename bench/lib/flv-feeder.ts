/**
 * The ingest's node → ffmpeg hop without the RTMP side, for bench/pipe-batching.ts: N ffmpeg processes with
 * the ingest's own argv (ingest/ffmpeg-args.ts), each fed an FLV file's tags on stdin in real time, looped,
 * either one write per tag (what ingest/ffmpeg.ts does: the RTMP layer hands over one tag at a time) or
 * corked and flushed every `flushMs` (one writev per flush).
 *
 *   node --import tsx bench/lib/flv-feeder.ts '{"file":"x.flv","n":32,"mode":"per-tag","flushMs":40,"seconds":40,"dir":"/tmp/x","segmentSeconds":2}'
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHlsArgs } from '../../ingest/ffmpeg-args';

interface Opts {
  file: string;
  n: number;
  mode: 'per-tag' | 'batched';
  flushMs: number;
  seconds: number;
  dir: string;
  segmentSeconds: number;
}
const opts = JSON.parse(process.argv[2]) as Opts;

// FLV: 9-byte header + PreviousTagSize0, then tags (11-byte header, data, 4-byte PreviousTagSize).
const flv = readFileSync(opts.file);
const header = flv.subarray(0, 13);
const tags: Array<{ ts: number; buf: Buffer }> = [];
for (let pos = 13; pos + 11 <= flv.length; ) {
  const size = flv.readUIntBE(pos + 1, 3);
  const ts = flv.readUIntBE(pos + 4, 3) | (flv[pos + 7] << 24);
  const end = pos + 11 + size + 4;
  if (end > flv.length) break;
  tags.push({ ts, buf: flv.subarray(pos, end) });
  pos = end;
}
// Every tag in file order (metadata, sequence headers, media), timestamps shifted on each loop.
const media = tags;
const firstTs = media[0].ts;
const loopMs = media[media.length - 1].ts - firstTs + 33;

function withTimestamp(tag: Buffer, ts: number): Buffer {
  const b = Buffer.from(tag);
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  b[7] = (ts >>> 24) & 0xff;
  return b;
}

interface Stream {
  child: ChildProcess;
  next: number;
  loop: number;
}
const streams: Stream[] = [];
for (let i = 0; i < opts.n; i++) {
  const dir = join(opts.dir, `s${i}`);
  mkdirSync(dir, { recursive: true });
  const args = buildHlsArgs({
    dir,
    session: `bench${i}`,
    segmentSeconds: opts.segmentSeconds,
    playlistSize: 6,
    startNumber: 0,
    discontinuity: false,
  });
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(header);
  streams.push({ child, next: 0, loop: 0 });
}

const started = performance.now();
const pending: Buffer[][] = streams.map(() => []);
function due(s: Stream, i: number, now: number): void {
  for (;;) {
    const t = media[s.next];
    const at = t.ts - firstTs + s.loop * loopMs;
    if (at > now) return;
    const buf = withTimestamp(t.buf, t.ts + s.loop * loopMs);
    if (opts.mode === 'per-tag') s.child.stdin!.write(buf);
    else pending[i].push(buf);
    if (++s.next === media.length) {
      s.next = 0;
      s.loop++;
    }
  }
}
// Arrival pace: each tag is handed over at its own time, as the RTMP layer emits a tag when its last chunk
// arrives from a `-re` publisher (one timer per stream, set to the next tag's time).
const timers: NodeJS.Timeout[] = [];
let stopped = false;
function schedule(s: Stream, i: number): void {
  if (stopped) return;
  const now = performance.now() - started;
  due(s, i, now);
  const t = media[s.next];
  const at = t.ts - firstTs + s.loop * loopMs;
  timers[i] = setTimeout(() => schedule(s, i), Math.max(0, at - (performance.now() - started)));
}
streams.forEach((s, i) => {
  schedule(s, i);
});
const flush =
  opts.mode === 'batched'
    ? setInterval(() => {
        streams.forEach((s, i) => {
          if (!pending[i].length) return;
          const stdin = s.child.stdin!;
          stdin.cork();
          for (const b of pending[i]) stdin.write(b);
          pending[i] = [];
          process.nextTick(() => stdin.uncork());
        });
      }, opts.flushMs)
    : undefined;

const stop = () => {
  stopped = true;
  for (const t of timers) clearTimeout(t);
  if (flush) clearInterval(flush);
  for (const s of streams) s.child.kill('SIGKILL');
  setTimeout(() => process.exit(0), 200);
};
setTimeout(stop, opts.seconds * 1000);
process.on('SIGTERM', stop);
process.send?.({ type: 'ready' });
