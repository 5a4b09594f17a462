/**
 * Calibration of the ladder's CPU model (docs/ladder.md, "Capacity"): runs the exact ladder command
 * (`ladderFfmpegArgs`) over a source FLV as fast as it goes, and reports CPU seconds per media second (cores) and
 * cores per output megapixel per second. Not a test: `npx tsx test/ingest/ladder/calibrate.ts <source.flv> [runs] [only-ladder]`.
 *
 * CPU is the children's user + system time from /proc/self/stat (cutime + cstime, after ffmpeg is reaped), so
 * other processes on the machine do not count, only what they do to caches and clocks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RUNGS } from '../../../core/ladder';
import { ladderFfmpegArgs, ladderOutputs } from '../../../ingest/ladder/index.js';
import { FlvTagReader } from '../../../ingest/packager/index.js';

function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // cutime, cstime (fields 16, 17), in clock ticks of 10 ms
}

async function runOnce(args: string[], input: Buffer, pipes: number): Promise<number> {
  const before = childrenCpuSeconds();
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe', ...Array.from({ length: pipes }, () => 'pipe' as const)] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < pipes; i++) child.stdio[3 + i]!.on('data', () => {});
  child.stdin!.end(input);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`ffmpeg exited ${code}: ${err}`);
  return childrenCpuSeconds() - before;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const runs = Number(process.argv[3] ?? 1);
  if (!file) throw new Error('usage: calibrate.ts <source.flv> [runs] [only-ladder]');
  const input = readFileSync(file);
  const tags = new FlvTagReader().push(input);
  const video = tags.filter((t) => t.type === 9 && t.payload[1] === 1);
  const mediaSec = (video[video.length - 1].timestamp - video[0].timestamp) / 1000 + 1 / 30;
  const source = { width: 1920, height: 1080 };
  const fps = video.length / mediaSec;
  const configs: { label: string; names: string[]; threads?: number }[] = [
    { label: 'default ladder 720p,480p,360p', names: ['720p', '480p', '360p'] },
    { label: '720p alone', names: ['720p'] },
    { label: '480p alone', names: ['480p'] },
    { label: '360p alone', names: ['360p'] },
    { label: '720p, 1 thread', names: ['720p'], threads: 1 },
    { label: '720p, 4 threads', names: ['720p'], threads: 4 },
    { label: '480p, 2 threads', names: ['480p'], threads: 2 },
  ];
  // Decoding alone: what every ladder pays once.
  const decodeArgs = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-threads',
    '1',
    '-f',
    'flv',
    '-i',
    'pipe:0',
    '-map',
    '0:v',
    '-f',
    'null',
    '-',
  ];
  const decode: number[] = [];
  for (let i = 0; i < runs; i++) decode.push(await runOnce(decodeArgs, input, 0));
  const dec = Math.min(...decode) / mediaSec;
  console.log(`source ${source.width}x${source.height} ${fps.toFixed(2)} fps, ${mediaSec.toFixed(2)} s; decode only: ${dec.toFixed(3)} cores`);
  // `only-ladder`: just the default ladder (a second source, e.g. harder content).
  for (const c of process.argv[4] === 'only-ladder' ? configs.slice(0, 1) : configs) {
    const rungs = RUNGS.filter((r) => c.names.includes(r.name));
    const outputs = ladderOutputs(rungs, source).map((o) => (c.threads ? { ...o, threads: c.threads } : o));
    const args = ladderFfmpegArgs({ outputs, segmentSeconds: 1 });
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) cpu.push(await runOnce(args, input, outputs.length));
    const cores = Math.min(...cpu) / mediaSec;
    const mpix = outputs.reduce((s, o) => s + (o.width * o.height * fps) / 1e6, 0);
    console.log(
      `${c.label}: ${cores.toFixed(3)} cores (runs ${cpu.map((x) => (x / mediaSec).toFixed(3)).join(', ')}); ` +
        `output ${mpix.toFixed(1)} Mpixel/s; encode+scale ${(cores - dec).toFixed(3)} cores = ${((cores - dec) / mpix).toFixed(4)} cores per Mpixel/s`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
