/**
 * The quality ladder's benchmarks (issue 14): CPU per ladder beside the finbits-style command, the ingest's real
 * cost and the rung's availability delay, and how many ladders run on time at once.
 *
 * Source: a 1080p30 testsrc2 FLV (x264 CBR ~6 Mbit/s, 2 s GOP, no B-frames, AAC), made once into the benchmark
 * media cache; every command below gets it in real time. Rungs: the default ladder (720p, 480p, 360p).
 *
 *   cpu       per repetition, one after the other (the order alternating), each a fresh process tree:
 *             ours     the ingest's transcoder (ingest/ladder `LadderTranscoder`, i.e. `ladderFfmpegArgs`), fed
 *                      the file's tags on stdin at their media time from this process, rungs back on pipes;
 *             finbits  one ffmpeg, `-re -stream_loop -1 -i <file>`, split, `scale=-2:<h>` per rung, x264 with the
 *                      same settings as ours (preset, zerolatency, high, bitrate = VBV max = buffer, no B-frames,
 *                      threads), keyframes by x264's GOP (`-g`), each rung its own HLS muxer in a directory.
 *             Measured: the ffmpeg process (/proc utime+stime over the window, % of one core; PSS median of 4
 *             samples), the rungs' speed (media time out per wall second), and the segment boundaries: ours, rung
 *             keyframes against the source's; finbits, each rung's segment starts (ffprobe) across rungs and
 *             against the source's 2 s grid.
 *   ingest   the whole ingest (ingest/main.ts bundled, as in its container) with a ladder channel (thumbnails off,
 *            standard HLS), published with `ffmpeg -re -c copy`: CPU and PSS of the node process plus its ffmpeg
 *            child; from the task's HLS port every 50 ms, when each rung's segment appears against the source's
 *            segment of the same sequence number (the latency a rung adds, at the origin), and their PDT and
 *            duration.
 *   capacity N of our transcoders at once (N = 1, 2, …), each fed its own copy of the source in real time: on time
 *            while every rung's speed stays ≥ 0.97 and the transcoder's lag (ingest/ladder's `lagMs`) does not
 *            grow by more than 500 ms over the window nor pass 2 s (the ingest's `behind` fault).
 *
 * Then ladders per Fargate task size and the cost per ladder-hour (bench/lib/ladder-cost.ts).
 *
 *   npx tsx bench/ladder.ts [--parts cpu,ingest,capacity] [--reps 3] [--ingest-reps 2] [--window 20] [--n 1,2,3]
 *     [--finbits same,defaults] [--cuts] [--arm-speed 1] [--smoke] [--json out.json]
 *   npx tsx bench/ladder.ts --parts cost --cores-per-ladder 0.628 --pss-per-ladder 148.7 --on-time 2   # the table alone
 *
 * --finbits defaults: the finbits-style command as a tutorial writes it (x264 preset, bitrate, VBV and `-g` only:
 * lookahead, B-frames, scene-cut keyframes). --cuts: a source with hard scene cuts off the 2 s keyframe grid
 * (SMPTE bars over testsrc2 for 0.9 s of every 2.7 s), where scene-cut keyframes move the finbits segments.
 */
import './lib/quiet';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../core/channels';
import { createDynamoClient, createDynamoStore } from '../core/dynamo-store';
import { DEFAULT_LADDER, rungsBelow } from '../core/ladder';
import { type LadderOutput, ladderOutputs, LadderTranscoder } from '../ingest/ladder';
import { ensureTable, startLocalDynamo } from '../local/dynamo';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { bundleIngest, startIngestProcess } from './lib/ingest-process';
import { FARGATE_PRICES, LADDER_BUDGET_SHARE, ladderTaskRows, shareCostPerLadderHour, type TaskRow } from './lib/ladder-cost';
import { avcFrame, boundarySpread, encodeCutSource, type FlvFileTag, feedRealtime, finbitsArgs, readFlvTags, segmentStarts } from './lib/ladder-run';
import { httpGet, playlistSegments } from './lib/live';
import { encodeSource, publishFile, type SourceSpec } from './lib/media';
import { cpuBetween, memoryOfTree, sampleTree, systemCpu, busyPercent } from './lib/proc';
import { median, percentile, round } from './lib/stats';

const args = parseArgs();
const smoke = args.smoke;
const SOURCE: SourceSpec = smoke
  ? { width: 480, height: 270, fps: 30, gopSeconds: 1, videoKbps: 1200, audioKbps: 64, seconds: 6 }
  : { width: 1920, height: 1080, fps: 30, gopSeconds: 2, videoKbps: 6000, audioKbps: 128, seconds: 20 };
