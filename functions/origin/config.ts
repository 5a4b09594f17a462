import { ConfigError, getNumber, getOptionalString, getString } from '../../core/settings/env';
import { MIN_SECRET_LENGTH } from '../../core/playback-token';
import { DEFAULT_UPSTREAM_CIDRS, DEFAULT_UPSTREAM_PORTS, parseCidrs, parsePorts } from './upstream-guard';

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

/**
 * The origin's security settings (docs/security.md), read apart from `readOriginConfig` so each can be
 * validated and tested on its own. Malformed values fail at cold start with the variable's name.
 */
export interface OriginSecurityConfig {
  /** KEYFRAME_UPSTREAM_CIDRS: ranges a route's host must be in. */
  readonly upstreamCidrs: string;
  /** KEYFRAME_UPSTREAM_PORTS: ports (`8080`, `8080,8443`, `1024-65535`, `*`) a route's port must be in. */
  readonly upstreamPorts: string;
  /** KEYFRAME_PLAYBACK_SECRET: the playback-token secret itself (local stack, tests). */
  readonly playbackSecret?: string;
  /** KEYFRAME_PLAYBACK_SECRET_ARN: a Secrets Manager secret holding it (AWS), read through the Lambda extension. */
  readonly playbackSecretArn?: string;
}

export function readOriginSecurityConfig(env: Record<string, string | undefined> = process.env): OriginSecurityConfig {
  const upstreamCidrs = getString('KEYFRAME_UPSTREAM_CIDRS', { default: DEFAULT_UPSTREAM_CIDRS, env });
  const upstreamPorts = getString('KEYFRAME_UPSTREAM_PORTS', { default: DEFAULT_UPSTREAM_PORTS, env });
  try {
    parseCidrs(upstreamCidrs);
    parsePorts(upstreamPorts);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const playbackSecret = getOptionalString('KEYFRAME_PLAYBACK_SECRET', env);
  if (playbackSecret !== undefined && playbackSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`KEYFRAME_PLAYBACK_SECRET is too short; use at least ${MIN_SECRET_LENGTH} random characters`);
  }
  return {
    upstreamCidrs,
    upstreamPorts,
    ...(playbackSecret !== undefined ? { playbackSecret } : {}),
    ...(getOptionalString('KEYFRAME_PLAYBACK_SECRET_ARN', env) ? { playbackSecretArn: getOptionalString('KEYFRAME_PLAYBACK_SECRET_ARN', env) } : {}),
  };
}
