import { ConfigError, type Env } from '../../core/settings/schema';
import { originSecuritySettings, originSettings, type OriginSettings } from '../../core/settings/origin';
import { parseCidrs, parsePorts } from './upstream-guard';

/** The origin's settings (core/settings/origin.ts), with the upstream guard's ranges validated. */
export function loadOriginSettings(env?: Env): OriginSettings {
  const settings = originSettings.load(env);
  validateUpstream(settings);
  return settings;
}

/** The origin's core settings (docs/architecture.md, "Environment"). */
export interface OriginConfig {
  readonly tableName: string;
  readonly dynamoEndpoint: string | undefined;
  readonly routeCacheMs: number;
  readonly upstreamTimeoutMs: number;
  /** The longest hold of an LL-HLS blocking request at the task (added to `upstreamTimeoutMs` for those). */
  readonly blockingHoldMs: number;
  readonly segmentSeconds: number;
}

export function readOriginConfig(env: Env): OriginConfig {
  const s = originSettings.load(env);
  return {
    tableName: s.tableName,
    dynamoEndpoint: s.dynamoEndpoint,
    routeCacheMs: s.routeCacheMs,
    upstreamTimeoutMs: s.upstreamTimeoutMs,
    blockingHoldMs: s.blockingHoldMs,
    segmentSeconds: s.segmentSeconds,
  };
}

/**
 * The origin's security settings (docs/security.md), read apart from the rest so each can be validated and
 * tested on its own. Malformed values fail at cold start with the variable's name.
 */
export interface OriginSecurityConfig {
  readonly upstreamCidrs: string;
  readonly upstreamPorts: string;
  readonly playbackSecret?: string;
  readonly playbackSecretArn?: string;
}

export function readOriginSecurityConfig(env: Env): OriginSecurityConfig {
  const s = originSecuritySettings.load(env);
  validateUpstream(s);
  return {
    upstreamCidrs: s.upstreamCidrs,
    upstreamPorts: s.upstreamPorts,
    ...(s.playbackSecret !== undefined ? { playbackSecret: s.playbackSecret } : {}),
    ...(s.playbackSecretArn !== undefined ? { playbackSecretArn: s.playbackSecretArn } : {}),
  };
}

function validateUpstream(s: { upstreamCidrs: string; upstreamPorts: string }): void {
  try {
    parseCidrs(s.upstreamCidrs);
    parsePorts(s.upstreamPorts);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}
