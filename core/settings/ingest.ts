import { availableParallelism } from 'node:os';
import { blockingHoldMs, PLAYLIST_SIZE, SEGMENT_SECONDS } from '../limits';
import { commonSettings } from './common';
import { defineSettings, flag, number, oneOf, optionalText, text } from './schema';

const port = (env: string, dflt: number) => number(env, { default: dflt, min: 0, max: 65535, integer: true });
const limit = (env: string, dflt: number | ((e: Record<string, unknown>) => number), min: number, max: number, allowInfinity = false) =>
  number(env, { default: dflt, min, max, integer: true, allowInfinity });

/**
 * The ingest task's environment (ingest/). Written by infra/ingest-service.ts, the local stack's tasks and the
 * benchmarks. Order matters where a default derives from an earlier value.
 */
export const ingestSettings = defineSettings('ingest', {
  ...commonSettings,
  tableName: text('KEYFRAME_TABLE'),
  /** AWS SDK region; unset locally. */
  region: optionalText('AWS_REGION'),
  rtmpHost: text('KEYFRAME_RTMP_HOST', { default: '0.0.0.0' }),
  rtmpPort: port('KEYFRAME_RTMP_PORT', 1935),
  hlsHost: text('KEYFRAME_HLS_HOST', { default: '0.0.0.0' }),
  hlsPort: port('KEYFRAME_HLS_PORT', 8080),
  healthPort: port('KEYFRAME_HEALTH_PORT', 8081),
  hlsDir: text('KEYFRAME_HLS_DIR', { default: '/tmp/keyframe-hls' }),
  segmentSeconds: number('KEYFRAME_SEGMENT_SECONDS', { ...SEGMENT_SECONDS }),
  playlistSize: number('KEYFRAME_PLAYLIST_SIZE', { ...PLAYLIST_SIZE }),
  /** LL-HLS: parts in the playlist, blocking reloads and part requests (docs/ll-hls.md). */
  lowLatency: flag('KEYFRAME_LL_HLS', { default: true }),
  /** LL-HLS part (packager fragment) duration limit, s: PART-TARGET (docs/ll-hls.md for the default). */
  partSeconds: number('KEYFRAME_PART_SECONDS', { default: 0.334, min: 0.2, max: 1 }),
  /**
   * The longest a blocking request is held, ms (then the current playlist answers). The origin's
   * `KEYFRAME_BLOCKING_HOLD_MS` must be at least this. Default: `blockingHoldMs()` of core/limits.ts, as the origin's.
   */
  blockingHoldMs: number('KEYFRAME_BLOCKING_HOLD_MS', {
    default: (e) => blockingHoldMs(e.segmentSeconds as number),
    min: 0,
    max: 20_000,
    integer: true,
  }),
  ffmpegPath: text('KEYFRAME_FFMPEG_PATH', { default: 'ffmpeg' }),
  /** Who this task is: set both locally; on ECS they come from the task metadata endpoint. */
  taskArn: optionalText('KEYFRAME_TASK_ARN'),
  taskIp: optionalText('KEYFRAME_TASK_IP'),
  /** Set by ECS: the task metadata endpoint v4. */
  ecsMetadataUri: optionalText('ECS_CONTAINER_METADATA_URI_V4'),
  /** Set by ECS: the agent endpoint (task scale-in protection). */
  ecsAgentUri: optionalText('ECS_AGENT_URI'),
  /**
   * How often a task on ECS asks whether its deployment is still the service's primary one (DescribeServices,
   * ingest/deployment.ts); each wait is this ±25 %. A task of an older deployment drains (docs/deploy.md).
   */
  deploymentPollSeconds: number('KEYFRAME_DEPLOYMENT_POLL_SECONDS', { default: 20, min: 0.1, max: 300 }),
  /**
   * Local stack only: the local fleet's deployment that started this task (the stand-in for DescribeTasks'
   * `startedBy`). With it, the task learns of newer deployments from the fleet over IPC instead of from ECS.
   */
  localDeploymentId: optionalText('KEYFRAME_LOCAL_DEPLOYMENT_ID'),
  routeTtlSeconds: number('KEYFRAME_ROUTE_TTL_SECONDS', { default: 15, min: 3, max: 300, integer: true }),
  drainSeconds: number('KEYFRAME_DRAIN_SECONDS', { default: 110, min: 0, max: 3600 }),
  reconnectGraceSeconds: number('KEYFRAME_RECONNECT_GRACE_SECONDS', { default: 10, min: 0, max: 120 }),
  endLingerSeconds: number('KEYFRAME_END_LINGER_SECONDS', { default: (e) => Math.max(3, (e.segmentSeconds as number) * 3), min: 0, max: 60 }),
  handshakeTimeoutMs: limit('KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS', 5_000, 100, 600_000),
  publishTimeoutMs: limit('KEYFRAME_RTMP_PUBLISH_TIMEOUT_MS', 10_000, 100, 600_000),
  idleTimeoutMs: limit('KEYFRAME_RTMP_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
  maxConnections: limit('KEYFRAME_RTMP_MAX_CONNECTIONS', 1000, 1, 1_000_000),
  /** `Infinity` turns the per-IP cap off (behind a load balancer that hides client IPs). */
  maxConnectionsPerIp: limit('KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP', 20, 1, 1_000_000, true),
  // Per-IP limits need real client IPs; with the per-IP cap off, one guesser would lock out every publisher
  // behind the same balancer address, so the throttle is off unless set explicitly.
  authMaxFailures: limit('KEYFRAME_AUTH_MAX_FAILURES', (e) => (e.maxConnectionsPerIp === Infinity ? 0 : 5), 0, 10_000),
  authFailureWindowSeconds: limit('KEYFRAME_AUTH_FAILURE_WINDOW_SECONDS', 60, 1, 86_400),
  authBackoffSeconds: limit('KEYFRAME_AUTH_BACKOFF_SECONDS', 300, 1, 86_400),
  authMaxTrackedSources: limit('KEYFRAME_AUTH_MAX_TRACKED_SOURCES', 10_000, 1, 1_000_000),
  /** Recordings (docs/recording.md): the bucket; unset turns recording off on this task. */
  recordingBucket: optionalText('KEYFRAME_RECORDING_BUCKET'),
  /** S3 endpoint: unset in AWS; the local stack and tests set their local S3-compatible server's. */
  s3Endpoint: optionalText('KEYFRAME_S3_ENDPOINT'),
  /** The upload spool: recordings' objects wait here until S3 has them. On the task's ephemeral storage. */
  recordingSpoolDir: text('KEYFRAME_RECORDING_SPOOL_DIR', { default: '/tmp/keyframe-recording-spool' }),
  /**
   * The spool's cap in MiB; beyond it segments are not kept (the recording becomes `incomplete` with the gap).
   * Default 8192: of Fargate's 20 GiB ephemeral storage, 8 GiB hold 3 hours of a 6 Mbit/s stream, or 20 minutes
   * of 9 such streams, while S3 is unreachable.
   */
  recordingSpoolMiB: number('KEYFRAME_RECORDING_SPOOL_MIB', { default: 8192, min: 1, max: 1_048_576, integer: true }),
  /** A publish within this long after the last one ended continues the same recording (Amazon IVS: 0-300 s). */
  recordingReconnectWindowSeconds: number('KEYFRAME_RECORDING_RECONNECT_WINDOW_SECONDS', { default: 60, min: 0, max: 300 }),
  /** Thumbnails (docs/recording.md, "Thumbnails"): one keyframe decoded per this many seconds of media; 0 turns them off. */
  thumbnailSeconds: number('KEYFRAME_THUMBNAIL_SECONDS', { default: 10, min: 0, max: 3600, integer: true }),
  /** Thumbnail width in pixels: larger pictures are scaled down to it (aspect kept, never up). */
  thumbnailWidth: number('KEYFRAME_THUMBNAIL_WIDTH', { default: 640, min: 64, max: 1920, integer: true }),
  /** Thumbnail decodes (one short ffmpeg each) running at once on the task, across all its streams. */
  thumbnailConcurrency: number('KEYFRAME_THUMBNAIL_CONCURRENCY', { default: 2, min: 1, max: 16, integer: true }),
  /** Quality ladders (docs/ladder.md, "Capacity"): cores kept for passthrough (RTMP, packager, HTTP) when the budget is derived. */
  ladderPassthroughCores: number('KEYFRAME_LADDER_PASSTHROUGH_CORES', { default: 0.5, min: 0, max: 64 }),
  /** Cores the task's ladders may use in all. Default: this machine's cores (`os.availableParallelism()`) less the passthrough cores. */
  ladderCpuBudget: number('KEYFRAME_LADDER_CPU_BUDGET', {
    default: (e) => Math.max(0, availableParallelism() - (e.ladderPassthroughCores as number)),
    min: 0,
    max: 256,
  }),
  /** A ladder's cost, cores per megapixel per second of encoded output (plus decode and scaling, docs/ladder.md); measured at veryfast. */
  ladderCoresPerMpixel: number('KEYFRAME_LADDER_CORES_PER_MPIXEL', { default: 0.01, min: 0.0001, max: 1 }),
  /** Transcoder restarts allowed per publish within the restart window; one more fault and the rungs are gone for the publish. */
  ladderMaxRestarts: number('KEYFRAME_LADDER_MAX_RESTARTS', { default: 3, min: 0, max: 100, integer: true }),
  ladderRestartWindowSeconds: number('KEYFRAME_LADDER_RESTART_WINDOW_SECONDS', { default: 60, min: 1, max: 3600 }),
  /** Output lagging the input by more than this (wall ms, sustained 1 s) is "behind real time": the transcoder restarts. */
  ladderLagLimitMs: number('KEYFRAME_LADDER_LAG_LIMIT_MS', { default: 2000, min: 200, max: 60_000, integer: true }),
  /** x264 preset of every rung; the cost coefficient was measured at veryfast (a slower preset needs a larger one). */
  ladderX264Preset: oneOf('KEYFRAME_LADDER_X264_PRESET', ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'], { default: 'veryfast' }),
});
export type IngestSettings = ReturnType<typeof ingestSettings.load>;