const ladder = smoke ? ['240p', '160p'] : [...DEFAULT_LADDER];
const segmentSeconds = SOURCE.gopSeconds;
const parts = args.string('parts', 'cpu,ingest,capacity').split(',').filter(Boolean);
const reps = args.number('reps', smoke ? 1 : 3);
const ingestReps = args.number('ingest-reps', smoke ? 1 : 2);
const windowSeconds = args.number('window', smoke ? 4 : 20);
const settleSeconds = args.number('settle', smoke ? 1 : 3);
const nList = args.list('n', smoke ? [1] : [1, 2, 3]);
const finbitsKinds = args.string('finbits', 'same').split(',').filter(Boolean) as Array<'same' | 'defaults'>;
const armSpeed = args.number('arm-speed', 1);
/** A source with hard scene cuts off the keyframe grid (bench/lib/ladder-run.ts `encodeCutSource`) instead of plain testsrc2. */
const cuts = args.flag('cuts');
const frameSeconds = 1 / SOURCE.fps;
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];
const root = join(tmpdir(), `keyframe-bench-ladder-${process.pid}`);

type CommandKind = 'ours' | 'finbits' | 'finbits-defaults';

interface CommandRun {
  readonly command: CommandKind;
  readonly rep: number;
  readonly cpuPct: number;
  /**
   * CPU per real-time ladder: cpuPct / speed (CPU per second of media out). On a machine shared with other work a
   * command that falls behind uses less CPU per wall second; this is what it would need to keep up.
   */
  readonly cpuPctPerRealtime: number;
  readonly systemCpuPct: number;
  readonly pssMiB: number;
  readonly rssMiB: number;
  /** The slowest rung's media seconds out per wall second over the window. */
  readonly speed: number;
  /** ffmpeg's own `speed=` (finbits; `-progress`), last in the window. */
  readonly ffmpegSpeed?: number;
  /** Ours: the transcoder's lag at the window's start and end, and its maximum, ms. */
  readonly lagMs?: { start: number; end: number; max: number };
  readonly framesPerRung: Record<string, number>;
  /** Segment boundaries. */
  readonly alignment: Alignment;
  readonly machineBusyPct: number;
}

interface Alignment {
  /** Ours: source keyframes compared in every rung, and how many of them some rung had no keyframe at. */
  readonly sourceKeyframes?: number;
  readonly missedInSomeRung?: number;
  /** Ours: rung keyframes off every source keyframe. */
  readonly extraRungKeyframes?: number;
  /** Finbits: segments compared (per rung), the worst spread of a boundary across rungs, boundaries off by > 1 frame. */
  readonly segmentsCompared?: number;
  readonly maxSpreadAcrossRungsMs?: number;
  readonly misalignedAcrossRungs?: number;
  /** Finbits: segment starts more than a frame off the source's keyframe grid (multiples of the GOP from the first). */
  readonly offSourceGrid?: number;
  /** Finbits: segment durations as the playlists give them (first rung, first 8). */
  readonly durations?: number[];
  readonly aligned: boolean;
}

