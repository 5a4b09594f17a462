import { getNumber, getOptionalString, getString } from '../shared/env';

/** The origin's settings, read from the environment (docs/architecture.md, "Environment"). */
export interface OriginConfig {
  readonly tableName: string;
  readonly dynamoEndpoint: string | undefined;
  readonly routeCacheMs: number;
  readonly upstreamTimeoutMs: number;
  readonly segmentSeconds: number;
}

export function readOriginConfig(env: Record<string, string | undefined> = process.env): OriginConfig {
  return {
    tableName: getString('KEYFRAME_TABLE', { env }),
    dynamoEndpoint: getOptionalString('KEYFRAME_DYNAMODB_ENDPOINT', env),
    routeCacheMs: getNumber('KEYFRAME_ROUTE_CACHE_MS', { default: 1000, min: 0, max: 60_000, integer: true, env }),
    upstreamTimeoutMs: getNumber('KEYFRAME_UPSTREAM_TIMEOUT_MS', { default: 2000, min: 1, max: 30_000, integer: true, env }),
    segmentSeconds: getNumber('KEYFRAME_SEGMENT_SECONDS', { default: 1, min: 0.1, max: 60, env }),
  };
}
