/**
 * Segment availability latency: how long after a segment's media ends it can be fetched through the origin.
 *
 * A publisher pushes a pre-encoded 720p30 ~3 Mbps FLV in real time (`-re`, TCP_NODELAY, GOP = segment
 * duration) straight to the ingest task; a player-like follower polls the playlist through the origin every
 * 20 ms and fetches each new segment at once. For each segment, two references for "its media ends":
 *
 *   media end         the moment the video keyframe that ends the segment (and starts the next) reached the
 *                     ingest: a TCP tap in front of the task parses the publisher's RTMP messages. Before it
 *                     arrives nobody can know the segment is complete; the publisher sends it in real time;
 *   PDT               the segment's #EXT-X-PROGRAM-DATE-TIME + its duration, as written by the ingest's
 *                     ffmpeg (its clock starts when it has probed the input, so this reference runs late).
 *
 * Availability = the segment's fetch through the origin completed − the reference. The last segment of each
 * publish (cut short by the end of the stream) is left out. The gap between the two references is how late
 * the PDT runs behind the publisher; `--variants` (names from bench/first-playable.ts) compares ffmpeg input
 * flags of the ingest on it, run by run interleaved.
 *
 *   npx tsx bench/segment-availability.ts [--runs 3] [--segments 1,2] [--seconds 12] [--variants as-is,analyze0] [--source 720p|240p] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { AS_IS, type FfmpegVariant } from './lib/ffmpeg-wrapper';
import { followOrigin, startBenchStack, type BenchStack } from './lib/live';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { percentile, median, round } from './lib/stats';

/** ffmpeg input-flag variants of the ingest (the same as bench/first-playable.ts's). */
const VARIANTS: Record<string, FfmpegVariant> = {
  'as-is': AS_IS,
  analyze0: { name: 'analyze0', analyzeduration: '0' },
  analyze100k: { name: 'analyze100k', analyzeduration: '100000' },
  probe4k: { name: 'probe4k', probesize: '4096', analyzeduration: '0' },
  flvmeta: { name: 'flvmeta', extraInput: ['-flv_metadata', '1'] },
};

interface SegmentSample {
  readonly variant: string;
  readonly segmentSeconds: number;
  readonly run: number;
  readonly sequence: number;
  readonly duration: number;
  /** Fetched through the origin − arrival of the keyframe that ends the segment. */
  readonly vsPublisherMs: number;
  /** Fetched through the origin − (PDT + duration). */
  readonly vsPdtMs: number;
  /** Listed in an origin playlist − arrival of the keyframe that ends the segment. */
  readonly listedVsPublisherMs: number;
  /** ffmpeg wrote the segment out (its `Opening '…_<n>.ts.tmp'` line) − arrival of the keyframe that ends it. */
  readonly cutVsPublisherMs: number;
  /** The segment's own fetch through the origin (request → last byte). */
  readonly fetchMs: number;
  readonly bytes: number;
}

interface Summary {
  readonly variant: string;
  readonly segmentSeconds: number;
  readonly segments: number;
  readonly vsPublisher: { median: number; p90: number; max: number };
  readonly vsPdt: { median: number; p90: number; max: number };
  readonly listedVsPublisherMedian: number;
  readonly cutVsPublisherMedian: number;
  readonly fetchMedianMs: number;
  readonly segmentBytesMedian: number;
}

async function oneRun(bs: BenchStack, file: string, segmentSeconds: number, seconds: number, run: number, variant: FfmpegVariant): Promise<SegmentSample[]> {
  const channel = await bs.stack.createChannel(`avail-${segmentSeconds}s-${variant.name}-${run}`);
  bs.wrapper.use(variant, { timing: true });
  const infoIndex = bs.wrapper.infoLines().length;
  const tap = bs.rtmpTap;
  const connIndex = tap.connections.length;
  const follower = followOrigin(channel.playbackUrl, { everyMs: 20 });
  const publisher = publishFile({ file, url: bs.publishUrl(channel.streamKey), seconds, outputOptions: ['-tcp_nodelay', '1'] });
  let stoppedAt: number;
  try {
    const result = await publisher.exited;
    stoppedAt = Date.now();
    if (result.code !== 0) throw new Error(`publisher failed: ${result.stderr}`);
    // Let the follower see the last segments (and the end of the list).
    const deadline = Date.now() + segmentSeconds * 1000 + 3000;
    while (!follower.ended && Date.now() < deadline) await sleep(50);
  } finally {
    follower.stop();
    await publisher.stop();
  }
  const conn = tap.connections[connIndex];
  if (conn?.firstMediaTimestamp === undefined || conn.keyframes.length < 2) throw new Error('the RTMP tap saw no media');
  const firstTs = conn.firstMediaTimestamp;
  /** The keyframe that starts at `ts` (RTMP ms), if the publisher sent one within 50 ms of it. */
  const keyframeAt = (ts: number) => {
    let best = conn.keyframes[0];
    for (const k of conn.keyframes) if (Math.abs(k.timestamp - ts) < Math.abs(best.timestamp - ts)) best = k;
    return Math.abs(best.timestamp - ts) <= 50 ? best : undefined;
  };
  const segments = [...follower.segments.values()].sort((a, b) => a.sequence - b.sequence);
  // When ffmpeg wrote each segment out: it buffers a segment and opens its file once the segment is cut.
  const cutAt = new Map<number, number>();
  for (const l of bs.wrapper.infoLines().slice(infoIndex)) {
    const m = /Opening '.*_(\d+)\.ts(?:\.tmp)?' for writing/.exec(l.line);
    if (m && !cutAt.has(Number(m[1]))) cutAt.set(Number(m[1]), l.at);
  }
  const out: SegmentSample[] = [];
  let cumEnd = 0;
  for (const s of segments) {
    cumEnd += s.duration * 1000;
    // Leave out the last segment (cut by the end of the publish) and anything listed after the publisher stopped.
    if (s === segments[segments.length - 1] || s.listedAt > stoppedAt!) continue;
    if (s.fetchedAt === undefined || s.pdt === undefined) continue;
    const kf = keyframeAt(firstTs + cumEnd);
    if (!kf) continue;
    const mediaEnd = kf.at;
    out.push({
      variant: variant.name,
      segmentSeconds,
      run,
      sequence: s.sequence,
      duration: s.duration,
      vsPublisherMs: s.fetchedAt - mediaEnd,
      vsPdtMs: s.fetchedAt - (s.pdt + s.duration * 1000),
      listedVsPublisherMs: s.listedAt - mediaEnd,
      cutVsPublisherMs: (cutAt.get(s.sequence) ?? Number.NaN) - mediaEnd,
      fetchMs: s.fetchedAt - s.listedAt,
      bytes: s.bytes ?? 0,
    });
  }
  return out;
}

