/**
 * Segment availability latency: how long after a segment's media ends it can be fetched through the origin.
 *
 * A publisher pushes a pre-encoded 720p30 ~3 Mbps FLV in real time (`-re`, TCP_NODELAY, GOP = segment duration)
 * straight to the ingest task; a player-like follower polls the playlist through the origin every `--poll-ms`
 * (20) ms and fetches each new segment (and the init segment, once) at once; a second follower polls the task's
 * own playlist on its HLS port every 5 ms, to split the figure into the packager's part and the origin's.
 *
 *   media end   the moment the video frame that ends the segment (and starts the next) reached the ingest: a
 *               TCP tap in front of the task parses the publisher's RTMP messages. Before it arrives nobody can
 *               know the segment is complete; the publisher sends it in real time.
 *   PDT error   the segment's #EXT-X-PROGRAM-DATE-TIME − the arrival of its first frame at the tap (the packager
 *               anchors the media timeline to the arrival of the stream's first bytes).
 *
 * Availability = the segment's fetch through the origin completed − media end. The last segment of each publish
 * (cut short by the end of the stream) is left out. Segment spans on the RTMP clock come from the playlist: the
 * first segment starts at the first video frame, each later one where the previous ended (EXTINF).
 *
 * Standard HLS unless `--ll-hls` (KEYFRAME_LL_HLS=true: parts are listed as they are cut; this still times whole segments).
 *
 *   npx tsx bench/segment-availability.ts [--runs 3] [--segments 1,2] [--seconds 12] [--source 720p|240p] [--poll-ms 20] [--ll-hls] [--smoke]
 *     [--json out.json]
 */
import './lib/quiet';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { followPlaylist, frameAt, segmentMediaSpans, startBenchStack, type BenchStack } from './lib/live';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { median, percentile, round } from './lib/stats';

interface SegmentSample {
  readonly segmentSeconds: number;
  readonly run: number;
  readonly sequence: number;
  readonly duration: number;
  /** Fetched through the origin − arrival of the frame that ends the segment. */
  readonly vsPublisherMs: number;
  /** Listed in the task's own playlist − arrival of the frame that ends the segment (the packager's part). */
  readonly atTaskVsPublisherMs: number;
  /** Listed in an origin playlist − arrival of the frame that ends the segment. */
  readonly listedVsPublisherMs: number;
  /**
   * Arrival of the first audio frame at or past the segment's end − arrival of the video frame that ends it: until
   * then the packager cannot know that no more audio of the segment is coming (it waits for it).
   */
  readonly audioPastEndMs: number;
  /** The segment's own fetch through the origin (listed → last byte). */
  readonly fetchMs: number;
  /** PDT − arrival of the segment's first frame. */
  readonly pdtErrorMs: number;
  readonly bytes: number;
}

interface Summary {
  readonly segmentSeconds: number;
  readonly segments: number;
  readonly vsPublisher: { median: number; p90: number; max: number };
  readonly atTaskVsPublisherMedian: number;
  readonly listedVsPublisherMedian: number;
  readonly audioPastEndMedianMs: number;
  readonly fetchMedianMs: number;
  readonly pdtError: { median: number; maxAbs: number };
  readonly segmentBytesMedian: number;
  /** ffmpeg processes the ingest started (none on the passthrough path). */
  readonly ffmpegSpawns: number;
  readonly goalMedianMs: number;
}

async function oneRun(bs: BenchStack, file: string, segmentSeconds: number, seconds: number, run: number, pollMs: number): Promise<SegmentSample[]> {
  const channel = await bs.stack.createChannel(`avail-${segmentSeconds}s-${run}`);
  const tap = bs.rtmpTap;
  const connIndex = tap.connections.length;
  const atTask = followPlaylist(`${bs.taskHlsUrl}/${channel.playbackId}/index.m3u8`, { everyMs: 5, fetchSegments: false });
  const follower = followPlaylist(channel.playbackUrl, { everyMs: pollMs });
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
    atTask.stop();
    await publisher.stop();
  }
  const conn = tap.connections[connIndex];
  if (!conn || conn.videoFrames.length < 2) throw new Error('the RTMP tap saw no video');
  if (follower.failedFetches > 0) progress(`run ${run}: ${follower.failedFetches} segment or init fetches through the origin failed`);
  const segments = [...follower.segments.values()];
  const spans = segmentMediaSpans(segments, conn.videoFrames[0].timestamp);
  const out: SegmentSample[] = [];
  for (const { segment: s, startTs, endTs } of spans) {
    // Leave out the last segment (cut by the end of the publish) and anything listed after the publisher stopped.
    if (s === spans[spans.length - 1].segment || s.listedAt > stoppedAt!) continue;
    const end = frameAt(conn.videoFrames, endTs);
    const start = frameAt(conn.videoFrames, startTs);
    const listedAtTask = atTask.segments.get(s.uri)?.listedAt;
    if (s.fetchedAt === undefined || !end || !start || listedAtTask === undefined) continue;
    const audioPast = conn.audioFrames.find((a) => a.timestamp >= endTs);
    out.push({
      segmentSeconds,
      run,
      sequence: s.sequence,
      duration: s.duration,
      vsPublisherMs: s.fetchedAt - end.at,
      atTaskVsPublisherMs: listedAtTask - end.at,
      listedVsPublisherMs: s.listedAt - end.at,
      audioPastEndMs: audioPast ? audioPast.at - end.at : Number.NaN,
      fetchMs: s.fetchedAt - s.listedAt,
      pdtErrorMs: s.pdt !== undefined ? s.pdt - start.at : Number.NaN,
      bytes: s.bytes ?? 0,
    });
  }
  return out;
}

