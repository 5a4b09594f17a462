/**
 * Recording (issue 15): how soon after a publish ends its replay is `ready`, what a recorded stream-hour
 * writes to S3 (requests and bytes), and what that costs (bench/lib/recording-cost.ts).
 *
 * One ingest process as in its container (ingest/main.ts bundled, plain node; 1 s segments, thumbnails on at the
 * default interval so each recording gets its poster), routes and recording items in dynalite, the recordings
 * bucket on a real s3rver behind a small proxy that counts the requests and can hold each one (a slow S3). For each
 * video bitrate and S3 delay, K publishes one after another (interleaved across the delays), each to its own
 * recorded channel: a 720p30 CBR H.264 + AAC file, `-re -c copy`, `-t <seconds>`, 1 s GOP, ending cleanly.
 *
 * Ready time: from the publisher's clean exit (its `exit` event here) to the first poll that sees the recording's
 * item `ready` (listRecordingsOfChannel every --poll-ms, 20 by default); and, on the ingest's own clock, the item's
 * `updatedAt − endedAt` (the recorder's end() to its final item write, which excludes that write's round trip).
 *
 * Bytes: the recording's objects as s3rver holds them, per second of recorded media, against the source's nominal
 * bitrate (the container overhead the cost model takes). Requests: the PUTs the proxy saw per recording, by kind.
 *
 *   npx tsx bench/recording-ready.ts [--k 10] [--seconds 10] [--video-kbps 3000,6000] [--s3-delay-ms 0,250]
 *     [--poll-ms 20] [--goal-ms 2000] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../core/channels';
import { createDynamoClient, createDynamoStore } from '../core/dynamo-store';
import type { Recording } from '../core/model';
import { createRecordingS3Client } from '../ingest/recorder/objects';
import { ensureTable, startLocalDynamo } from '../local/dynamo';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { bundleIngest, startIngestProcess } from './lib/ingest-process';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import {
  DEFAULT_RECORDING_ASSUMPTIONS,
  RECORDING_PRICES,
  RECORDING_PRICES_AS_OF,
  recordingCostPerStreamHour,
  requestsPerStreamHour,
} from './lib/recording-cost';
import { listObjects, recordingEnv, startBenchBucket } from './lib/recording-s3';
import { median, percentile, round } from './lib/stats';

export interface ReadySample {
  readonly videoKbps: number;
  readonly s3DelayMs: number;
  readonly k: number;
  readonly recordingId: string;
  readonly exitCode: number | null;
  /** Publisher exit → the poll that saw `ready` (ms); undefined when it never did within the deadline. */
  readonly readyAfterExitMs?: number;
  /** updatedAt − endedAt of the final item (the ingest's clock). */
  readonly serverEndToFinalWriteMs?: number;
  readonly state: string;
  readonly gaps: number;
  readonly segmentCount: number;
  readonly durationSeconds: number;
  /** Bytes of the recording's objects in the bucket: segments, inits, playlist, poster. */
  readonly bytes: { segments: number; inits: number; playlist: number; poster: number };
  /** PUTs the proxy saw for this recording, by kind. */
  readonly puts: Record<string, number>;
}

export interface ReadyGroup {
  readonly videoKbps: number;
  readonly nominalBps: number;
  readonly s3DelayMs: number;
  readonly samples: number;
  readonly ready: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly maxMs: number;
  readonly serverP50Ms: number;
  readonly serverMaxMs: number;
  readonly goalMet: boolean;
}

const args = parseArgs();
const smoke = args.smoke;
const k = args.number('k', smoke ? 2 : 10);
const seconds = args.number('seconds', smoke ? 4 : 10);
const videoKbpsList = args.list('video-kbps', smoke ? [SOURCE_SMOKE.videoKbps] : [3000, 6000]);
const delays = args.list('s3-delay-ms', smoke ? [0, 100] : [0, 250]);
const pollMs = args.number('poll-ms', 20);
const goalMs = args.number('goal-ms', 2000);
const readyDeadlineMs = args.number('ready-deadline-ms', 30_000);
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];
const root = join(tmpdir(), `keyframe-bench-recording-${process.pid}`);

