/**
 * Publish → first playable: the time from the publisher's first byte to a playlist with at least one
 * segment that can be fetched through the origin, with the time broken down by phase:
 *
 *   connect   first byte → `publish` command (RTMP handshake, connect, createStream)
 *   accept    `publish` → `NetStream.Publish.Start` (key check, route read + write, ffmpeg spawn)
 *   probe     accepted → ffmpeg has probed its input (`Input #0` printed; the media flows from `accept`)
 *   wait      probed → ffmpeg cuts the first segment: it holds the segment in memory and opens its file
 *             once the keyframe that ends it has arrived, so this is the wait for one segment of media
 *   write     the segment file written (opened → renamed from .tmp)
 *   playlist  segment on disk → playlist listing it on disk
 *   origin    playlist on disk → playlist and segment fetched through the origin (poll every 20 ms)
 *
 * Times on the wire come from a TCP tap in front of the RTMP port and an HTTP tap in front of the ingest's
 * DynamoDB endpoint; ffmpeg's from a wrapper (KEYFRAME_FFMPEG_PATH) that timestamps its info-level lines;
 * the files from polling the session directory every 5 ms.
 *
 * The publisher pushes a pre-encoded 720p30 ~3 Mbps FLV with a GOP equal to the segment duration (`-re`),
 * with TCP_NODELAY as OBS (librtmp) sets it. `--variants` runs variants side by side, interleaved run by run:
 * ffmpeg input flags of the ingest, and `nagle` (ffmpeg's own default publisher, Nagle's algorithm on).
 *
 *   npx tsx bench/first-playable.ts [--runs 7] [--segments 1,2] [--variants as-is,analyze0] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { AS_IS, type FfmpegVariant } from './lib/ffmpeg-wrapper';
import { followOrigin, startBenchStack, watchDisk, type BenchStack } from './lib/live';
import { median, round } from './lib/stats';

interface Variant {
  readonly name: string;
  readonly ffmpeg: FfmpegVariant;
  /** The publisher sets TCP_NODELAY (OBS/librtmp do; ffmpeg's RTMP client does not by default). */
  readonly publisherNoDelay: boolean;
  /** Publish through the local stack's TCP balancer instead of straight to the task (the NLB passes TCP through). */
  readonly viaBalancer?: boolean;
  readonly description: string;
}

const ingestFlags = (name: string, ffmpeg: FfmpegVariant, description: string): Variant => ({ name, ffmpeg, publisherNoDelay: true, description });

export const VARIANTS: Record<string, Variant> = {
  'as-is': ingestFlags('as-is', AS_IS, 'the argv as built by ingest/ffmpeg-args.ts'),
  analyze0: ingestFlags('analyze0', { name: 'analyze0', analyzeduration: '0' }, '-probesize 65536 -analyzeduration 0'),
  analyze100k: ingestFlags('analyze100k', { name: 'analyze100k', analyzeduration: '100000' }, '-probesize 65536 -analyzeduration 100000'),
  fps0: ingestFlags('fps0', { name: 'fps0', extraInput: ['-fpsprobesize', '0'] }, 'as built, plus -fpsprobesize 0'),
  flvmeta: ingestFlags('flvmeta', { name: 'flvmeta', extraInput: ['-flv_metadata', '1'] }, 'as built, plus -flv_metadata 1 (streams from onMetaData)'),
  probe4k: ingestFlags('probe4k', { name: 'probe4k', probesize: '4096', analyzeduration: '0' }, '-probesize 4096 -analyzeduration 0'),
  probe5M: ingestFlags('probe5M', { name: 'probe5M', probesize: '5000000', analyzeduration: '5000000' }, "-probesize 5000000 -analyzeduration 5000000 (ffmpeg's defaults)"),
  nagle: { name: 'nagle', ffmpeg: AS_IS, publisherNoDelay: false, description: "as built; the publisher is ffmpeg with its default TCP options (Nagle's algorithm on)" },
  balancer: { name: 'balancer', ffmpeg: AS_IS, publisherNoDelay: true, viaBalancer: true, description: "as built; published through local/balancer.ts (the local stack's NLB stand-in) instead of straight to the task" },
};

const PHASES = ['connect', 'accept', 'probe', 'wait', 'write', 'playlist', 'origin'] as const;
type Phase = (typeof PHASES)[number];

interface RunResult {
  readonly variant: string;
  readonly segmentSeconds: number;
  readonly totalMs: number;
  readonly phases: Record<Phase, number>;
  /** Within `accept`: the key look-up and the route read + write (DynamoDB calls as timed at the tap). */
  readonly authMs: number;
  readonly routeMs: number;
  /** ffmpeg's start, from the first byte. */
  readonly ffmpegSpawnMs: number;
  /** First segment closed (on disk) minus the arrival of the keyframe that ends it: what the ingest adds to the media wait. */
  readonly segmentAfterMediaMs: number;
  readonly notFoundBefore: number;
}

