/**
 * What recording costs per stream-hour (issue 15): S3 PUTs and storage, the recording item's DynamoDB writes,
 * and, as parameters, replay viewing (S3 GETs at CloudFront's misses, CloudFront egress). Pure arithmetic:
 * test/bench/recording-cost.test.ts checks it; bench/recording-ready.ts prints it with the bytes it measured.
 *
 * Requests, from what ingest/recorder/recorder.ts does (RecordingJob.work/process) when S3 keeps up:
 * - one PUT per media segment;
 * - one playlist PUT after each segment (work(): after a segment, unless the next queued item is another segment,
 *   a dropped one or an init, i.e. uploads are catching up; then once per batch). `playlistPutsPerSegment` is 1
 *   when S3 keeps up, less while catching up;
 * - one init PUT per publish (and per init change), one poster PUT per recording, the final (VOD) playlist once;
 * - the recording item (PutItem on a table with the recording in GSI1: 2 WRU per write while the item is
 *   under 1 KB): after the first segment, every 30 segments, after each gap, at the end.
 */
import type { Price } from './cost';

export const GB = 1e9;
export const DAYS_PER_MONTH = 365.25 / 12;

/** A list price with where it comes from (the cost model's own shape). */
export type RecordingPrice = Price;

/** When the prices below were taken (assumptions: re-check before relying on them). */
export const RECORDING_PRICES_AS_OF = '2026-12-01';

/**
 * us-east-1 list prices, as stated in issue 15's brief and on the AWS pricing pages named (S3 Standard, first
 * 50 TB tier; DynamoDB on-demand after the November 2024 reduction; CloudFront's first 10 TB tier, US/Europe).
 * Not fetched live from the benchmark machine.
 */
export const RECORDING_PRICES = {
  s3Put: {
    usd: 0.005 / 1000,
    unit: 'PUT request, S3 Standard',
    source: 'Amazon S3 pricing (aws.amazon.com/s3/pricing), requests: PUT, COPY, POST, LIST $0.005 per 1,000',
  },
  s3Get: { usd: 0.0004 / 1000, unit: 'GET request, S3 Standard', source: 'Amazon S3 pricing, requests: GET, SELECT $0.0004 per 1,000' },
  s3StorageGbMonth: { usd: 0.023, unit: 'GB-month, S3 Standard, first 50 TB', source: 'Amazon S3 pricing, storage: S3 Standard $0.023 per GB-month' },
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1_000_000,
    unit: 'write request unit (on-demand)',
    source: 'Amazon DynamoDB pricing for on-demand capacity (aws.amazon.com/dynamodb/pricing/on-demand), $0.625 per million',
  },
  cloudfrontEgressGb: {
    usd: 0.085,
    unit: 'GB out to the internet, first 10 TB a month (a parameter: pass your own tier)',
    source: 'Amazon CloudFront pricing (aws.amazon.com/cloudfront/pricing), United States/Europe, first 10 TB',
  },
} as const satisfies Record<string, RecordingPrice>;

export interface RecordingCostAssumptions {
  /** Media segment duration, s (the local stack and the default ingest: 1). */
  readonly segmentSeconds: number;
  /** Playlist PUTs per segment PUT: 1 when S3 keeps up (one after each segment), less when uploads batch. */
  readonly playlistPutsPerSegment: number;
  /** The recording item is written every this many segments (recorder.ts metadataEverySegments, 30). */
  readonly metadataEverySegments: number;
  /** WRU per recording item write (the item is in GSI1: 2 while under 1 KB). */
  readonly wruPerMetadataWrite: number;
  /** Publishes per recorded hour (each adds an init PUT; a reconnect within the window is one more). */
  readonly publishesPerHour: number;
  /** How long a recording is kept, days (the bucket's lifecycle rule). */
  readonly retentionDays: number;
  /** Bytes S3 stores per byte of the source's nominal bitrate (CMAF boxes, measured: bench/recording-ready.ts). */
  readonly containerOverhead: number;
  /** Hours of replay watched per recorded stream-hour (a parameter: 0 counts recording alone). */
  readonly replayViewerHoursPerStreamHour: number;
  /** Of the replay's segment requests, the share CloudFront misses and sends to S3 (a GET each). */
  readonly replayCacheMissRatio: number;
  /** CloudFront egress price, $/GB (a parameter: the first tier by default). */
  readonly cloudfrontEgressUsdPerGb: number;
}