await runBench({ deadlineMs: smoke ? 110_000 : 60 * 60_000, cleanups }, async () => {
  mkdirSync(root, { recursive: true });
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const base = smoke ? SOURCE_SMOKE : SOURCE_720P30;
  const sources = new Map<number, { file: string; fileBps: number }>();
  for (const v of videoKbpsList) {
    const file = await encodeSource({ ...base, videoKbps: v, gopSeconds: 1, seconds: Math.max(20, seconds + 2) });
    sources.set(v, { file, fileBps: (statSync(file).size * 8) / Math.max(20, seconds + 2) });
    progress(`source ${file}`);
  }
  const bundle = await bundleIngest(join(root, 'bundle'));
  const dynamo = await startLocalDynamo();
  cleanups.push(() => dynamo.close());
  const client = createDynamoClient({ endpoint: dynamo.endpoint });
  cleanups.push(() => client.destroy());
  const tableName = 'keyframe-bench';
  await ensureTable(client, tableName);
  const store = createDynamoStore({ tableName, client });
  const bucket = await startBenchBucket();
  cleanups.push(() => bucket.close());
  const s3 = createRecordingS3Client({ endpoint: bucket.s3.endpoint });
  cleanups.push(() => s3.destroy());
  const ingest = await startIngestProcess({
    bundle,
    env: {
      KEYFRAME_TABLE: tableName,
      KEYFRAME_DYNAMODB_ENDPOINT: dynamo.endpoint,
      KEYFRAME_TASK_ARN: 'arn:aws:ecs:local:000000000000:task/keyframe-local/bench-recording',
      KEYFRAME_SEGMENT_SECONDS: '1',
      KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
      KEYFRAME_END_LINGER_SECONDS: '0',
      KEYFRAME_DRAIN_SECONDS: '5',
      KEYFRAME_LOG_LEVEL: 'WARN',
      ...recordingEnv(bucket, join(root, 'spool')),
    },
  });
  cleanups.push(() => ingest.stop());
  const urls = { rtmpUrl: 'rtmp://127.0.0.1/live', playbackBaseUrl: 'http://127.0.0.1' };

  const samples: ReadySample[] = [];
  let seq = 0;
  for (const videoKbps of videoKbpsList) {
    const { file } = sources.get(videoKbps)!;
    for (let i = 0; i < k; i++) {
      // Interleaved: each delay in turn, so the machine's load falls on all of them alike.
      for (const delay of i % 2 ? [...delays].reverse() : delays) {
        bucket.setDelayMs(delay);
        const c = await createKey(store, urls, `rec-bench-${++seq}`, { record: true });
        const pub = publishFile({ file, url: `rtmp://127.0.0.1:${ingest.rtmpPort}/live/${c.streamKey}`, seconds });
        const exit = await Promise.race([pub.exited, sleep(seconds * 1000 + 30_000).then(() => undefined)]);
        if (!exit) {
          await pub.stop();
          throw new Error(`publisher ${seq} did not end within ${seconds + 30} s`);
        }
        const exitedAt = Date.now();
        let rec: Recording | undefined;
        let readyAt: number | undefined;
        const until = exitedAt + readyDeadlineMs;
        while (Date.now() < until) {
          rec = (await store.listRecordingsOfChannel(c.playbackId))[0];
          if (rec && rec.state !== 'recording') {
            if (rec.state === 'ready') readyAt = Date.now();
            break;
          }
          await sleep(pollMs);
        }
        const prefix = rec ? `recordings/${c.playbackId}/${rec.id}/` : '';
        const objects = rec ? await listObjects(s3, bucket.bucket, prefix) : [];
        const bytes = { segments: 0, inits: 0, playlist: 0, poster: 0 };
        for (const o of objects) {
          if (o.key.endsWith('.m4s')) bytes.segments += o.size;
          else if (o.key.endsWith('_init.mp4')) bytes.inits += o.size;
          else if (o.key.endsWith('.m3u8')) bytes.playlist += o.size;
          else bytes.poster += o.size;
        }
        const sample: ReadySample = {
          videoKbps,
          s3DelayMs: delay,
          k: i,
          recordingId: rec?.id ?? '',
          exitCode: exit.code,
          ...(readyAt !== undefined ? { readyAfterExitMs: readyAt - exitedAt } : {}),
          ...(rec?.endedAt !== undefined && rec.state !== 'recording' ? { serverEndToFinalWriteMs: rec.updatedAt - rec.endedAt } : {}),
          state: rec?.state ?? 'missing',
          gaps: rec?.gaps.length ?? 0,
          segmentCount: rec?.segmentCount ?? 0,
          durationSeconds: rec?.durationSeconds ?? 0,
          bytes,
          puts: { ...(bucket.counts().get(prefix) ?? {}) },
        };
        samples.push(sample);
        progress(
          `${videoKbps} kbit/s, S3 +${delay} ms, #${i + 1}/${k}: ${sample.state} ${sample.readyAfterExitMs ?? '—'} ms after the exit ` +
            `(ingest: ${sample.serverEndToFinalWriteMs ?? '—'} ms), ${sample.segmentCount} segments, PUTs ${JSON.stringify(sample.puts)}`,
        );
      }
    }
  }

  const groups: ReadyGroup[] = [];
  for (const videoKbps of videoKbpsList)
    for (const delay of delays) {
      const g = samples.filter((s) => s.videoKbps === videoKbps && s.s3DelayMs === delay);
      const ms = g.map((s) => s.readyAfterExitMs).filter((x): x is number => x !== undefined);
      const server = g.map((s) => s.serverEndToFinalWriteMs).filter((x): x is number => x !== undefined);
      const maxMs = ms.length === g.length && ms.length > 0 ? Math.max(...ms) : Number.POSITIVE_INFINITY;
      groups.push({
        videoKbps,
        nominalBps: (videoKbps + base.audioKbps) * 1000,
        s3DelayMs: delay,
        samples: g.length,
        ready: ms.length,
        p50Ms: round(median(ms), 0),
        p90Ms: round(percentile(ms, 90), 0),
        maxMs: round(maxMs, 0),
        serverP50Ms: round(median(server), 0),
        serverMaxMs: server.length ? Math.max(...server) : Number.NaN,
        goalMet: maxMs <= goalMs,
      });
    }

  // What a recorded second weighs, per bitrate (every delay alike), against the nominal bitrate and the FLV file's.
  const bytesByBitrate = videoKbpsList.map((videoKbps) => {
    const g = samples.filter((s) => s.videoKbps === videoKbps && s.state === 'ready');
    const media = g.reduce((t, s) => t + s.bytes.segments + s.bytes.inits, 0);
    const secs = g.reduce((t, s) => t + s.durationSeconds, 0);
    const recordedBps = secs > 0 ? (media * 8) / secs : Number.NaN;
    const nominalBps = (videoKbps + base.audioKbps) * 1000;
    return {
      videoKbps,
      nominalBps,
      fileBps: round(sources.get(videoKbps)!.fileBps, 0),
      recordedBps: round(recordedBps, 0),
      overheadVsNominal: round(recordedBps / nominalBps, 4),
      bytesPerHour: round((recordedBps / 8) * 3600, 0),
      posterBytes: round(median(g.map((s) => s.bytes.poster)), 0),
    };
  });

  // PUTs per segment, as the proxy counted them (the cost model's assumption: one playlist PUT per segment).
  const allPuts = samples.filter((s) => s.state === 'ready');
  const segmentsPut = allPuts.reduce((t, s) => t + (s.puts.segment ?? 0), 0);
  const playlistPut = allPuts.reduce((t, s) => t + (s.puts.playlist ?? 0), 0);
  const listed = allPuts.reduce((t, s) => t + s.segmentCount, 0);
  const putsPerSegment = {
    segmentPutsPerListedSegment: round(segmentsPut / listed, 4),
    /** Of the playlist PUTs, those while live (the final VOD playlist of each recording not counted). */
    livePlaylistPutsPerSegment: round((playlistPut - allPuts.length) / segmentsPut, 4),
    initPutsPerRecording: round(median(allPuts.map((s) => s.puts.init ?? 0)), 2),
    posterPutsPerRecording: round(median(allPuts.map((s) => s.puts.poster ?? 0)), 2),
  };
  // Each measured bitrate at its own measured container overhead.
  const assumptions = { ...DEFAULT_RECORDING_ASSUMPTIONS, playlistPutsPerSegment: putsPerSegment.livePlaylistPutsPerSegment };
  const costs = bytesByBitrate
    .filter((b) => Number.isFinite(b.overheadVsNominal))
    .map((b) => recordingCostPerStreamHour(b.nominalBps, { ...assumptions, containerOverhead: b.overheadVsNominal }));
  const perHour = requestsPerStreamHour(assumptions);

  const fmtUsd = (x: number) => `$${x < 0.01 ? x.toFixed(5) : x.toFixed(4)}`;
  const report = [
    `Ready time: publisher's clean exit → the recording's item seen \`ready\` (polled every ${pollMs} ms); goal ≤ ${goalMs} ms. ` +
      `${k} publishes of ${seconds} s per row, 1 s segments, one after another; "ingest" is updatedAt − endedAt of the final item.`,
    '',
    table(
      ['video kbit/s', 'S3 delay per request', 'ready/publishes', 'p50 ms', 'p90 ms', 'max ms', 'ingest p50 / max ms', 'goal'],
      groups.map((g) => [
        g.videoKbps,
        `${g.s3DelayMs} ms`,
        `${g.ready}/${g.samples}`,
        g.p50Ms,
        g.p90Ms,
        `**${g.maxMs}**`,
        `${g.serverP50Ms} / ${g.serverMaxMs}`,
        g.goalMet ? 'met' : `**missed** by ${Number.isFinite(g.maxMs) ? g.maxMs - goalMs : '∞'} ms`,
      ]),
    ),
    '',
    'Bytes in the bucket per second of recorded media (segments and inits), against the nominal bitrate (video + audio) and the FLV file:',
    '',
    table(
      ['video kbit/s', 'nominal bit/s', 'FLV file bit/s', 'recorded bit/s', 'recorded / nominal', 'GB per stream-hour', 'poster bytes'],
      bytesByBitrate.map((b) => [
        b.videoKbps,
        b.nominalBps,
        b.fileBps,
        b.recordedBps,
        b.overheadVsNominal,
        round(b.bytesPerHour / 1e9, 3),
        b.posterBytes,
      ]),
    ),
    '',
    `PUTs counted by the proxy: ${putsPerSegment.segmentPutsPerListedSegment} segment PUTs per listed segment, ` +
      `${putsPerSegment.livePlaylistPutsPerSegment} live playlist PUTs per segment PUT (plus the final one), ${putsPerSegment.initPutsPerRecording} init and ` +
      `${putsPerSegment.posterPutsPerRecording} poster PUT per recording.`,
    '',
    `Cost per recorded stream-hour (bench/lib/recording-cost.ts; us-east-1 list prices as of ${RECORDING_PRICES_AS_OF}: ` +
      `PUT $${RECORDING_PRICES.s3Put.usd * 1000} per 1,000, storage $${RECORDING_PRICES.s3StorageGbMonth.usd} per GB-month, ` +
      `GET $${RECORDING_PRICES.s3Get.usd * 1000} per 1,000, DynamoDB $${RECORDING_PRICES.dynamoWriteRequestUnit.usd * 1e6} per million WRU; ` +
      `${assumptions.segmentSeconds} s segments, ${perHour.puts} PUTs and ${perHour.wru} WRU an hour, retention ${assumptions.retentionDays} days, ` +
      `the container overhead measured at each bitrate (table above); replay viewing not included: CloudFront egress is ` +
      `$${assumptions.cloudfrontEgressUsdPerGb}/GB × GB per stream-hour per replay viewer-hour):`,
    '',
    table(
      [
        'bitrate',
        'GB per stream-hour',
        'PUTs',
        'storage (30 days)',
        'DynamoDB',
        'recording total',
        'per replay viewer-hour (egress + GETs at 100 % miss)',
      ],
      costs.map((c) => {
        const one = recordingCostPerStreamHour(c.bitrateBps, { ...assumptions, replayViewerHoursPerStreamHour: 1 });
        return [
          `${round(c.bitrateBps / 1e6, 3)} Mbit/s nominal`,
          round(c.bytes / 1e9, 3),
          fmtUsd(c.usd.puts),
          fmtUsd(c.usd.storage),
          fmtUsd(c.usd.dynamo),
          `**${fmtUsd(c.usd.recording)}**`,
          fmtUsd(one.usd.replayEgress + one.usd.replayGets),
        ];
      }),
    ),
  ].join('\n');
  finish(
    args,
    'recording-ready',
    machine,
    {
      k,
      seconds,
      pollMs,
      goalMs,
      delays,
      groups,
      samples,
      bytesByBitrate,
      putsPerSegment,
      assumptions,
      requestsPerStreamHour: perHour,
      costs: costs.map((c) => ({ bitrateBps: c.bitrateBps, bytes: c.bytes, gbMonths: c.gbMonths, usd: c.usd })),
      pricesAsOf: RECORDING_PRICES_AS_OF,
      prices: RECORDING_PRICES,
    },
    report,
  );
});
