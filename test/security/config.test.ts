import { describe, expect, it } from 'vitest';
import { readOriginSecurityConfig } from '../../functions/origin/config';
import { ConfigError } from '../../core/settings/env';
import { loadIngestConfig } from '../../ingest/config';

describe('ingest limits from the environment', () => {
  it('defaults: the RTMP server defaults, and the throttle on at 5 failures per 60 s, 300 s backoff', () => {
    const c = loadIngestConfig({ KEYFRAME_TABLE: 't' });
    expect(c.rtmp).toEqual({
      handshakeTimeoutMs: 5000,
      publishTimeoutMs: 10000,
      idleTimeoutMs: 30000,
      maxConnections: 1000,
      maxConnectionsPerIp: 20,
    });
    expect(c.authThrottle).toEqual({ maxFailures: 5, windowSeconds: 60, backoffSeconds: 300, maxTrackedSources: 10000 });
  });

  it('reads every variable', () => {
    const c = loadIngestConfig({
      KEYFRAME_TABLE: 't',
      KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS: '1500',
      KEYFRAME_RTMP_PUBLISH_TIMEOUT_MS: '4000',
      KEYFRAME_RTMP_IDLE_TIMEOUT_MS: '20000',
      KEYFRAME_RTMP_MAX_CONNECTIONS: '300',
      KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: '5',
      KEYFRAME_AUTH_MAX_FAILURES: '3',
      KEYFRAME_AUTH_FAILURE_WINDOW_SECONDS: '30',
      KEYFRAME_AUTH_BACKOFF_SECONDS: '900',
      KEYFRAME_AUTH_MAX_TRACKED_SOURCES: '500',
    });
    expect(c.rtmp).toEqual({ handshakeTimeoutMs: 1500, publishTimeoutMs: 4000, idleTimeoutMs: 20000, maxConnections: 300, maxConnectionsPerIp: 5 });
    expect(c.authThrottle).toEqual({ maxFailures: 3, windowSeconds: 30, backoffSeconds: 900, maxTrackedSources: 500 });
  });

  it('a per-IP cap of Infinity (client IPs hidden by the NLB) also turns the throttle off, unless it is set', () => {
    const hidden = loadIngestConfig({ KEYFRAME_TABLE: 't', KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: 'Infinity' });
    expect(hidden.rtmp.maxConnectionsPerIp).toBe(Infinity);
    expect(hidden.authThrottle.maxFailures).toBe(0);
    expect(
      loadIngestConfig({ KEYFRAME_TABLE: 't', KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: 'infinity', KEYFRAME_AUTH_MAX_FAILURES: '5' }).authThrottle
        .maxFailures,
    ).toBe(5);
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS: '50' }, /KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS=50 is below the minimum 100/],
    [{ KEYFRAME_RTMP_IDLE_TIMEOUT_MS: 'forever' }, /KEYFRAME_RTMP_IDLE_TIMEOUT_MS="forever" is not an integer/],
    [{ KEYFRAME_RTMP_MAX_CONNECTIONS: 'Infinity' }, /KEYFRAME_RTMP_MAX_CONNECTIONS="Infinity" is not an integer/],
    [{ KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: '0' }, /below the minimum 1/],
    [{ KEYFRAME_AUTH_MAX_FAILURES: '-1' }, /below the minimum 0/],
    [{ KEYFRAME_AUTH_BACKOFF_SECONDS: '1.5' }, /is not an integer/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      expect(() => loadIngestConfig({ KEYFRAME_TABLE: 't', ...env })).toThrow(message);
    });
  }
});

describe('origin security settings from the environment', () => {
  it('defaults to the RFC 1918 ranges and port 8080, no playback secret', () => {
    expect(readOriginSecurityConfig({})).toEqual({ upstreamCidrs: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16', upstreamPorts: '8080' });
  });

  it('reads ranges, ports and the secret settings', () => {
    expect(
      readOriginSecurityConfig({
        KEYFRAME_UPSTREAM_CIDRS: '10.20.0.0/16',
        KEYFRAME_UPSTREAM_PORTS: '8080,9000-9010',
        KEYFRAME_PLAYBACK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kf-playback',
      }),
    ).toEqual({
      upstreamCidrs: '10.20.0.0/16',
      upstreamPorts: '8080,9000-9010',
      playbackSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kf-playback',
    });
  });

  for (const [env, message] of [
    [{ KEYFRAME_UPSTREAM_CIDRS: '10.0.0.0' }, /not a CIDR/],
    [{ KEYFRAME_UPSTREAM_CIDRS: '10.0.0.0/33' }, /not a CIDR/],
    [{ KEYFRAME_UPSTREAM_CIDRS: 'example.com/8' }, /not a CIDR/],
    [{ KEYFRAME_UPSTREAM_PORTS: '0' }, /not a port/],
    [{ KEYFRAME_UPSTREAM_PORTS: '9000-8000' }, /not a port/],
    [{ KEYFRAME_UPSTREAM_PORTS: 'http' }, /not a port/],
    [{ KEYFRAME_PLAYBACK_SECRET: 'short' }, /KEYFRAME_PLAYBACK_SECRET is too short/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      expect(() => readOriginSecurityConfig(env)).toThrow(ConfigError);
      expect(() => readOriginSecurityConfig(env)).toThrow(message);
    });
  }
});
