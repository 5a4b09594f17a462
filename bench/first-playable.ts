/**
 * Publish → first playable: the time from the publisher's first byte to a playlist with at least one segment
 * that can be fetched, with its init segment, through the origin, with the time broken down by phase:
 *
 *   connect   first byte → `publish` command (RTMP handshake, connect, createStream)
 *   accept    `publish` → `NetStream.Publish.Start` (key check, route read + write, the packager set up)
 *   wait      accepted → the video frame that ends the first segment reached the ingest: one segment of media
 *             must arrive (the packager's grid starts at the first sample; a segment ends at the first frame
 *             at or past its grid line)
 *   package   that frame → the task's own playlist lists the segment (the packager cuts the segment and
 *             renders the playlist in memory; polled on the task's HLS port every 5 ms)
 *   origin    listed at the task → playlist, init segment and segment fetched through the origin (its
 *             follower polls every 20 ms from the start)
 *
 * Times on the wire come from a TCP tap in front of the RTMP port (it parses the publisher's RTMP messages) and
 * an HTTP tap in front of the ingest's DynamoDB endpoint. The ingest runs with an ffmpeg wrapper as
 * KEYFRAME_FFMPEG_PATH that notes every ffmpeg started: the passthrough path starts none (reported per run).
 *
 * The publisher pushes a pre-encoded 720p30 ~3 Mbps FLV with a GOP equal to the segment duration (`-re`), with
 * TCP_NODELAY as OBS (librtmp) sets it. `--variants` runs variants side by side, interleaved run by run: `nagle`
 * (ffmpeg's own default publisher, Nagle's algorithm on) and `balancer` (through local/balancer.ts).
 *
 * Standard HLS unless `--ll-hls` (KEYFRAME_LL_HLS=true on the ingest; the follower still waits for a whole segment).
 *
 *   npx tsx bench/first-playable.ts [--runs 7] [--segments 1,2] [--variants as-is,nagle,balancer] [--ll-hls] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { followPlaylist, frameAt, startBenchStack, type BenchStack } from './lib/live';
import { median, round } from './lib/stats';

interface Variant {
  readonly name: string;
  /** The publisher sets TCP_NODELAY (OBS/librtmp do; ffmpeg's RTMP client does not by default). */
  readonly publisherNoDelay: boolean;
  /** Publish through the local stack's TCP balancer instead of straight to the task (the NLB passes TCP through). */
  readonly viaBalancer?: boolean;
  readonly description: string;
}

export const VARIANTS: Record<string, Variant> = {
  'as-is': { name: 'as-is', publisherNoDelay: true, description: 'straight to the task, publisher with TCP_NODELAY (as OBS)' },
  nagle: { name: 'nagle', publisherNoDelay: false, description: "the publisher is ffmpeg with its default TCP options (Nagle's algorithm on)" },
  balancer: {
    name: 'balancer',
    publisherNoDelay: true,
    viaBalancer: true,
    description: "published through local/balancer.ts (the local stack's NLB stand-in)",
  },
};

const PHASES = ['connect', 'accept', 'wait', 'package', 'origin'] as const;
type Phase = (typeof PHASES)[number];

interface RunResult {
  readonly variant: string;
  readonly segmentSeconds: number;
  readonly totalMs: number;
  readonly phases: Record<Phase, number>;
  /** Within `accept`: the key look-up and the route read + write (DynamoDB calls as timed at the tap). */
  readonly authMs: number;
  readonly routeMs: number;
  /** The first segment's duration (EXTINF), s. */
  readonly firstSegmentSeconds: number;
  /** ffmpeg processes the ingest started during the run (none on the passthrough path). */
  readonly ffmpegSpawns: number;
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
  readonly firstSegmentSecondsMedian: number;
  readonly ffmpegSpawns: number;
  readonly goalMs?: number;
}

