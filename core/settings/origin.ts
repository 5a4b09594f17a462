import { MIN_SECRET_LENGTH } from '../playback-token';
import { blockingHoldMs, SEGMENT_SECONDS } from '../limits';
import { commonSettings } from './common';
import { defineSettings, number, optionalText, text } from './schema';

/** The origin's security settings (docs/security.md), also loadable on their own. */
const security = {
  /** Ranges a route's host must be in (validated by the origin's upstream guard). */
  upstreamCidrs: text('KEYFRAME_UPSTREAM_CIDRS', { default: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16' }),
  /** Ports (`8080`, `8080,8443`, `1024-65535`, `*`) a route's port must be in. */
  upstreamPorts: text('KEYFRAME_UPSTREAM_PORTS', { default: '8080' }),
  /** The playback-token secret itself (local stack, tests). */
  playbackSecret: optionalText('KEYFRAME_PLAYBACK_SECRET', {
    check: (v) => (v.length < MIN_SECRET_LENGTH ? `is too short; use at least ${MIN_SECRET_LENGTH} random characters` : undefined),
  }),
  /** A Secrets Manager secret holding it (AWS). */
  playbackSecretArn: optionalText('KEYFRAME_PLAYBACK_SECRET_ARN'),
} as const;

export const originSecuritySettings = defineSettings('origin', security);

/** The origin Lambda's environment (functions/origin). Written by infra/origin.ts and the local stack. */
export const originSettings = defineSettings('origin', {
  ...commonSettings,
  tableName: text('KEYFRAME_TABLE'),
  segmentSeconds: number('KEYFRAME_SEGMENT_SECONDS', { ...SEGMENT_SECONDS }),
  routeCacheMs: number('KEYFRAME_ROUTE_CACHE_MS', { default: 1000, min: 0, max: 60_000, integer: true }),
  upstreamTimeoutMs: number('KEYFRAME_UPSTREAM_TIMEOUT_MS', { default: 2000, min: 1, max: 30_000, integer: true }),
  /**
   * The longest a task holds an LL-HLS blocking request (`_HLS_msn` reload, preload-hint part); the origin waits
   * this plus `upstreamTimeoutMs` for such a request. Must be at least the ingest's `blockingHoldMs`.
   */
  blockingHoldMs: number('KEYFRAME_BLOCKING_HOLD_MS', {
    default: (e) => blockingHoldMs(e.segmentSeconds as number),
    min: 0,
    max: 20_000,
    integer: true,
  }),
  /**
   * Recordings (docs/recording.md, "Serving"): the bucket the origin reads `recordings/…` objects from. Unset:
   * every recordings path answers 404 (and the origin logs why).
   */
  recordingBucket: optionalText('KEYFRAME_RECORDING_BUCKET'),
  /** S3 endpoint: unset in AWS; the local stack and tests set their local S3-compatible server's. */
  s3Endpoint: optionalText('KEYFRAME_S3_ENDPOINT'),
  /** The bucket's region: in AWS the function's own (Lambda sets AWS_REGION); locally, the local server's default. */
  region: optionalText('AWS_REGION'),
  /** Share of successful requests that get a log line (errors and 4xx always do): 1 logs all, 0.01 one in a hundred. */
  logSampleRate: number('KEYFRAME_LOG_SAMPLE_RATE', { default: 1, min: 0, max: 1 }),
  ...security,
});
export type OriginSettings = ReturnType<typeof originSettings.load>;