interface Summary {
  readonly variant: string;
  readonly segmentSeconds: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly phasesMedianMs: Record<Phase, number>;
  readonly authMedianMs: number;
  readonly routeMedianMs: number;
  readonly ffmpegSpawnMedianMs: number;
  readonly segmentAfterMediaMedianMs: number;
  readonly goalMs?: number;
}

async function oneRun(bs: BenchStack, file: string, segmentSeconds: number, variant: Variant, label: string): Promise<RunResult> {
  const channel = await bs.stack.createChannel(label);
  bs.wrapper.use(variant.ffmpeg, { timing: true });
  const tap = bs.tapFor({ viaBalancer: variant.viaBalancer });
  const connIndex = tap.connections.length;
  const callIndex = bs.dynamoTap.calls.length;
  const spawnIndex = bs.wrapper.spawns().length;
  const infoIndex = bs.wrapper.infoLines().length;
  const disk = watchDisk(bs.hlsDir, channel.playbackId, 5);
  const origin = followOrigin(channel.playbackUrl, { everyMs: 20 });
  const publisher = publishFile({
    file,
    url: bs.publishUrl(channel.streamKey, { viaBalancer: variant.viaBalancer }),
    seconds: segmentSeconds * 2 + 3,
    outputOptions: variant.publisherNoDelay ? ['-tcp_nodelay', '1'] : [],
  });
  try {
    const deadline = Date.now() + 20_000;
    while (origin.firstPlayableAt === undefined) {
      if (Date.now() > deadline) throw new Error(`no playable stream within 20 s (${label})`);
      if (publisher.proc.exitCode !== null) {
        const { stderr } = await publisher.exited;
        throw new Error(`publisher exited before the stream was playable: ${stderr}`);
      }
      await sleep(5);
    }
  } finally {
    origin.stop();
    disk.stop();
    await publisher.stop();
  }
  const conn = tap.connections[connIndex];
  const d = disk.times;
  const t0 = conn?.firstClientByteAt;
  if (!conn || t0 === undefined || conn.publishCommandAt === undefined || conn.publishStartAt === undefined || conn.firstMediaAt === undefined) {
    throw new Error('the RTMP tap missed the publish handshake');
  }
  if (d.firstSegmentAt === undefined || d.playlistAt === undefined) {
    throw new Error(`the disk watcher missed a step: ${JSON.stringify(d)}`);
  }
  const spawn = bs.wrapper.spawns().slice(spawnIndex)[0];
  const info = bs.wrapper.infoLines().slice(infoIndex).filter((l) => !spawn || l.pid === spawn.pid);
  const probedAt = info.find((l) => l.line.startsWith('Input #0'))?.at;
  const openedAt = info.find((l) => /Opening '.*_\d+\.ts(\.tmp)?' for writing/.test(l.line))?.at;
  if (probedAt === undefined || openedAt === undefined) throw new Error('the ffmpeg wrapper did not log the probe or the first segment');
  const playable = origin.firstPlayableAt!;
  const calls = bs.dynamoTap.calls.slice(callIndex).filter((c) => c.startedAt >= t0 && c.endedAt <= conn.publishStartAt!);
  const span = (xs: typeof calls) => (xs.length ? Math.max(...xs.map((c) => c.endedAt)) - Math.min(...xs.map((c) => c.startedAt)) : Number.NaN);
  // Steps seen by different observers (tap, ffmpeg's log, 5 ms disk polls): clamp so none is negative.
  const probeEnd = Math.max(probedAt, conn.publishStartAt);
  const openEnd = Math.max(openedAt, probeEnd);
  const segEnd = Math.max(d.firstSegmentAt, openEnd);
  const plEnd = Math.max(d.playlistAt, segEnd);
  return {
    variant: variant.name,
    segmentSeconds,
    totalMs: round(playable - t0, 1),
    phases: {
      connect: conn.publishCommandAt - t0,
      // (all phases in ms; ffmpeg's times have sub-ms resolution)
      accept: conn.publishStartAt - conn.publishCommandAt,
      probe: probeEnd - conn.publishStartAt,
      wait: openEnd - probeEnd,
      write: segEnd - openEnd,
      playlist: plEnd - segEnd,
      origin: playable - plEnd,
    },
    authMs: span(calls.filter((c) => c.item === 'channel')),
    routeMs: span(calls.filter((c) => c.item === 'route')),
    ffmpegSpawnMs: spawn ? round(spawn.at - t0, 1) : Number.NaN,
    // (ffmpeg start is inside `accept`: the ingest spawns it before it answers the publish)
    segmentAfterMediaMs: (() => {
      const first = [...origin.segments.values()].sort((a, b) => a.sequence - b.sequence)[0];
      const endTs = (conn.firstMediaTimestamp ?? 0) + (first?.duration ?? segmentSeconds) * 1000;
      const kf = conn.keyframes.find((k) => Math.abs(k.timestamp - endTs) <= 50);
      return kf ? d.firstSegmentAt - kf.at : Number.NaN;
    })(),
    notFoundBefore: origin.notFoundBefore,
  };
}