async function oneRun(bs: BenchStack, file: string, segmentSeconds: number, variant: Variant, label: string): Promise<RunResult> {
  const channel = await bs.stack.createChannel(label);
  const tap = bs.tapFor({ viaBalancer: variant.viaBalancer });
  const connIndex = tap.connections.length;
  const callIndex = bs.dynamoTap.calls.length;
  const spawnIndex = bs.wrapper.spawns().length;
  const atTask = followPlaylist(`${bs.taskHlsUrl}/${channel.playbackId}/index.m3u8`, { everyMs: 5, fetchSegments: false });
  const origin = followPlaylist(channel.playbackUrl, { everyMs: 20 });
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
    atTask.stop();
    await publisher.stop();
  }
  const conn = tap.connections[connIndex];
  const t0 = conn?.firstClientByteAt;
  if (!conn || t0 === undefined || conn.publishCommandAt === undefined || conn.publishStartAt === undefined || conn.firstMediaAt === undefined) {
    throw new Error('the RTMP tap missed the publish handshake');
  }
  const first = [...origin.segments.values()].sort((a, b) => a.sequence - b.sequence)[0];
  const listedAtTask = atTask.segments.get(first.uri)?.listedAt;
  if (listedAtTask === undefined) throw new Error(`the task follower never saw ${first.uri}`);
  const firstVideo = conn.videoFrames[0];
  const end = firstVideo ? frameAt(conn.videoFrames, firstVideo.timestamp + Math.round(first.duration * 1000)) : undefined;
  if (!end) throw new Error(`no video frame at the end of the first segment (${first.duration} s)`);
  const playable = origin.firstPlayableAt!;
  const calls = bs.dynamoTap.calls.slice(callIndex).filter((c) => c.startedAt >= t0 && c.endedAt <= conn.publishStartAt!);
  const span = (xs: typeof calls) => (xs.length ? Math.max(...xs.map((c) => c.endedAt)) - Math.min(...xs.map((c) => c.startedAt)) : Number.NaN);
  // Steps seen by different observers (the tap, 5 ms polls of the task, 20 ms polls of the origin): clamp so none is negative.
  const mediaEnd = Math.max(end.at, conn.publishStartAt);
  const listed = Math.max(listedAtTask, mediaEnd);
  const done = Math.max(playable, listed);
  return {
    variant: variant.name,
    segmentSeconds,
    totalMs: round(done - t0, 1),
    phases: {
      connect: conn.publishCommandAt - t0,
      accept: conn.publishStartAt - conn.publishCommandAt,
      wait: mediaEnd - conn.publishStartAt,
      package: listed - mediaEnd,
      origin: done - listed,
    },
    authMs: span(calls.filter((c) => c.item === 'channel')),
    routeMs: span(calls.filter((c) => c.item === 'route')),
    firstSegmentSeconds: first.duration,
    ffmpegSpawns: bs.wrapper.spawns().length - spawnIndex,
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
    firstSegmentSecondsMedian: m((r) => r.firstSegmentSeconds),
    ffmpegSpawns: runs.reduce((n, r) => n + r.ffmpegSpawns, 0),
    goalMs,
  };
}

const args = parseArgs();
const smoke = args.smoke;
const segmentsList = args.list('segments', smoke ? [1] : [1, 2]);
const runs = Math.max(1, args.number('runs', smoke ? 2 : 7));
const variants = args
  .string('variants', 'as-is')
  .split(',')
  .map((n) => {
    const v = VARIANTS[n];
    if (!v) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
    return v;
  });
/** LL-HLS on the ingest (parts, blocking reloads); off by default: standard HLS, as the issue-11 figures are. */
const lowLatency = args.flag('ll-hls');
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

await runBench({ deadlineMs: smoke ? 90_000 : 30 * 60_000, cleanups }, async () => {
  const all: RunResult[] = [];
  const summaries: Summary[] = [];
  for (const seg of segmentsList) {
    const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: seg, seconds: 20 });
    progress(`segments of ${seg} s: starting the local stack`);
    const bs = await startBenchStack({ segmentSeconds: seg, name: 'first-playable', lowLatency });
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
    s.firstSegmentSecondsMedian,
    s.ffmpegSpawns,
  ]);
  const base = summaries.filter((s) => s.variant === 'as-is');
  const ratioLines = summaries
    .filter((s) => s.variant !== 'as-is')
    .map((s) => {
      const b = base.find((x) => x.segmentSeconds === s.segmentSeconds);
      return b
        ? `- ${s.segmentSeconds} s segments, ${s.variant}: ${s.medianMs} ms vs as-is ${b.medianMs} ms, ratio ${round(s.medianMs / b.medianMs, 3)}`
        : '';
    })
    .filter(Boolean);
  const report = [
    `${lowLatency ? 'LL-HLS on (KEYFRAME_LL_HLS=true)' : 'Standard HLS (KEYFRAME_LL_HLS=false)'}. ` +
      'Median over runs, milliseconds. Phases (medians, so they need not add up exactly to the total):',
    '',
    table(
      [
        'segments',
        'variant',
        'runs',
        'total',
        'range',
        ...PHASES,
        'of accept: key look-up',
        'of accept: route read+write',
        'first segment (s)',
        'ffmpeg started',
      ],
      rows,
    ),
    '',
    ...(ratioLines.length ? ['Variants against as-is (same run, interleaved):', '', ...ratioLines, ''] : []),
    'Variants:',
    '',
    ...variants.map((v) => `- ${v.name}: ${v.description}`),
  ].join('\n');
  finish(args, 'first-playable', machine, { lowLatency, summaries, runs: all }, report);
});
