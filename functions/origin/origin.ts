import { MAX_BUFFERED_BODY_BYTES } from '../../core/limits';
import { performance } from 'node:perf_hooks';
import {
  BadGatewayError,
  BadRequestError,
  GatewayTimeoutError,
  HttpError,
  MethodNotAllowedError,
  NotFoundError,
} from '../../core/errors';
import { isRouteLive, type Route } from '../../core/model';
import type { PlaybackKeySource } from '../../core/playback-secret';
import { tokenFromQuery, verifyPlaybackToken } from '../../core/playback-token';
import type { RouteStore } from '../../core/store';
import { CACHE_SEGMENT, errorCacheControl, isMultivariantPlaylist, playlistCacheControl } from '../../core/hls/cache-control';
import type { OriginMetrics } from './metrics';
import { parseOriginPath, type OriginPath } from '../../core/hls/paths';
import { createRouteCache } from './route-cache';
import { SegmentCache } from './segment-cache';
import { createStreamLister, STREAMS_PATH, streamsResponse, type StreamListing } from './streams';
import { createHttpUpstream, UpstreamError, type FetchUpstream } from './upstream';
import type { UpstreamGuard } from './upstream-guard';

/**
 * The origin, free of AWS: method and path checks, playback ID → route (cached, coalesced), the fetch from
 * the ingest task (coalesced; segments kept briefly in memory), and the response with its Cache-Control.
 * Every error response is built from an HttpError here, with a body that names no host, port or stack.
 */

/** Largest upstream body we accept (core/limits.ts). */
export { MAX_BUFFERED_BODY_BYTES };
export const DEFAULT_SEGMENT_CACHE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SEGMENT_CACHE_MS = 60_000;