function summarize(runs: RunResult[], goalMs?: number): Summary {
  const m = (f: (r: RunResult) => number) => round(median(runs.map(f).filter(Number.isFinite)), 1);
  return {
    variant: runs[0].variant,
    segmentSeconds: runs[0].segmentSeconds,
    runs: runs.length,
    medianMs: m((r) => r.totalMs),
    minMs: Math.min(...runs.map((r) => r.totalMs)),
    maxMs: Math.max(...runs.map((r) => r.totalMs)),
    phasesMedianMs: Object.fromEntries(PHASES.map((p) => [p, m((r) => r.phases[p])])) as Record<Phase, number>,
    authMedianMs: m((r) => r.authMs),
    routeMedianMs: m((r) => r.routeMs),
    ffmpegSpawnMedianMs: m((r) => r.ffmpegSpawnMs),
    segmentAfterMediaMedianMs: m((r) => r.segmentAfterMediaMs),
    goalMs,
  };
}

const args = parseArgs();
const smoke = args.smoke;
const segmentsList = args.list('segments', smoke ? [1] : [1, 2]);
const runs = Math.max(1, args.number('runs', smoke ? 2 : 7));
const variantNames = args.string('variants', 'as-is').split(',');
const variants = variantNames.map((n) => {
  const v = VARIANTS[n];
  if (!v) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
  return v;
});
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

await runBench({ deadlineMs: smoke ? 90_000 : 30 * 60_000, cleanups }, async () => {
  const all: RunResult[] = [];
  const summaries: Summary[] = [];
  for (const seg of segmentsList) {
    const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: seg, seconds: 20 });
    progress(`segments of ${seg} s: starting the local stack`);
    const bs = await startBenchStack({ segmentSeconds: seg, name: 'first-playable' });
    cleanups.push(() => bs.stop());
    // One warm-up publish (first use of lazily loaded code paths, page cache), not counted.
    if (!smoke) {
      await oneRun(bs, file, seg, VARIANTS['as-is'], `warmup-${seg}s`).catch((err) => progress(`warm-up failed: ${(err as Error).message}`));
      await sleep(1500);
    }
    const bucket = new Map<string, RunResult[]>();
    for (let i = 0; i < runs; i++) {
      for (const v of variants) {
        const r = await oneRun(bs, file, seg, v, `fp-${seg}s-${v.name}-${i}`);
        for (const p of PHASES) r.phases[p] = round(r.phases[p], 1);
        progress(`${seg} s segments, ${v.name}, run ${i + 1}/${runs}: ${r.totalMs} ms ${JSON.stringify(r.phases)}`);
        all.push(r);
        bucket.set(v.name, [...(bucket.get(v.name) ?? []), r]);
        await sleep(1500); // let the previous stream end (linger 0.5 s) before the next publish
      }
    }
    for (const v of variants) summaries.push(summarize(bucket.get(v.name)!, seg === 1 ? 1500 : undefined));
    await bs.stop();
    cleanups.pop();
  }

  const rows = summaries.map((s) => [
    `${s.segmentSeconds} s`,
    s.variant,
    s.runs,
    `**${s.medianMs}**`,
    `${s.minMs}–${s.maxMs}`,
    ...PHASES.map((p) => s.phasesMedianMs[p]),
    s.authMedianMs,
    s.routeMedianMs,
    s.segmentAfterMediaMedianMs,
  ]);
  const base = summaries.filter((s) => s.variant === 'as-is');
  const ratioLines = summaries
    .filter((s) => s.variant !== 'as-is')
    .map((s) => {
      const b = base.find((x) => x.segmentSeconds === s.segmentSeconds);
      return b ? `- ${s.segmentSeconds} s segments, ${s.variant}: ${s.medianMs} ms vs as-is ${b.medianMs} ms, ratio ${round(s.medianMs / b.medianMs, 3)}` : '';
    })
    .filter(Boolean);
  const report = [
    'Median over runs, milliseconds. Phases (medians, so they need not add up exactly to the total):',
    '',
    table(
      ['segments', 'ffmpeg flags', 'runs', 'total', 'range', ...PHASES, 'of accept: key look-up', 'of accept: route read+write', 'segment closed after its media end'],
      rows,
    ),
    '',
    ...(ratioLines.length ? ['Variants against the argv as built (same run, interleaved):', '', ...ratioLines, ''] : []),
    'Variants:',
    '',
    ...variants.map((v) => `- ${v.name}: ${v.description}`),
  ].join('\n');
  finish(args, 'first-playable', machine, { summaries, runs: all }, report);
});
