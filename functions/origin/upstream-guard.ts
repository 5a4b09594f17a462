import { BlockList, isIP } from 'node:net';
import { PLAYBACK_ID_PATTERN, SESSION_ID_PATTERN, type Route } from '../../core/model';

/**
 * The origin connects only where an ingest task can be: an IP literal (never a host name, so no DNS answer
 * can move it) inside the configured private ranges, on an allowed port, taken from a well-formed route of
 * the playback ID that was asked for. A route that fails is never fetched: the request gets 502 and a log
 * line (the table is written only by ingest tasks, so a failing route means a bug or a tampered table).
 *
 * In AWS the ranges default to RFC 1918 and the port to the tasks' HLS port 8080; the local stack allows
 * loopback and any unprivileged port (its tasks listen on ports the OS picks).
 */

export const DEFAULT_UPSTREAM_CIDRS = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16';
export const DEFAULT_UPSTREAM_PORTS = '8080';

export class UpstreamGuardError extends Error {
  override readonly name = 'UpstreamGuardError';
}

export interface UpstreamGuard {
  /** Throws UpstreamGuardError (naming what failed: logs only) unless the route may be fetched for `playbackId`. */
  check(route: Route, playbackId: string): void;
  /** The configuration, for the start-up log. */
  readonly description: string;
}

type PortRange = readonly [number, number];

/** `10.0.0.0/8,172.16.0.0/12` (IPv4 or IPv6 CIDRs, comma-separated). Throws on anything malformed. */
export function parseCidrs(spec: string, name = 'KEYFRAME_UPSTREAM_CIDRS'): BlockList {
  const list = new BlockList();
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new TypeError(`${name} is empty; give at least one CIDR such as 10.0.0.0/8`);
  for (const part of parts) {
    const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(part);
    const family = m ? isIP(m[1]) : 0;
    const prefix = m ? Number(m[2]) : NaN;
    if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new TypeError(`${name}: ${JSON.stringify(part)} is not a CIDR such as 10.0.0.0/8`);
    }
    list.addSubnet(m[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** `8080`, `8080,8443`, `1024-65535` or `*` (any port). Throws on anything malformed. */
export function parsePorts(spec: string, name = 'KEYFRAME_UPSTREAM_PORTS'): PortRange[] {
  const ranges: PortRange[] = [];
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    if (part === '*') {
      ranges.push([1, 65535]);
      continue;
    }
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || lo < 1 || hi > 65535 || lo > hi)
      throw new TypeError(`${name}: ${JSON.stringify(part)} is not a port, a range such as 1024-65535, or *`);
    ranges.push([lo, hi]);
  }
  if (ranges.length === 0) throw new TypeError(`${name} is empty; give a port such as 8080`);
  return ranges;
}

export function createUpstreamGuard(opts: { cidrs: string; ports: string }): UpstreamGuard {
  const allowed = parseCidrs(opts.cidrs);
  const ports = parsePorts(opts.ports);
  return {
    description: `hosts in ${opts.cidrs}, ports ${opts.ports}`,
    check(route, playbackId) {
      const fail = (why: string): never => {
        throw new UpstreamGuardError(`route of ${playbackId} refused by the upstream guard: ${why}`);
      };
      if (!PLAYBACK_ID_PATTERN.test(playbackId) || route.playbackId !== playbackId) fail('route is for another playback ID');
      if (typeof route.session !== 'string' || !SESSION_ID_PATTERN.test(route.session)) fail('malformed session');
      const host = typeof route.host === 'string' ? route.host : '';
      const family = isIP(host);
      if (family === 0) fail(`host ${JSON.stringify(host.slice(0, 64))} is not an IP address`);
      if (!allowed.check(host, family === 4 ? 'ipv4' : 'ipv6')) fail(`host ${host} is outside the allowed ranges`);
      const port = route.port;
      if (!Number.isInteger(port) || !ports.some(([lo, hi]) => port >= lo && port <= hi)) fail(`port ${String(port)} is not allowed`);
    },
  };
}
