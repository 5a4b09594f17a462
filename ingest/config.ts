import { ConfigError, getNumber, getOptionalString, getString } from '../core/settings/env';

/** Everything the ingest task reads from its environment, validated once at start. */
export interface IngestConfig {
  readonly tableName: string;
  readonly dynamoEndpoint?: string;
  readonly rtmpHost: string;
  readonly rtmpPort: number;
  readonly hlsHost: string;
  readonly hlsPort: number;
  readonly healthPort: number;
  readonly hlsDir: string;
  /** Target segment duration. With `-c copy` segments are cut at keyframes, so the GOP sets the floor. */
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  readonly ffmpegPath: string;
  readonly taskArn?: string;
  readonly taskIp?: string;
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

/** An integer, or `Infinity` (any case) where `allowInfinity` says so. */
function getLimit(name: string, env: Record<string, string | undefined>, opts: { default: number; min: number; max: number; allowInfinity?: boolean }): number {
  const raw = env[name];
  if (opts.allowInfinity && raw !== undefined && /^infinity$/i.test(raw.trim())) return Infinity;
  return getNumber(name, { ...opts, integer: true, env });
}

export function loadIngestConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  const segmentSeconds = getNumber('KEYFRAME_SEGMENT_SECONDS', { default: 1, min: 0.5, max: 10, env });
  const routeTtlSeconds = getNumber('KEYFRAME_ROUTE_TTL_SECONDS', { default: 15, min: 3, max: 300, integer: true, env });
  const rtmpPort = getNumber('KEYFRAME_RTMP_PORT', { default: 1935, min: 0, max: 65535, integer: true, env });
  const hlsPort = getNumber('KEYFRAME_HLS_PORT', { default: 8080, min: 0, max: 65535, integer: true, env });
  const healthPort = getNumber('KEYFRAME_HEALTH_PORT', { default: 8081, min: 0, max: 65535, integer: true, env });
  if (hlsPort !== 0 && hlsPort === healthPort) {
    throw new ConfigError(`KEYFRAME_HEALTH_PORT=${healthPort} equals KEYFRAME_HLS_PORT; the health port must differ so only the origin reaches HLS`);
  }
  const rtmp: RtmpLimits = {
    handshakeTimeoutMs: getLimit('KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS', env, { default: 5_000, min: 100, max: 600_000 }),
    publishTimeoutMs: getLimit('KEYFRAME_RTMP_PUBLISH_TIMEOUT_MS', env, { default: 10_000, min: 100, max: 600_000 }),
    idleTimeoutMs: getLimit('KEYFRAME_RTMP_IDLE_TIMEOUT_MS', env, { default: 30_000, min: 100, max: 3_600_000 }),
    maxConnections: getLimit('KEYFRAME_RTMP_MAX_CONNECTIONS', env, { default: 1000, min: 1, max: 1_000_000 }),
    maxConnectionsPerIp: getLimit('KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP', env, { default: 20, min: 1, max: 1_000_000, allowInfinity: true }),
  };
  return {
    tableName: getString('KEYFRAME_TABLE', { env }),
    dynamoEndpoint: getOptionalString('KEYFRAME_DYNAMODB_ENDPOINT', env),
    rtmpHost: getString('KEYFRAME_RTMP_HOST', { default: '0.0.0.0', env }),
    rtmpPort,
    hlsHost: getString('KEYFRAME_HLS_HOST', { default: '0.0.0.0', env }),
    hlsPort,
    healthPort,
    hlsDir: getString('KEYFRAME_HLS_DIR', { default: '/tmp/keyframe-hls', env }),
    segmentSeconds,
    playlistSize: getNumber('KEYFRAME_PLAYLIST_SIZE', { default: 6, min: 3, max: 60, integer: true, env }),
    ffmpegPath: getString('KEYFRAME_FFMPEG_PATH', { default: 'ffmpeg', env }),
    taskArn: getOptionalString('KEYFRAME_TASK_ARN', env),
    taskIp: getOptionalString('KEYFRAME_TASK_IP', env),
    routeTtlSeconds,
    drainSeconds: getNumber('KEYFRAME_DRAIN_SECONDS', { default: 110, min: 0, max: 3600, env }),
    reconnectGraceSeconds: getNumber('KEYFRAME_RECONNECT_GRACE_SECONDS', { default: 10, min: 0, max: 120, env }),
    endLingerSeconds: getNumber('KEYFRAME_END_LINGER_SECONDS', { default: Math.max(3, segmentSeconds * 3), min: 0, max: 60, env }),
    rtmp,
    authThrottle: {
      // Per-IP limits need real client IPs. KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP=Infinity says they are not
      // (an NLB with client IP preservation off): then one guesser would lock out every publisher behind the
      // same NLB address, so the throttle is off unless set explicitly.
      maxFailures: getLimit('KEYFRAME_AUTH_MAX_FAILURES', env, { default: rtmp.maxConnectionsPerIp === Infinity ? 0 : 5, min: 0, max: 10_000 }),
      windowSeconds: getLimit('KEYFRAME_AUTH_FAILURE_WINDOW_SECONDS', env, { default: 60, min: 1, max: 86_400 }),
      backoffSeconds: getLimit('KEYFRAME_AUTH_BACKOFF_SECONDS', env, { default: 300, min: 1, max: 86_400 }),
      maxTrackedSources: getLimit('KEYFRAME_AUTH_MAX_TRACKED_SOURCES', env, { default: 10_000, min: 1, max: 1_000_000 }),
    },
  };
}
