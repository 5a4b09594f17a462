/**
 * Where the ingest's per-stream CPU goes between node and ffmpeg, and what batching the writes to ffmpeg's
 * stdin would save. The density benchmark's profile puts most of the ingest node process in `writeBuffer`:
 * one write(2) to ffmpeg's stdin per FLV tag (~75 a second per 3 Mbps stream, each waking ffmpeg up).
 *
 * This runs the node → ffmpeg hop alone (no RTMP): a feeder process with N ffmpeg children on the ingest's
 * own argv, fed the 720p30 ~3 Mbps FLV in real time (each tag at its timestamp, as a `-re` publisher's tags
 * reach the ingest), in two modes, interleaved over --rounds rounds:
 *   per-tag   one stdin.write per tag, as ingest/ffmpeg.ts does today;
 *   batched   tags corked and flushed every --flush-ms (one writev per flush).
 * CPU of the feeder and of its ffmpeg children from /proc over a --window s window after a warm-up.
 *
 *   npx tsx bench/pipe-batching.ts [--n 32] [--flush-ms 40] [--window 20] [--rounds 2] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { encodeSource, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { busyPercent, cpuBetween, sampleTree, systemCpu } from './lib/proc';
import { median, round } from './lib/stats';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const args = parseArgs();
const smoke = args.smoke;
const n = args.number('n', smoke ? 6 : 32);
const flushMs = args.number('flush-ms', 40);
const windowSeconds = args.number('window', smoke ? 3 : 20);
const rounds = args.number('rounds', smoke ? 1 : 2);
const machine = machineInfo();
const root = join(tmpdir(), `keyframe-bench-pipe-${process.pid}`);
const cleanups: Array<() => unknown> = [() => rmSync(root, { recursive: true, force: true })];

interface ModeResult {
  readonly mode: 'per-tag' | 'batched';
  readonly round: number;
  readonly nodePerStream: number;
  readonly ffmpegPerStream: number;
  readonly totalPerStream: number;
  readonly machineBusyPct: number;
}

await runBench({ deadlineMs: smoke ? 60_000 : 20 * 60_000, cleanups }, async () => {
  const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: 2, seconds: 20 });
  const warmup = smoke ? 2 : 6;
  const results: ModeResult[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const mode of (r % 2 ? ['batched', 'per-tag'] : ['per-tag', 'batched']) as Array<'per-tag' | 'batched'>) {
      const dir = join(root, `${mode}-${r}`);
      mkdirSync(dir, { recursive: true });
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(REPO, 'bench/lib/flv-feeder.ts'),
          JSON.stringify({ file, n, mode, flushMs, seconds: warmup + windowSeconds + 5, dir, segmentSeconds: 2 }),
        ],
        { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
      );
      const exited = new Promise((res) => child.once('exit', res));
      cleanups.push(() => child.kill('SIGKILL'));
      await new Promise((res) => child.once('message', res));
      await sleep(warmup * 1000);
      const sysA = systemCpu();
      const a = sampleTree(child.pid!);
      await sleep(windowSeconds * 1000);
      const b = sampleTree(child.pid!);
      const sysB = systemCpu();
      child.kill('SIGTERM');
      await exited;
      const cpu = cpuBetween(a, b);
      const res: ModeResult = {
        mode,
        round: r,
        nodePerStream: round((cpu.byComm.node ?? 0) / n, 3),
        ffmpegPerStream: round((cpu.byComm.ffmpeg ?? 0) / n, 3),
        totalPerStream: round(cpu.total / n, 3),
        machineBusyPct: round(busyPercent(sysA, sysB), 1),
      };
      results.push(res);
      progress(`${mode} round ${r + 1}: ${JSON.stringify(res)}`);
      await sleep(1000);
    }
  }
  const med = (mode: string, k: keyof ModeResult) => round(median(results.filter((x) => x.mode === mode).map((x) => x[k] as number)), 3);
  const summary = (['per-tag', 'batched'] as const).map((mode) => ({
    mode,
    nodePerStream: med(mode, 'nodePerStream'),
    ffmpegPerStream: med(mode, 'ffmpegPerStream'),
    totalPerStream: med(mode, 'totalPerStream'),
  }));
  const [perTag, batched] = summary;
  const report = [
    `${n} streams of the 720p30 ~3 Mbps FLV fed to ffmpeg (the ingest's argv) in real time; medians over ${rounds} round(s) of ${windowSeconds} s; % of one core per stream.`,
    '',
    table(
      ['writes to ffmpeg stdin', 'feeder (node) %/stream', 'ffmpeg %/stream', 'total %/stream'],
      summary.map((s) => [
        s.mode === 'per-tag' ? 'one write per FLV tag (as ingest/ffmpeg.ts)' : `corked, flushed every ${flushMs} ms`,
        s.nodePerStream,
        s.ffmpegPerStream,
        `**${s.totalPerStream}**`,
      ]),
    ),
    '',
    `Batched / per-tag: node ${round(batched.nodePerStream / perTag.nodePerStream, 2)}×, ffmpeg ${round(batched.ffmpegPerStream / perTag.ffmpegPerStream, 2)}×, total ${round(batched.totalPerStream / perTag.totalPerStream, 2)}×. Batching delays each tag by up to ${flushMs} ms before ffmpeg sees it.`,
  ].join('\n');
  finish(args, 'pipe-batching', machine, { n, flushMs, windowSeconds, rounds: results, summary }, report);
});