function summarize(samples: SegmentSample[], ffmpegSpawns: number): Summary {
  const stat = (xs: number[]) => ({ median: round(median(xs), 1), p90: round(percentile(xs, 90), 1), max: round(Math.max(...xs), 1) });
  const pdt = samples.map((s) => s.pdtErrorMs).filter(Number.isFinite);
  return {
    segmentSeconds: samples[0].segmentSeconds,
    segments: samples.length,
    vsPublisher: stat(samples.map((s) => s.vsPublisherMs)),
    atTaskVsPublisherMedian: round(median(samples.map((s) => s.atTaskVsPublisherMs)), 1),
    listedVsPublisherMedian: round(median(samples.map((s) => s.listedVsPublisherMs)), 1),
    audioPastEndMedianMs: round(median(samples.map((s) => s.audioPastEndMs).filter(Number.isFinite)), 1),
    fetchMedianMs: round(median(samples.map((s) => s.fetchMs)), 1),
    pdtError: { median: round(median(pdt), 1), maxAbs: round(Math.max(...pdt.map(Math.abs)), 1) },
    segmentBytesMedian: Math.round(median(samples.map((s) => s.bytes))),
    ffmpegSpawns,
    goalMedianMs: 20,
  };
}

const args = parseArgs();
const smoke = args.smoke;
const segmentsList = args.list('segments', smoke ? [1] : [1, 2]);
const runs = Math.max(1, args.number('runs', smoke ? 1 : 3));
const seconds = args.number('seconds', smoke ? 4 : 12);
const pollMs = args.number('poll-ms', 20);
/** `240p` publishes the small 400 kbit/s source instead. */
const source = args.string('source', smoke ? '240p' : '720p');
if (source !== '720p' && source !== '240p') throw new Error('--source must be 720p or 240p');
/** LL-HLS on the ingest (parts, blocking reloads); off by default: standard HLS, as the issue-11 figures are. */
const lowLatency = args.flag('ll-hls');
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

await runBench({ deadlineMs: smoke ? 90_000 : 20 * 60_000, cleanups }, async () => {
  const all: SegmentSample[] = [];
  const summaries: Summary[] = [];
  for (const seg of segmentsList) {
    const file = await encodeSource({ ...(source === '240p' ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: seg, seconds: 20 });
    progress(`segments of ${seg} s: starting the local stack`);
    const bs = await startBenchStack({ segmentSeconds: seg, name: 'availability', lowLatency });
    cleanups.push(() => bs.stop());
    const spawnsBefore = bs.wrapper.spawns().length;
    const samples: SegmentSample[] = [];
    for (let r = 0; r < runs; r++) {
      const got = await oneRun(bs, file, seg, Math.max(seconds, seg * 3), r, pollMs);
      progress(
        `${seg} s segments, run ${r + 1}/${runs}: ${got.length} segments, median ${round(median(got.map((x) => x.vsPublisherMs)), 1)} ms after their media end`,
      );
      samples.push(...got);
      await sleep(1500);
    }
    if (samples.length === 0) throw new Error(`no segment samples at ${seg} s`);
    all.push(...samples);
    summaries.push(summarize(samples, bs.wrapper.spawns().length - spawnsBefore));
    await bs.stop();
    cleanups.pop();
  }
  const report = [
    `${lowLatency ? 'LL-HLS on (KEYFRAME_LL_HLS=true)' : 'Standard HLS (KEYFRAME_LL_HLS=false)'}. ` +
      `Source: ${source === '720p' ? '720p30 ~3 Mbit/s' : '240p30 ~0.46 Mbit/s'}. Time from the end of a segment's media to the completed fetch of that segment through the origin (ms):`,
    '',
    table(
      [
        'segments',
        'samples',
        'after its media end: median',
        'p90',
        'max',
        'of which: audio past the end arrived',
        'listed by the task',
        'listed by the origin',
        'segment fetch',
        'PDT − first frame arrival: median',
        'max abs. error',
        'segment size (bytes)',
        'ffmpeg started',
      ],
      summaries.map((s) => [
        `${s.segmentSeconds} s`,
        s.segments,
        `**${s.vsPublisher.median}**`,
        s.vsPublisher.p90,
        s.vsPublisher.max,
        s.audioPastEndMedianMs,
        s.atTaskVsPublisherMedian,
        s.listedVsPublisherMedian,
        s.fetchMedianMs,
        s.pdtError.median,
        s.pdtError.maxAbs,
        s.segmentBytesMedian,
        s.ffmpegSpawns,
      ]),
    ),
    '',
    "Media end: when the video frame that ends the segment reached the ingest (parsed from the publisher's RTMP stream at a tap in front of the task). " +
      `"of which" columns are medians against the same reference: when the first audio frame at or past the segment's end arrived (the ` +
      "packager waits for it before it closes the segment), when the task's own playlist listed it (polled every 5 ms), when an origin " +
      `playlist first listed it (polled every ${pollMs} ms, so about ${pollMs / 2} ms of each figure is the poll interval), and how long its fetch took.`,
  ].join('\n');
  finish(args, 'segment-availability', machine, { lowLatency, pollMs, summaries, samples: all }, report);
});