export const DEFAULT_RECORDING_ASSUMPTIONS: RecordingCostAssumptions = {
  segmentSeconds: 1,
  playlistPutsPerSegment: 1,
  metadataEverySegments: 30,
  wruPerMetadataWrite: 2,
  publishesPerHour: 1,
  retentionDays: 30,
  containerOverhead: 1.02,
  replayViewerHoursPerStreamHour: 0,
  replayCacheMissRatio: 1,
  cloudfrontEgressUsdPerGb: RECORDING_PRICES.cloudfrontEgressGb.usd,
};

export interface RecordingRequestsPerHour {
  readonly segments: number;
  readonly segmentPuts: number;
  readonly playlistPuts: number;
  readonly initPuts: number;
  readonly posterPuts: number;
  readonly puts: number;
  readonly metadataWrites: number;
  readonly wru: number;
}

/** S3 PUTs and DynamoDB writes of one recorded stream-hour. */
export function requestsPerStreamHour(a: RecordingCostAssumptions = DEFAULT_RECORDING_ASSUMPTIONS): RecordingRequestsPerHour {
  if (!(a.segmentSeconds > 0)) throw new Error('segmentSeconds must be > 0');
  const segments = 3600 / a.segmentSeconds;
  const segmentPuts = segments;
  // One after each segment, plus the final VOD playlist of each publish.
  const playlistPuts = segments * a.playlistPutsPerSegment + a.publishesPerHour;
  const initPuts = a.publishesPerHour;
  const posterPuts = 1;
  // After the first segment, every N segments after it, the final write of each publish, and a reconnect's reopen.
  const reopens = Math.max(0, a.publishesPerHour - 1);
  const metadataWrites = 1 + Math.floor((segments - 1) / a.metadataEverySegments) + a.publishesPerHour + reopens;
  return {
    segments,
    segmentPuts,
    playlistPuts,
    initPuts,
    posterPuts,
    puts: segmentPuts + playlistPuts + initPuts + posterPuts,
    metadataWrites,
    wru: metadataWrites * a.wruPerMetadataWrite,
  };
}

/** Bytes stored per recorded stream-hour at a nominal bitrate (audio and video, bit/s). */
export function bytesPerStreamHour(bitrateBps: number, a: RecordingCostAssumptions = DEFAULT_RECORDING_ASSUMPTIONS): number {
  return (bitrateBps / 8) * 3600 * a.containerOverhead;
}

export interface RecordingCostPerStreamHour {
  readonly bitrateBps: number;
  readonly requests: RecordingRequestsPerHour;
  readonly bytes: number;
  /** GB-months one stream-hour occupies over the retention. */
  readonly gbMonths: number;
  readonly usd: {
    readonly puts: number;
    readonly storage: number;
    readonly dynamo: number;
    readonly replayGets: number;
    readonly replayEgress: number;
    /** Recording alone (PUTs, storage over the retention, DynamoDB). */
    readonly recording: number;
    readonly total: number;
  };
}

/** The cost of one recorded stream-hour at `bitrateBps`, kept `retentionDays`, replayed as the assumptions say. */
export function recordingCostPerStreamHour(
  bitrateBps: number,
  a: RecordingCostAssumptions = DEFAULT_RECORDING_ASSUMPTIONS,
  prices = RECORDING_PRICES,
): RecordingCostPerStreamHour {
  const requests = requestsPerStreamHour(a);
  const bytes = bytesPerStreamHour(bitrateBps, a);
  const gbMonths = (bytes / GB) * (a.retentionDays / DAYS_PER_MONTH);
  const puts = requests.puts * prices.s3Put.usd;
  const storage = gbMonths * prices.s3StorageGbMonth.usd;
  const dynamo = requests.wru * prices.dynamoWriteRequestUnit.usd;
  // A replay viewer fetches every segment and the (VOD) playlist once; CloudFront sends its misses to S3.
  const replayRequests = a.replayViewerHoursPerStreamHour * (requests.segments + 1);
  const replayGets = replayRequests * a.replayCacheMissRatio * prices.s3Get.usd;
  const replayEgress = a.replayViewerHoursPerStreamHour * (bytes / GB) * a.cloudfrontEgressUsdPerGb;
  const recording = puts + storage + dynamo;
  return {
    bitrateBps,
    requests,
    bytes,
    gbMonths,
    usd: { puts, storage, dynamo, replayGets, replayEgress, recording, total: recording + replayGets + replayEgress },
  };
}