function summarize(samples: SegmentSample[]): Summary {
  const stat = (xs: number[]) => ({ median: round(median(xs), 1), p90: round(percentile(xs, 90), 1), max: round(Math.max(...xs), 1) });
  return {
    variant: samples[0].variant,
    segmentSeconds: samples[0].segmentSeconds,
    segments: samples.length,
    vsPublisher: stat(samples.map((s) => s.vsPublisherMs)),
    vsPdt: stat(samples.map((s) => s.vsPdtMs)),
    listedVsPublisherMedian: round(median(samples.map((s) => s.listedVsPublisherMs)), 1),
    cutVsPublisherMedian: round(median(samples.map((s) => s.cutVsPublisherMs).filter(Number.isFinite)), 1),
    fetchMedianMs: round(median(samples.map((s) => s.fetchMs)), 1),
    segmentBytesMedian: Math.round(median(samples.map((s) => s.bytes))),
  };
}

const args = parseArgs();
const smoke = args.smoke;
const segmentsList = args.list('segments', smoke ? [1] : [1, 2]);
const runs = Math.max(1, args.number('runs', smoke ? 1 : 3));
const seconds = args.number('seconds', smoke ? 4 : 12);
/** `240p` publishes the small 400 kbit/s source instead (probing takes longer at low bitrates). */
const source = args.string('source', smoke ? '240p' : '720p');
if (source !== '720p' && source !== '240p') throw new Error('--source must be 720p or 240p');
const variants = args.string('variants', 'as-is').split(',').map((n) => {
  const v = VARIANTS[n];
  if (!v) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
  return v;
});
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

await runBench({ deadlineMs: smoke ? 90_000 : 20 * 60_000, cleanups }, async () => {
  const all: SegmentSample[] = [];
  const summaries: Summary[] = [];
  for (const seg of segmentsList) {
    const file = await encodeSource({ ...(source === '240p' ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: seg, seconds: 20 });
    progress(`segments of ${seg} s: starting the local stack`);
    const bs = await startBenchStack({ segmentSeconds: seg, name: 'availability' });
    cleanups.push(() => bs.stop());
    const samples = new Map<string, SegmentSample[]>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < runs; r++) {
      for (const v of variants) {
        const got = await oneRun(bs, file, seg, Math.max(seconds, seg * 3), r, v);
        progress(`${seg} s segments, ${v.name}, run ${r + 1}/${runs}: ${got.length} segments, median ${round(median(got.map((x) => x.vsPublisherMs)), 1)} ms after their media end`);
        samples.get(v.name)!.push(...got);
        await sleep(1500);
      }
    }
    for (const v of variants) {
      const xs = samples.get(v.name)!;
      if (xs.length === 0) throw new Error(`no segment samples at ${seg} s (${v.name})`);
      all.push(...xs);
      summaries.push(summarize(xs));
    }
    await bs.stop();
    cleanups.pop();
  }
  const report = [
    `Source: ${source === '720p' ? '720p30 ~3 Mbit/s' : '240p30 ~0.46 Mbit/s'}. Time from the end of a segment's media to the completed fetch of that segment through the origin (ms):`,
    '',
    table(
      ['segments', 'ffmpeg flags', 'samples', 'after its media end: median', 'p90', 'max', 'vs PDT + duration: median', 'p90', 'of which: ffmpeg wrote it out', 'listed by the origin', 'segment fetch', 'segment size (bytes)'],
      summaries.map((s) => [`${s.segmentSeconds} s`, s.variant, s.segments, `**${s.vsPublisher.median}**`, s.vsPublisher.p90, s.vsPublisher.max, s.vsPdt.median, s.vsPdt.p90, s.cutVsPublisherMedian, s.listedVsPublisherMedian, s.fetchMedianMs, s.segmentBytesMedian]),
    ),
    '',
    ...variants.filter((v) => v !== AS_IS).map((v) => `- ${v.name}: ${[v.probesize ? `-probesize ${v.probesize}` : '', v.analyzeduration ? `-analyzeduration ${v.analyzeduration}` : '', ...(v.extraInput ?? [])].filter(Boolean).join(' ')} instead of the argv as built`),
    '',
    'Media end: when the keyframe that ends the segment reached the ingest (parsed from the publisher\'s RTMP stream at a tap in front of the task). "of which" columns are medians against the same reference: when ffmpeg wrote the segment out, when an origin playlist first listed it, and how long its fetch took. The follower polls the origin playlist every 20 ms, so about 10 ms of each figure is the poll interval.',
  ].join('\n');
  finish(args, 'segment-availability', machine, { summaries, samples: all }, report);
});
