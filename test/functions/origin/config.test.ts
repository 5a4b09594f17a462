import { describe, expect, it } from 'vitest';
import { readOriginConfig } from '../../../functions/origin/config';
import { ConfigError } from '../../../core/settings/env';

describe('readOriginConfig', () => {
  it('applies the documented defaults', () => {
    expect(readOriginConfig({ KEYFRAME_TABLE: 't' })).toEqual({
      tableName: 't',
      dynamoEndpoint: undefined,
      routeCacheMs: 1000,
      upstreamTimeoutMs: 2000,
      blockingHoldMs: 3000,
      segmentSeconds: 1,
    });
  });

  it('reads every variable', () => {
    expect(
      readOriginConfig({
        KEYFRAME_TABLE: 't',
        KEYFRAME_DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567',
        KEYFRAME_ROUTE_CACHE_MS: '250',
        KEYFRAME_UPSTREAM_TIMEOUT_MS: '1500',
        KEYFRAME_BLOCKING_HOLD_MS: '2500',
        KEYFRAME_SEGMENT_SECONDS: '2',
      }),
    ).toEqual({
      tableName: 't',
      dynamoEndpoint: 'http://127.0.0.1:4567',
      routeCacheMs: 250,
      upstreamTimeoutMs: 1500,
      blockingHoldMs: 2500,
      segmentSeconds: 2,
    });
  });

  it('fails on a missing table or a bad number', () => {
    expect(() => readOriginConfig({})).toThrow(ConfigError);
    expect(() => readOriginConfig({ KEYFRAME_TABLE: 't', KEYFRAME_UPSTREAM_TIMEOUT_MS: 'soon' })).toThrow(/KEYFRAME_UPSTREAM_TIMEOUT_MS/);
    expect(() => readOriginConfig({ KEYFRAME_TABLE: 't', KEYFRAME_ROUTE_CACHE_MS: '-1' })).toThrow(/minimum/);
  });
});