await runBench({ deadlineMs: smoke ? 240_000 : 40 * 60_000, cleanups }, async () => {
  mkdirSync(root, { recursive: true });
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  progress(
    `source ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps}, ${SOURCE.videoKbps} kbit/s, GOP ${SOURCE.gopSeconds} s (encoding once if not cached)`,
  );
  const file = cuts ? await encodeCutSource(SOURCE) : await encodeSource(SOURCE);
  const tags = readFlvTags(file);
  const outputs = ladderOutputs(rungsBelow(ladder, SOURCE.height), SOURCE);
  progress(`source ${file}; rungs ${outputs.map((o) => `${o.name} ${o.width}x${o.height} ${o.videoKbps}k`).join(', ')}`);

  const cpuRuns: CommandRun[] = [];
  const capacity: CapacityResult[] = [];
  const ingestRuns: IngestRun[] = [];

  if (parts.includes('cpu')) {
    const kinds: CommandKind[] = ['ours', ...finbitsKinds.map((k) => (k === 'same' ? 'finbits' : 'finbits-defaults') as CommandKind)];
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 ? [...kinds].reverse() : kinds;
      for (const kind of order) {
        const r = kind === 'ours' ? await runOurs(rep) : await runFinbits(rep, kind);
        cpuRuns.push(r);
        progress(
          `${kind} #${rep + 1}: ${r.cpuPct}% of a core, PSS ${r.pssMiB} MiB, speed ${r.speed}${r.ffmpegSpeed !== undefined ? ` (ffmpeg ${r.ffmpegSpeed})` : ''}, ` +
            `aligned ${r.alignment.aligned} ${JSON.stringify(r.alignment)}, machine ${r.machineBusyPct}% busy`,
        );
      }
    }
  }

  if (parts.includes('ingest')) {
    for (let rep = 0; rep < ingestReps; rep++) {
      const r = await runIngest(rep);
      ingestRuns.push(r);
      progress(
        `ingest #${rep + 1}: ${r.cpuPct}% of a core ${JSON.stringify(r.cpuByComm)}, PSS +${r.pssDeltaMiB} MiB, rung delay ${JSON.stringify(r.delayMs)}`,
      );
    }
  }

  if (parts.includes('capacity')) {
    for (const n of nList) {
      const r = await runCapacity(n);
      capacity.push(r);
      progress(
        `capacity N=${n}: ${r.onTime ? 'on time' : 'LATE'}; speed min ${r.minSpeed}; lag growth max ${r.maxLagGrowthMs} ms; CPU ${r.cpuPct}%; machine ${r.machineBusyPct}%`,
      );
      if (!r.onTime) break;
    }
  }

  // ---- report ----
  const byKind = (k: CommandKind) => cpuRuns.filter((r) => r.command === k);
  const med = (xs: number[]) => round(median(xs), 1);
  const summary = (['ours', 'finbits', 'finbits-defaults'] as const)
    .filter((k) => byKind(k).length)
    .map((k) => {
      const rs = byKind(k);
      return {
        command: k,
        runs: rs.length,
        cpuPct: med(rs.map((r) => r.cpuPct)),
        cpuPctPerRealtime: med(rs.map((r) => r.cpuPctPerRealtime)),
        cpuPctRange: [round(Math.min(...rs.map((r) => r.cpuPct)), 1), round(Math.max(...rs.map((r) => r.cpuPct)), 1)],
        pssMiB: med(rs.map((r) => r.pssMiB)),
        speed: round(median(rs.map((r) => r.speed)), 3),
        aligned: rs.every((r) => r.alignment.aligned),
      };
    });
  const ours = summary.find((s) => s.command === 'ours');
  const fin = summary.find((s) => s.command === 'finbits');
  const ratio = ours && fin ? round(ours.cpuPct / fin.cpuPct, 3) : undefined;
  const ratioPerRealtime = ours && fin ? round(ours.cpuPctPerRealtime / fin.cpuPctPerRealtime, 3) : undefined;
  // Same-repetition pairs: ours / finbits in each repetition.
  const pairRatios = Array.from({ length: reps }, (_, rep) => {
    const o = cpuRuns.find((r) => r.rep === rep && r.command === 'ours');
    const f = cpuRuns.find((r) => r.rep === rep && r.command === 'finbits');
    return o && f ? round(o.cpuPctPerRealtime / f.cpuPctPerRealtime, 3) : undefined;
  }).filter((x): x is number => x !== undefined);

  const ingestCpu = ingestRuns.length ? med(ingestRuns.map((r) => r.cpuPct)) : undefined;
  const ingestPss = ingestRuns.length ? med(ingestRuns.map((r) => r.pssDeltaMiB)) : undefined;
  const delays = ingestRuns.flatMap((r) => r.delays);
  const delaySummary = delays.length
    ? { n: delays.length, p50: round(median(delays), 0), p95: round(percentile(delays, 95), 0), max: Math.max(...delays) }
    : undefined;
  const onTimeHere = capacity.filter((c) => c.onTime).reduce((m, c) => Math.max(m, c.n), 0);
  // --cores-per-ladder, --pss-per-ladder, --on-time: the cost table from figures of earlier runs (pooled medians).
  const coresPerLadder = args.options.has('cores-per-ladder')
    ? args.number('cores-per-ladder', 0)
    : ingestCpu !== undefined
      ? ingestCpu / 100
      : ours
        ? ours.cpuPct / 100
        : undefined;
  const pssPerLadder = args.options.has('pss-per-ladder') ? args.number('pss-per-ladder', 0) : (ingestPss ?? ours?.pssMiB);
  const onTimeGiven = args.options.has('on-time') ? args.number('on-time', 0) : undefined;
  const measurement =
    coresPerLadder !== undefined && pssPerLadder !== undefined
      ? {
          coresPerLadder,
          pssMiBPerLadder: pssPerLadder,
          onTimeHere: onTimeGiven ?? (capacity.length ? onTimeHere : Number.POSITIVE_INFINITY),
          machineCores: machine.nproc,
        }
      : undefined;
  const rows: TaskRow[] = measurement ? ladderTaskRows(measurement, { armSpeed }) : [];

  const report: string[] = [
    `Source ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps} testsrc2${cuts ? ' with scene cuts (SMPTE bars 0.9 s of every 2.7 s)' : ''}, ${SOURCE.videoKbps} kbit/s, ${SOURCE.gopSeconds} s GOP; rungs ` +
      `${outputs.map((o) => `${o.name} (${o.width}x${o.height}, ${o.videoKbps}k)`).join(', ')}; ${windowSeconds} s windows; CPU in % of one core.`,
    '',
  ];
  if (cpuRuns.length) {
    report.push(
      '### CPU per ladder, the command alone',
      '',
      table(
        ['command', 'runs', 'CPU % (median)', 'range', 'CPU % per real-time ladder (CPU / speed)', 'PSS MiB', 'speed', 'segments aligned'],
        summary.map((s) => [
          s.command,
          s.runs,
          s.cpuPct,
          `${s.cpuPctRange[0]}–${s.cpuPctRange[1]}`,
          `**${s.cpuPctPerRealtime}**`,
          s.pssMiB,
          s.speed,
          s.aligned ? 'yes' : '**no**',
        ]),
      ),
      '',
      ratio !== undefined
        ? `ours / finbits: ${ratio}× on the CPU medians, ${ratioPerRealtime}× per real-time ladder; per repetition (per real-time ladder) ${pairRatios.map((r) => `${r}×`).join(', ')}.`
        : '(ours or finbits not run)',
      '',
      table(
        ['run', 'command', 'CPU %', 'of it kernel', 'CPU / speed', 'PSS MiB', 'speed', 'boundaries', 'machine busy %'],
        cpuRuns.map((r) => [
          r.rep + 1,
          r.command,
          r.cpuPct,
          r.systemCpuPct,
          r.cpuPctPerRealtime,
          r.pssMiB,
          r.speed,
          describeAlignment(r.alignment),
          r.machineBusyPct,
        ]),
      ),
      '',
    );
  }
  if (ingestRuns.length) {
    report.push(
      '### The ingest with a ladder channel (node + its ffmpeg)',
      '',
      table(
        [
          'run',
          'CPU %',
          'by process',
          'PSS MiB idle → loaded',
          'rung delay p50 / p95 / max ms (segments)',
          'PDT Δ max ms',
          'duration Δ max ms',
          'machine busy %',
        ],
        ingestRuns.map((r) => [
          r.rep + 1,
          `**${r.cpuPct}**`,
          Object.entries(r.cpuByComm)
            .map(([c, v]) => `${c} ${v}`)
            .join(', '),
          `${r.pssIdleMiB} → ${r.pssMiB}`,
          `${r.delayMs.p50} / ${r.delayMs.p95} / ${r.delayMs.max} (${r.delays.length})`,
          r.maxPdtDeltaMs,
          r.maxDurationDeltaMs,
          r.machineBusyPct,
        ]),
      ),
      '',
      delaySummary
        ? `Rung availability delay over the source's segment of the same sequence number, all runs: p50 ${delaySummary.p50} ms, p95 ${delaySummary.p95} ms, max ${delaySummary.max} ms (${delaySummary.n} rung segments; polled every 50 ms).`
        : '',
      '',
    );
  }
  if (capacity.length) {
    report.push(
      '### Ladders at once on this machine',
      '',
      table(
        ['N', 'verdict', 'min speed', 'lag growth max ms', 'lag max ms', 'faults', 'CPU % (all ffmpeg)', 'machine busy %'],
        capacity.map((c) => [
          c.n,
          c.onTime ? 'on time' : '**late**',
          c.minSpeed,
          c.maxLagGrowthMs,
          c.maxLagMs,
          c.faults.join(', ') || '—',
          c.cpuPct,
          c.machineBusyPct,
        ]),
      ),
      '',
    );
  }
  if (measurement) {
    report.push(
      '### Ladders per Fargate task size and cost per ladder-hour',
      '',
      `Per ladder: ${round(measurement.coresPerLadder, 3)} cores (${args.options.has('cores-per-ladder') ? 'given' : ingestCpu !== undefined ? 'the ingest run' : 'the command alone'}), ${round(measurement.pssMiBPerLadder, 1)} MiB PSS; ` +
        `${onTimeGiven !== undefined ? `${onTimeGiven} on time at once (given)` : capacity.length ? `${onTimeHere} on time at once` : 'capacity not run'} on ${machine.nproc} cores. Assumptions: 1 Fargate vCPU = 1 core here; arm64 x264 speed ×${armSpeed} (unmeasured); ` +
        `budget ${LADDER_BUDGET_SHARE * 100}% of the task's vCPU; ${FARGATE_PRICES.region} ${FARGATE_PRICES.asOf}.`,
      '',
      table(
        ['arch', 'task', '$/task-hour', 'by budget', 'by measurement', 'by memory', 'ladders', '$/ladder-hour (packed)'],
        rows.map((r) => [
          r.arch,
          `${r.vcpu} vCPU / ${r.memoryGiB} GiB`,
          round(r.taskHour, 4),
          r.byBudget,
          Number.isFinite(r.byMeasurement) ? r.byMeasurement : '— (not run)',
          r.byMemory,
          `**${r.ladders}**`,
          Number.isFinite(r.perLadderHourPacked) ? round(r.perLadderHourPacked, 4) : '—',
        ]),
      ),
      '',
      `Share cost (the ladder's vCPU and memory at list price, tasks busy): arm64 $${round(shareCostPerLadderHour(measurement, 'arm64', { armSpeed }), 4)}, ` +
        `x86_64 $${round(shareCostPerLadderHour(measurement, 'x86_64'), 4)} per ladder-hour.`,
    );
  }
  finish(
    args,
    'ladder',
    machine,
    {
      source: SOURCE,
      outputs,
      segmentSeconds,
      windowSeconds,
      cpu: { runs: cpuRuns, summary, ratio, ratioPerRealtime, pairRatios },
      ingest: { runs: ingestRuns, cpuPct: ingestCpu, pssDeltaMiB: ingestPss, delay: delaySummary },
      capacity: { runs: capacity, onTimeHere },
      cost: { measurement, armSpeed, rows },
    },
    report.join('\n'),
  );

  // ---- the runs ----

  async function measureWindow<T>(
    pid: number,
    during: () => T,
    onSample?: () => void,
  ): Promise<{ cpu: ReturnType<typeof cpuBetween>; pss: number; rss: number; busy: number; before: T; after: T; seconds: number }> {
    const sysA = systemCpu();
    const a = sampleTree(pid);
    const before = during();
    const mem: Array<{ pss: number; rss: number }> = [];
    const step = (windowSeconds * 1000) / 8;
    for (let k = 0; k < 8; k++) {
      await sleep(step);
      onSample?.();
      if (k % 2) {
        const m = memoryOfTree(pid);
        mem.push({ pss: m.pssKiB, rss: m.rssKiB });
      }
    }
    const b = sampleTree(pid);
    const after = during();
    const sysB = systemCpu();
    return {
      cpu: cpuBetween(a, b),
      pss: median(mem.map((m) => m.pss)) / 1024,
      rss: median(mem.map((m) => m.rss)) / 1024,
      busy: busyPercent(sysA, sysB),
      before,
      after,
      seconds: (b.at - a.at) / 1000,
    };
  }

  async function runOurs(rep: number): Promise<CommandRun> {
    const t = startOurs(outputs, tags);
    try {
      await t.flowing(30_000);
      await sleep(settleSeconds * 1000);
      const lags: number[] = [];
      const w = await measureWindow(
        t.pid(),
        () => ({ at: performance.now(), pts: t.lastPts(), lag: t.transcoder.lagMs() }),
        () => lags.push(t.transcoder.lagMs()),
      );
      const speed = Math.min(...outputs.map((o) => (w.after.pts[o.name] - w.before.pts[o.name]) / (w.after.at - w.before.at)));
      return {
        command: 'ours',
        rep,
        cpuPct: round(w.cpu.total, 1),
        systemCpuPct: round(w.cpu.system, 1),
        pssMiB: round(w.pss, 1),
        rssMiB: round(w.rss, 1),
        speed: round(speed, 3),
        cpuPctPerRealtime: round(w.cpu.total / speed, 1),
        lagMs: { start: round(w.before.lag, 0), end: round(w.after.lag, 0), max: round(Math.max(...lags, w.after.lag), 0) },
        framesPerRung: t.frames(),
        alignment: t.alignment(),
        machineBusyPct: round(w.busy, 1),
      };
    } finally {
      await t.stop();
    }
  }

  async function runFinbits(rep: number, kind: CommandKind): Promise<CommandRun> {
    const dir = join(root, `${kind}-${rep}`);
    mkdirSync(dir, { recursive: true });
    const seconds = 60 + windowSeconds;
    const argv = finbitsArgs({ file, dir, outputs, segmentSeconds, fps: SOURCE.fps, seconds, x264: kind === 'finbits' ? 'same' : 'defaults' });
    const child = spawn('ffmpeg', [...argv.slice(0, 5), '-progress', 'pipe:1', ...argv.slice(5)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = trackChild(child);
    let speed: number | undefined;
    let outUs = 0;
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      for (const m of d.matchAll(/^speed=\s*([\d.]+)x/gm)) speed = Number(m[1]);
      for (const m of d.matchAll(/^out_time_us=(\d+)/gm)) outUs = Number(m[1]);
    });
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    try {
      const ready = Date.now() + 30_000;
      while (!outputs.every((o) => segmentsOf(dir, o.name).length >= 1)) {
        if (child.exitCode !== null) throw new Error(`finbits ffmpeg exited ${child.exitCode}: ${stderr}`);
        if (Date.now() > ready) throw new Error(`finbits: no segment of every rung after 30 s: ${stderr}`);
        await sleep(100);
      }
      await sleep(settleSeconds * 1000);
      const w = await measureWindow(child.pid!, () => ({ at: performance.now(), outUs }));
      const ratioOut = (w.after.outUs - w.before.outUs) / 1000 / (w.after.at - w.before.at);
      const ffmpegSpeed = speed;
      await stop();
      const alignment = await finbitsAlignment(dir);
      const frames: Record<string, number> = {};
      for (const o of outputs) frames[o.name] = Math.round(segmentsOf(dir, o.name).reduce((s, x) => s + x.duration, 0) * SOURCE.fps);
      return {
        command: kind,
        rep,
        cpuPct: round(w.cpu.total, 1),
        systemCpuPct: round(w.cpu.system, 1),
        pssMiB: round(w.pss, 1),
        rssMiB: round(w.rss, 1),
        speed: round(ratioOut, 3),
        cpuPctPerRealtime: round(w.cpu.total / ratioOut, 1),
        ffmpegSpeed,
        framesPerRung: frames,
        alignment,
        machineBusyPct: round(w.busy, 1),
      };
    } finally {
      await stop();
    }
  }

  function segmentsOf(dir: string, rung: string) {
    try {
      return playlistSegments(readFileSync(join(dir, `${rung}.m3u8`), 'utf8'));
    } catch {
      return [];
    }
  }

  async function finbitsAlignment(dir: string): Promise<Alignment> {
    const k = 8;
    const lists = await Promise.all(
      outputs.map((o) =>
        segmentStarts(
          segmentsOf(dir, o.name)
            .slice(0, k)
            .map((s) => join(dir, s.uri)),
        ),
      ),
    );
    const spread = boundarySpread(lists, frameSeconds);
    let offGrid = 0;
    for (const l of lists)
      for (const s of l) {
        const rel = s - l[0];
        const off = Math.abs(rel - Math.round(rel / SOURCE.gopSeconds) * SOURCE.gopSeconds);
        if (off > frameSeconds / 2) offGrid++;
      }
    return {
      segmentsCompared: spread.compared,
      maxSpreadAcrossRungsMs: spread.maxSpreadMs,
      misalignedAcrossRungs: spread.misaligned,
      offSourceGrid: offGrid,
      durations: segmentsOf(dir, outputs[0].name)
        .slice(0, k)
        .map((s) => round(s.duration, 3)),
      aligned: spread.misaligned === 0 && offGrid === 0 && spread.compared >= 2,
    };
  }

  async function runCapacity(n: number): Promise<CapacityResult> {
    const ts = Array.from({ length: n }, () => startOurs(outputs, tags));
    try {
      await Promise.all(ts.map((t) => t.flowing(60_000)));
      await sleep(settleSeconds * 1000);
      const sysA = systemCpu();
      const a = ts.map((t) => ({ at: performance.now(), pts: t.lastPts(), lag: t.transcoder.lagMs(), cpu: sampleTree(t.pid()) }));
      const lagMax = ts.map(() => 0);
      const steps = 8;
      for (let k = 0; k < steps; k++) {
        await sleep((windowSeconds * 1000) / steps);
        for (const [i, t] of ts.entries()) lagMax[i] = Math.max(lagMax[i], t.transcoder.lagMs());
      }
      const b = ts.map((t) => ({ at: performance.now(), pts: t.lastPts(), lag: t.transcoder.lagMs(), cpu: sampleTree(t.pid()) }));
      const sysB = systemCpu();
      const speeds = ts.map((_, i) => Math.min(...outputs.map((o) => (b[i].pts[o.name] - a[i].pts[o.name]) / (b[i].at - a[i].at))));
      const growth = ts.map((_, i) => b[i].lag - a[i].lag);
      const faults = [...new Set(ts.flatMap((t) => t.faults))];
      const minSpeed = Math.min(...speeds);
      const maxGrowth = Math.max(...growth);
      const maxLag = Math.max(...lagMax);
      return {
        n,
        onTime: minSpeed >= 0.97 && maxGrowth <= 500 && maxLag <= 2000 && !faults.includes('behind') && !faults.includes('input-queue-full'),
        minSpeed: round(minSpeed, 3),
        maxLagGrowthMs: round(maxGrowth, 0),
        maxLagMs: round(maxLag, 0),
        faults,
        cpuPct: round(
          ts.reduce((s, _, i) => s + cpuBetween(a[i].cpu, b[i].cpu).total, 0),
          1,
        ),
        machineBusyPct: round(busyPercent(sysA, sysB), 1),
      };
    } finally {
      await Promise.all(ts.map((t) => t.stop()));
    }
  }

  async function runIngest(rep: number): Promise<IngestRun> {
    const dynamo = await startLocalDynamo();
    const client = createDynamoClient({ endpoint: dynamo.endpoint });
    const bundle = await bundleIngest(join(root, 'bundle'));
    const tableName = 'keyframe-bench-ladder';
    let ingest: Awaited<ReturnType<typeof startIngestProcess>> | undefined;
    let publisher: ReturnType<typeof publishFile> | undefined;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let poller: NodeJS.Timeout | undefined;
    try {
      await ensureTable(client, tableName);
      const store = createDynamoStore({ tableName, client });
      const channel = await createKey(store, { rtmpUrl: 'rtmp://127.0.0.1/live', playbackBaseUrl: 'http://127.0.0.1' }, `ladder-${rep}`, { ladder });
      ingest = await startIngestProcess({
        bundle,
        env: {
          KEYFRAME_TABLE: tableName,
          KEYFRAME_DYNAMODB_ENDPOINT: dynamo.endpoint,
          KEYFRAME_TASK_ARN: `arn:aws:ecs:local:000000000000:task/keyframe-local/bench-ladder-${rep}`,
          KEYFRAME_SEGMENT_SECONDS: String(segmentSeconds),
          KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
          KEYFRAME_END_LINGER_SECONDS: '0',
          KEYFRAME_DRAIN_SECONDS: '1',
          KEYFRAME_THUMBNAIL_SECONDS: '0',
          KEYFRAME_LOG_LEVEL: 'WARN',
          KEYFRAME_LL_HLS: 'false',
          // The benchmark measures the ladder, not the admission: a budget the task's capacity check always passes.
          KEYFRAME_LADDER_CPU_BUDGET: '64',
        },
      });
      const pid = ingest.pid;
      await sleep(1000);
      const idle = memoryOfTree(pid);
      publisher = publishFile({
        file,
        url: `rtmp://127.0.0.1:${ingest.rtmpPort}/live/${channel.streamKey}`,
        seconds: 60 + windowSeconds,
        loop: true,
        outputOptions: ['-tcp_nodelay', '1'],
      });
      const names = ['source', ...outputs.map((o) => o.name)];
      const seen = new Map<string, Map<number, { at: number; pdt?: number; duration: number }>>(names.map((n) => [n, new Map()]));
      const base = `http://127.0.0.1:${ingest.hlsPort}/${channel.playbackId}`;
      let polling = false;
      poller = setInterval(() => {
        if (polling) return;
        polling = true;
        void Promise.all(
          names.map(async (name) => {
            const r = await httpGet(agent, `${base}/${name}.m3u8`).catch(() => undefined);
            const at = Date.now();
            if (r?.status !== 200) return;
            const m = seen.get(name)!;
            for (const s of playlistSegments(r.body.toString('utf8')))
              if (!m.has(s.sequence)) m.set(s.sequence, { at, pdt: s.pdt, duration: s.duration });
          }),
        ).finally(() => (polling = false));
      }, 50);
      const ready = Date.now() + 45_000;
      while (!names.every((n) => seen.get(n)!.size >= 2)) {
        if (Date.now() > ready)
          throw new Error(
            `ingest: not every rendition has 2 segments after 45 s (${names.map((n) => `${n} ${seen.get(n)!.size}`).join(', ')}): ${ingest.stderr().slice(-1500)}`,
          );
        if (publisher.proc.exitCode !== null) throw new Error(`publisher exited: ${(await publisher.exited).stderr}`);
        await sleep(200);
      }
      await sleep(settleSeconds * 1000);
      const from = Date.now();
      const w = await measureWindow(pid, () => 0);
      const to = Date.now();
      const src = seen.get('source')!;
      const delays: number[] = [];
      let maxPdt = 0;
      let maxDur = 0;
      for (const o of outputs) {
        for (const [msn, s] of seen.get(o.name)!) {
          const x = src.get(msn);
          if (!x || x.at < from || x.at > to) continue;
          delays.push(s.at - x.at);
          if (s.pdt !== undefined && x.pdt !== undefined) maxPdt = Math.max(maxPdt, Math.abs(s.pdt - x.pdt));
          maxDur = Math.max(maxDur, Math.abs(s.duration - x.duration) * 1000);
        }
      }
      const byComm: Record<string, number> = {};
      for (const [c, v] of Object.entries(w.cpu.byComm)) byComm[c] = round(v, 1);
      return {
        rep,
        cpuPct: round(w.cpu.total, 1),
        cpuByComm: byComm,
        pssIdleMiB: round(idle.pssKiB / 1024, 1),
        pssMiB: round(w.pss, 1),
        pssDeltaMiB: round(w.pss - idle.pssKiB / 1024, 1),
        delays,
        delayMs: { p50: round(median(delays), 0), p95: round(percentile(delays, 95), 0), max: delays.length ? Math.max(...delays) : Number.NaN },
        commonSegments: delays.length,
        maxPdtDeltaMs: round(maxPdt, 0),
        maxDurationDeltaMs: round(maxDur, 0),
        machineBusyPct: round(w.busy, 1),
      };
    } finally {
      if (poller) clearInterval(poller);
      agent.destroy();
      await publisher?.stop();
      await ingest?.stop();
      client.destroy();
      await dynamo.close();
    }
  }
});

