import { ConfigError, type Env } from '../core/settings/schema';
import { ingestSettings, type IngestSettings } from '../core/settings/ingest';

/** Everything the ingest task reads from its environment (core/settings/ingest.ts), validated once at start. */
export interface IngestConfig {
  readonly logLevel: IngestSettings['logLevel'];
  readonly tableName: string;
  readonly dynamoEndpoint?: string;
  readonly region?: string;
  readonly rtmpHost: string;
  readonly rtmpPort: number;
  readonly hlsHost: string;
  readonly hlsPort: number;
  readonly healthPort: number;
  readonly hlsDir: string;
  /** Target segment duration. */
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  /** LL-HLS: parts, blocking reloads (docs/ll-hls.md). */
  readonly lowLatency: boolean;
  /** PART-TARGET, s (the packager's fragment limit). */
  readonly partSeconds: number;
  /** Longest hold of a blocking request, ms. */
  readonly blockingHoldMs: number;
  readonly ffmpegPath: string;
  /** Who this task is (ingest/identity.ts): explicit locally, else from the ECS task metadata endpoint. */
  readonly identity: { readonly taskArn?: string; readonly taskIp?: string; readonly ecsMetadataUri?: string };
  /** The ECS agent endpoint: set on ECS, where it enables task scale-in protection. */
  readonly ecsAgentUri?: string;
  /** How often a task on ECS asks whether its deployment is still the primary one (ingest/deployment.ts). */
  readonly deploymentPollSeconds: number;
  /** Local stack only: the local fleet's deployment that started this task. */
  readonly localDeploymentId?: string;
  readonly routeTtlSeconds: number;
  readonly drainSeconds: number;
  /** After an abrupt disconnect, how long the route waits for the publisher to come back before the stream ends. */
  readonly reconnectGraceSeconds: number;
  /** After the playlist ends, how long the route stays so players can read the end-of-list marker. */
  readonly endLingerSeconds: number;
  /** Timeouts and connection caps of the RTMP server (docs/rtmp.md, "Limits"). */
  readonly rtmp: RtmpLimits;
  /** Rate limit on failed publishes per source IP (ingest/auth-throttle.ts). */
  readonly authThrottle: AuthThrottleConfig;
  /** Thumbnails (docs/recording.md, "Thumbnails"): one keyframe decoded per interval of media; 0 s turns them off. */
  readonly thumbnails: { readonly intervalSeconds: number; readonly maxWidth: number; readonly concurrency: number };
  /** Quality ladders (docs/ladder.md): CPU admission and the transcoder's bounds. */
  readonly ladder: {
    readonly cpuBudget: number;
    readonly passthroughCores: number;
    readonly coresPerMpixel: number;
    readonly maxRestarts: number;
    readonly restartWindowSeconds: number;
    readonly lagLimitMs: number;
    readonly preset: string;
  };
  /** Recording (docs/recording.md): on when a bucket is set; each channel opts in with `keys create|update --record`. */
  readonly recording: Pick<
    IngestSettings,
    'recordingBucket' | 's3Endpoint' | 'region' | 'recordingSpoolDir' | 'recordingSpoolMiB' | 'recordingReconnectWindowSeconds' | 'segmentSeconds'
  >;
}

export interface RtmpLimits {
  readonly handshakeTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /** `Infinity` disables the per-IP cap (behind a load balancer that hides client IPs). */
  readonly maxConnectionsPerIp: number;
}

export interface AuthThrottleConfig {
  /** Failed publishes from one IP within `windowSeconds` that start a backoff. 0 disables the throttle. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  /** How long publishes from that IP are refused, without looking the key up. */
  readonly backoffSeconds: number;
  /** Most source IPs tracked at once (bounded memory); the least recently seen are forgotten first. */
  readonly maxTrackedSources: number;
}

export function loadIngestConfig(env?: Env): IngestConfig {
  const s = ingestSettings.load(env);
  if (s.hlsPort !== 0 && s.hlsPort === s.healthPort) {
    throw new ConfigError(
      `KEYFRAME_HEALTH_PORT=${s.healthPort} equals KEYFRAME_HLS_PORT; the health port must differ so only the origin reaches HLS`,
    );
  }
  return {
    logLevel: s.logLevel,
    tableName: s.tableName,
    dynamoEndpoint: s.dynamoEndpoint,
    region: s.region,
    rtmpHost: s.rtmpHost,
    rtmpPort: s.rtmpPort,
    hlsHost: s.hlsHost,
    hlsPort: s.hlsPort,
    healthPort: s.healthPort,
    hlsDir: s.hlsDir,
    segmentSeconds: s.segmentSeconds,
    playlistSize: s.playlistSize,
    lowLatency: s.lowLatency,
    partSeconds: s.partSeconds,
    blockingHoldMs: s.blockingHoldMs,
    ffmpegPath: s.ffmpegPath,
    identity: { taskArn: s.taskArn, taskIp: s.taskIp, ecsMetadataUri: s.ecsMetadataUri },
    ecsAgentUri: s.ecsAgentUri,
    deploymentPollSeconds: s.deploymentPollSeconds,
    localDeploymentId: s.localDeploymentId,
    routeTtlSeconds: s.routeTtlSeconds,
    drainSeconds: s.drainSeconds,
    reconnectGraceSeconds: s.reconnectGraceSeconds,
    endLingerSeconds: s.endLingerSeconds,
    rtmp: {
      handshakeTimeoutMs: s.handshakeTimeoutMs,
      publishTimeoutMs: s.publishTimeoutMs,
      idleTimeoutMs: s.idleTimeoutMs,
      maxConnections: s.maxConnections,
      maxConnectionsPerIp: s.maxConnectionsPerIp,
    },
    authThrottle: {
      maxFailures: s.authMaxFailures,
      windowSeconds: s.authFailureWindowSeconds,
      backoffSeconds: s.authBackoffSeconds,
      maxTrackedSources: s.authMaxTrackedSources,
    },
    thumbnails: { intervalSeconds: s.thumbnailSeconds, maxWidth: s.thumbnailWidth, concurrency: s.thumbnailConcurrency },
    ladder: {
      cpuBudget: s.ladderCpuBudget,
      passthroughCores: s.ladderPassthroughCores,
      coresPerMpixel: s.ladderCoresPerMpixel,
      maxRestarts: s.ladderMaxRestarts,
      restartWindowSeconds: s.ladderRestartWindowSeconds,
      lagLimitMs: s.ladderLagLimitMs,
      preset: s.ladderX264Preset,
    },
    recording: {
      recordingBucket: s.recordingBucket,
      s3Endpoint: s.s3Endpoint,
      region: s.region,
      recordingSpoolDir: s.recordingSpoolDir,
      recordingSpoolMiB: s.recordingSpoolMiB,
      recordingReconnectWindowSeconds: s.recordingReconnectWindowSeconds,
      segmentSeconds: s.segmentSeconds,
    },
  };
}
