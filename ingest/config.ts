import { ConfigError, getNumber, getOptionalString, getString } from '../functions/shared/env';

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
  };
}