interface CapacityResult {
  readonly n: number;
  readonly onTime: boolean;
  readonly minSpeed: number;
  readonly maxLagGrowthMs: number;
  readonly maxLagMs: number;
  readonly faults: string[];
  readonly cpuPct: number;
  readonly machineBusyPct: number;
}

interface IngestRun {
  readonly rep: number;
  readonly cpuPct: number;
  readonly cpuByComm: Record<string, number>;
  readonly pssIdleMiB: number;
  readonly pssMiB: number;
  readonly pssDeltaMiB: number;
  /** Per rung segment in the window: when it appeared after the source's segment of the same sequence number, ms. */
  readonly delays: number[];
  readonly delayMs: { p50: number; p95: number; max: number };
  readonly commonSegments: number;
  readonly maxPdtDeltaMs: number;
  readonly maxDurationDeltaMs: number;
  readonly machineBusyPct: number;
}

function describeAlignment(a: Alignment): string {
  if (a.sourceKeyframes !== undefined)
    return `${a.aligned ? 'aligned' : '**not aligned**'}: ${a.sourceKeyframes} source keyframes, ${a.missedInSomeRung} without a keyframe in some rung, ${a.extraRungKeyframes} extra`;
  return (
    `${a.aligned ? 'aligned' : '**not aligned**'}: ${a.segmentsCompared} segments per rung, worst spread across rungs ${a.maxSpreadAcrossRungsMs} ms ` +
    `(${a.misalignedAcrossRungs} > 1 frame), ${a.offSourceGrid} starts off the source's ${SOURCE.gopSeconds} s grid; durations ${a.durations?.join(', ')}`
  );
}