export interface OriginRequest {
  readonly method: string;
  /** Raw path, plus `?query` if the request had one (refused, except one `token` on a playlist). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface OriginResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type Origin = (req: OriginRequest) => Promise<OriginResponse>;

/** The slice of the Powertools logger the origin uses. */
export interface OriginLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface OriginDeps {
  readonly routes: Pick<RouteStore, 'getRoute'>;
  /** Enables `GET /api/streams` (live channels: public playback IDs and names only). */
  readonly listing?: StreamListing;
  /** Defaults to plain HTTP over a keep-alive agent. */
  readonly fetchUpstream?: FetchUpstream;
  readonly now?: () => number;
  readonly routeCacheMs: number;
  readonly upstreamTimeoutMs: number;
  /** Fallback target duration for a media playlist that lacks `#EXT-X-TARGETDURATION`. */
  readonly segmentSeconds: number;
  readonly logger: OriginLogger;
  readonly metrics: OriginMetrics;
  readonly maxBodyBytes?: number;
  readonly segmentCacheBytes?: number;
  readonly segmentCacheMs?: number;
  /** Checks every route before it is fetched (functions/origin/upstream-guard.ts). The Lambda always has one. */
  readonly upstreamGuard?: UpstreamGuard;
  /** The playback-token key, for private channels. Without it a private channel's playlists are 503. */
  readonly playbackKey?: PlaybackKeySource;
}

export const CORS_HEADERS: Readonly<Record<string, string>> = { 'Access-Control-Allow-Origin': '*' };
const ALLOW = 'GET, HEAD, OPTIONS';

type BodySource = 'hit' | 'miss' | 'coalesced';

/** What one request did, for its log line. */
interface RequestInfo {
  playbackId?: string;
  file?: string;
  routeCache?: 'hit' | 'miss' | 'coalesced';
  bodyCache?: BodySource;
  /** Private channel playlists: the outcome of the token check. */
  token?: string;
}

export function createOrigin(deps: OriginDeps): Origin {
  const now = deps.now ?? Date.now;
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_BUFFERED_BODY_BYTES;
  const fetchUpstream = deps.fetchUpstream ?? createHttpUpstream().fetch;
  const routeCache = createRouteCache({ getRoute: (id) => deps.routes.getRoute(id), ttlMs: deps.routeCacheMs, now });
  const segments = new SegmentCache({
    maxBytes: deps.segmentCacheBytes ?? DEFAULT_SEGMENT_CACHE_BYTES,
    ttlMs: deps.segmentCacheMs ?? DEFAULT_SEGMENT_CACHE_MS,
    now,
  });
  const inflight = new Map<string, Promise<Buffer>>();
  const streams = deps.listing ? createStreamLister(deps.listing, { now }) : undefined;

  async function resolveRoute(playbackId: string, info: RequestInfo): Promise<Route> {
    let lookup;
    try {
      lookup = await routeCache.get(playbackId);
    } catch (err) {
      throw new HttpError(503, 'ServiceUnavailable', 'Route lookup failed', { cause: err });
    }
    info.routeCache = lookup.cache;
    if (!lookup.route || !isRouteLive(lookup.route, now())) throw new NotFoundError('Unknown or ended stream');
    return lookup.route;
  }

  /** One real fetch from the task; maps every failure to a 404, 502 or 504 carrying its cause. */
  async function fetchFromTask(route: Route, target: OriginPath): Promise<Buffer> {
    const path = `/${target.playbackId}/${target.file}`;
    let res;
    try {
      res = await fetchUpstream({
        host: route.host,
        port: route.port,
        path,
        timeoutMs: deps.upstreamTimeoutMs,
        maxBytes: maxBodyBytes,
      });
    } catch (err) {
      deps.metrics.count('UpstreamFailures');
      throw toUpstreamHttpError(err);
    }
    if (res.statusCode === 404) throw new NotFoundError('No such file');
    if (res.statusCode !== 200) {
      deps.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream failed', {
        cause: new UpstreamError('failed', `upstream answered ${res.statusCode}`),
      });
    }
    if (res.body.length > maxBodyBytes) {
      deps.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream body too large', {
        cause: new UpstreamError('too-large', `upstream body of ${res.body.length} bytes exceeds ${maxBodyBytes}`),
      });
    }
    return res.body;
  }

  /** A route is used only if the guard passes it: otherwise 502, logged with the reason, and no connection. */
  function guardRoute(route: Route, target: OriginPath): void {
    if (!deps.upstreamGuard) return;
    try {
      deps.upstreamGuard.check(route, target.playbackId);
    } catch (err) {
      deps.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream refused', { cause: err });
    }
  }

  /** A private channel's playlist needs a valid token for its playback ID: 403 otherwise. */
  async function authorizePlayback(target: OriginPath, token: string | undefined, info: RequestInfo): Promise<void> {
    if (!deps.playbackKey) {
      info.token = 'unconfigured';
      throw new HttpError(503, 'ServiceUnavailable', 'Private playback is unavailable', {
        cause: new Error('a private channel was requested but no playback secret is configured'),
      });
    }
    let key: Buffer;
    try {
      key = await deps.playbackKey.get();
    } catch (err) {
      info.token = 'secret-unavailable';
      throw new HttpError(503, 'ServiceUnavailable', 'Private playback is unavailable', { cause: err });
    }
    const check = verifyPlaybackToken(key, target.playbackId, token, now());
    info.token = check;
    if (check === 'valid') return;
    const message = check === 'missing' ? 'Playback token required' : check === 'expired' ? 'Playback token expired' : 'Playback token invalid';
    throw new HttpError(403, 'Forbidden', message);
  }

  /** Segment cache, then an identical fetch in flight, then a new fetch. Playlists skip the cache. */
  async function getBody(route: Route, target: OriginPath, info: RequestInfo): Promise<Buffer> {
    guardRoute(route, target);
    const key = `${route.host}:${route.port}/${target.playbackId}/${target.file}`;
    const immutable = target.kind !== 'playlist';
    if (immutable) {
      const cached = segments.get(key);
      if (cached) {
        info.bodyCache = 'hit';
        return cached;
      }
    }
    const pending = inflight.get(key);
    if (pending) {
      info.bodyCache = 'coalesced';
      return pending;
    }
    info.bodyCache = 'miss';
    const fetching = fetchFromTask(route, target);
    inflight.set(key, fetching);
    fetching.then(
      (body) => {
        inflight.delete(key);
        if (immutable) segments.set(key, body);
      },
      () => inflight.delete(key),
    );
    return fetching;
  }

  async function serve(req: OriginRequest, info: RequestInfo): Promise<OriginResponse> {
    const method = req.method.toUpperCase();
    if (method === 'OPTIONS') {
      return {
        statusCode: 204,
        headers: {
          ...CORS_HEADERS,
          'Access-Control-Allow-Methods': ALLOW,
          'Access-Control-Allow-Headers': '*',
          'Access-Control-Max-Age': '86400',
          'Cache-Control': 'public, max-age=86400',
        },
        body: Buffer.alloc(0),
      };
    }
    if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError();

    // The one non-HLS path, matched exactly before the strict HLS path parser (which refuses it).
    if (streams && req.path === STREAMS_PATH) {
      info.file = STREAMS_PATH;
      return streamsResponse(streams, method, CORS_HEADERS).catch((err: unknown) => {
        throw new HttpError(503, 'ServiceUnavailable', 'Stream listing failed', { cause: err });
      });
    }

    // The one query string allowed: `?token=<exp>.<sig>` on a playlist. Anything else is 400.
    const q = req.path.indexOf('?');
    const target = parseOriginPath(q === -1 ? req.path : req.path.slice(0, q));
    let token: string | undefined;
    if (q !== -1) {
      const fromQuery = target.kind === 'playlist' ? tokenFromQuery(req.path.slice(q + 1)) : null;
      if (typeof fromQuery !== 'string') throw new BadRequestError('Invalid query string');
      token = fromQuery;
    }
    info.playbackId = target.playbackId;
    info.file = target.file;
    const route = await resolveRoute(target.playbackId, info);
    // Segments of a private channel need no token: their names carry the session id, learnt from a playlist.
    const privatePlaylist = route.private === true && target.kind === 'playlist';
    if (privatePlaylist) await authorizePlayback(target, token, info);
    let body = await getBody(route, target, info);
    let cacheControl = CACHE_SEGMENT;
    if (target.kind === 'playlist') {
      // Decode the playlist once for both uses.
      const text = body.toString('utf8');
      if (privatePlaylist && token !== undefined && isMultivariantPlaylist(text)) body = Buffer.from(withToken(text, token));
      cacheControl = playlistCacheControl(text, deps.segmentSeconds);
    }
    return {
      statusCode: 200,
      headers: { ...CORS_HEADERS, 'Content-Type': target.contentType, 'Cache-Control': cacheControl },
      body: method === 'HEAD' ? Buffer.alloc(0) : body,
    };
  }

  return async function origin(req) {
    const started = performance.now();
    const info: RequestInfo = {};
    let res: OriginResponse;
    let failure: HttpError | undefined;
    try {
      res = await serve(req, info);
    } catch (err) {
      failure = err instanceof HttpError ? err : new HttpError(500, 'InternalServerError', 'Internal error', { cause: err });
      res = errorResponse(failure, req.method.toUpperCase() === 'HEAD');
    }
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;

    deps.metrics.count('OriginRequests');
    if (res.statusCode >= 500) deps.metrics.count('Origin5xx');
    else if (res.statusCode >= 400) deps.metrics.count('Origin4xx');
    deps.metrics.latency(latencyMs);

    const line = {
      method: req.method,
      status: res.statusCode,
      playbackId: info.playbackId,
      file: info.file,
      // A refused path has no playback ID: log what was asked for, trimmed, with anything key-like redacted
      // (a streamer may paste their secret key where a playback ID belongs).
      path: info.playbackId === undefined ? redactPath(req.path) : undefined,
      latencyMs,
      routeCache: info.routeCache,
      bodyCache: info.bodyCache,
      ...(info.token ? { token: info.token } : {}),
    };
    if (res.statusCode >= 500 && failure) {
      const unexpected = failure.statusCode === 500 && failure.cause instanceof Error ? failure.cause.stack : undefined;
      deps.logger.error('origin request failed', {
        ...line,
        error: failure.code,
        reason: failure.message,
        cause: describeCause(failure),
        ...(unexpected ? { stack: unexpected } : {}),
      });
    } else {
      deps.logger.info('origin request', failure ? { ...line, reason: failure.message } : line);
    }
    return res;
  };
}

function toUpstreamHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const timedOut =
    (err instanceof UpstreamError && err.kind === 'timeout') ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
  if (timedOut) return new GatewayTimeoutError('Upstream timed out', { cause: err });
  if (err instanceof UpstreamError && err.kind === 'too-large') {
    return new BadGatewayError('Upstream body too large', { cause: err });
  }
  return new BadGatewayError('Upstream failed', { cause: err });
}

/** The error body: code, status and a fixed message. Never a stack, host or port. */
export function errorResponse(err: HttpError, head = false): OriginResponse {
  const headers: Record<string, string> = {
    ...CORS_HEADERS,
    'Content-Type': 'application/json',
    'Cache-Control': errorCacheControl(err.statusCode),
  };
  if (err.statusCode === 405) headers.Allow = ALLOW;
  const body = head ? Buffer.alloc(0) : Buffer.from(JSON.stringify(err.toJSON()));
  return { statusCode: err.statusCode, headers, body };
}

function redactPath(path: string): string {
  return path
    .slice(0, 256)
    .replace(/kf_[A-Za-z0-9_%-]*/g, 'kf_[redacted]')
    .replace(/(token(?:=|%3d))[^&]*/gi, '$1[redacted]');
}

/**
 * A private multivariant playlist names its renditions' playlists, which need the token too: players resolve
 * relative URIs without the query, so the token is appended to every playlist URI (lines and `URI="…"`).
 */
export function withToken(playlist: string, token: string): string {
  const add = (uri: string) => (uri.includes('?') || !/\.m3u8$/i.test(uri) ? uri : `${uri}?token=${token}`);
  return playlist
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed === '') return line;
      if (!trimmed.startsWith('#')) return line.replace(trimmed, () => add(trimmed));
      return line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${add(uri)}"`);
    })
    .join('\n');
}

/** The cause chain as short strings, for the log line (may name the task's address: logs only). */
function describeCause(err: unknown): string[] | undefined {
  const out: string[] = [];
  let cur = err instanceof Error ? err.cause : undefined;
  while (cur !== undefined && out.length < 5) {
    out.push(cur instanceof Error ? `${cur.name}: ${cur.message}` : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out.length ? out : undefined;
}