/** Kills a child's process group on stop (and on the benchmark's cleanup), waits for its exit. */
function trackChild(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  cleanups.push(stop);
  return stop;
}

/** Our transcoder on the source, fed in real time from this process. */
function startOurs(outputs: readonly LadderOutput[], tags: readonly FlvFileTag[]) {
  const srcKeys: number[] = [];
  const rungKeys = new Map<string, number[]>(outputs.map((o) => [o.name, []]));
  const frames: Record<string, number> = Object.fromEntries(outputs.map((o) => [o.name, 0]));
  const lastPts: Record<string, number> = Object.fromEntries(outputs.map((o) => [o.name, 0]));
  const faults: string[] = [];
  let flowing = false;
  const transcoder = new LadderTranscoder({
    outputs,
    segmentSeconds,
    onMessage: (rung, type, ts, payload) => {
      if (type !== 9) return;
      const f = avcFrame(payload);
      if (!f) return;
      const cto = (((payload[2] << 16) | (payload[3] << 8) | payload[4]) << 8) >> 8;
      frames[rung]++;
      lastPts[rung] = ts + cto;
      if (f.key) rungKeys.get(rung)!.push(ts + cto);
    },
    onFlowing: () => (flowing = true),
    onFault: (fault) => faults.push(fault),
  });
  const feeder = feedRealtime(tags, (type, ts, body) => {
    if (type === 9 && avcFrame(body)?.key) srcKeys.push(ts);
    transcoder.push(type, ts, body);
  });
  const stop = async () => {
    feeder.stop();
    transcoder.kill();
    await transcoder.exited;
  };
  cleanups.push(stop);
  return {
    transcoder,
    faults,
    pid: () => transcoder.pid!,
    frames: () => ({ ...frames }),
    lastPts: () => ({ ...lastPts }),
    async flowing(timeoutMs: number) {
      const end = Date.now() + timeoutMs;
      while (!flowing) {
        if (Date.now() > end) throw new Error(`ours: rungs not flowing after ${timeoutMs} ms (${JSON.stringify(transcoder.stats())})`);
        await sleep(50);
      }
    },
    alignment(): Alignment {
      // Source keyframes every rung has passed (up to the slowest rung's last keyframe).
      const lastRung = Math.min(...[...rungKeys.values()].map((k) => (k.length ? k[k.length - 1] : -1)));
      const firstRung = Math.max(...[...rungKeys.values()].map((k) => (k.length ? k[0] : Number.POSITIVE_INFINITY)));
      const compared = srcKeys.filter((k) => k >= firstRung && k <= lastRung);
      const has = (list: number[], t: number) => list.some((x) => Math.abs(x - t) <= 2);
      const missed = compared.filter((k) => [...rungKeys.values()].some((list) => !has(list, k))).length;
      let extra = 0;
      for (const list of rungKeys.values()) extra += list.filter((t) => t <= lastRung && !has(srcKeys, t)).length;
      return { sourceKeyframes: compared.length, missedInSomeRung: missed, extraRungKeyframes: extra, aligned: compared.length >= 2 && missed === 0 };
    },
    stop,
  };
}
