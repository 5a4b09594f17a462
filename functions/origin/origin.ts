import { performance } from 'node:perf_hooks';
import { HttpError, NotFoundError } from '../../core/errors';
import { MAX_BUFFERED_BODY_BYTES } from '../../core/limits';
import type { Route } from '../../core/model';
import type { PlaybackKeySource } from '../../core/playback-secret';
import type { RecordingStore, RouteStore } from '../../core/store';
import type { OriginMetrics } from './metrics';
import { createAuthorizer } from './pipeline/authorize';
import { createBodyFetcher, isRefused, isTaskGone } from './pipeline/fetch';
import { type OriginLogger, recordRequest } from './pipeline/log';
import { parseRequest } from './pipeline/parse';
import { createRecordingServer } from './pipeline/recording';
import { createResolver, sameRoute } from './pipeline/resolve';
import { CORS_HEADERS, errorResponse, fileResponse, preflightResponse, withToken } from './pipeline/respond';
import type { OriginRequest, OriginResponse, RequestInfo } from './pipeline/types';
import type { RecordingObjectSource } from './recording-objects';
import { createStreamLister, streamsResponse, type StreamListing } from './streams';
import { createHttpUpstream, type FetchUpstream } from './upstream';
import type { UpstreamGuard } from './upstream-guard';

/**
 * The origin, free of AWS, as a request pipeline: parse (method, strict path, query) → resolve (playback ID →
 * route, cached and coalesced) → authorize (private playlists and thumbnails) → fetch (from the route's task;
 * coalesced, segments kept briefly in memory) → respond (Cache-Control per type) → log (one line, metrics).
 * Recordings paths take their own stage after parse (pipeline/recording.ts: the recording's item, its token
 * rule, the object from the recordings bucket). Each stage is its own module under pipeline/. Every error
 * response is built from an HttpError, with a body that names no host, port, bucket or stack.
 *
 * A task that refuses or resets the connection is gone or going: its route is dropped from the cache and
 * resolved once more from the table, so a viewer gets the stream's new task, or a 404 once the route has been
 * purged (or while the table still names a task where nothing listens) — never a 5xx for a dead task.
 */

export { CORS_HEADERS, errorResponse, MAX_BUFFERED_BODY_BYTES, withToken };
export type { OriginLogger, OriginRequest, OriginResponse };
export const DEFAULT_SEGMENT_CACHE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SEGMENT_CACHE_MS = 60_000;

export type Origin = (req: OriginRequest) => Promise<OriginResponse>;

export interface OriginDeps {
  readonly routes: Pick<RouteStore, 'getRoute'>;
  /** Enables `GET /api/streams` (live channels: public playback IDs and names only). */
  readonly listing?: StreamListing;
  /** Defaults to plain HTTP over a keep-alive agent. */
  readonly fetchUpstream?: FetchUpstream;
  readonly now?: () => number;
  readonly routeCacheMs: number;
  readonly upstreamTimeoutMs: number;
  /** The longest a task holds an LL-HLS blocking request; such requests wait this longer upstream. @default 0 */
  readonly blockingHoldMs?: number;
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
  /** Recording items (their playback ID and private flag decide who may read a playlist or poster). */
  readonly recordings?: Pick<RecordingStore, 'getRecording'>;
  /** The recordings bucket (recording-objects.ts). Unset: recordings are off, and their paths are 404. */
  readonly recordingObjects?: RecordingObjectSource;
  /** How long a recording item is reused. @default routeCacheMs */
  readonly recordingCacheMs?: number;
  /** Share of successful requests logged (every 4xx and 5xx is). @default 1 */
  readonly logSampleRate?: number;
  /** For the log sampling. @default Math.random */
  readonly random?: () => number;
}

export function createOrigin(deps: OriginDeps): Origin {
  const now = deps.now ?? Date.now;
  const streams = deps.listing ? createStreamLister(deps.listing, { now }) : undefined;
  const resolver = createResolver({ routes: deps.routes, ttlMs: deps.routeCacheMs, now });
  const authorize = createAuthorizer({ playbackKey: deps.playbackKey, now });
  const getBody = createBodyFetcher({
    fetchUpstream: deps.fetchUpstream ?? createHttpUpstream().fetch,
    upstreamGuard: deps.upstreamGuard,
    metrics: deps.metrics,
    upstreamTimeoutMs: deps.upstreamTimeoutMs,
    blockingHoldMs: deps.blockingHoldMs ?? 0,
    maxBodyBytes: deps.maxBodyBytes ?? MAX_BUFFERED_BODY_BYTES,
    segmentCacheBytes: deps.segmentCacheBytes ?? DEFAULT_SEGMENT_CACHE_BYTES,
    segmentCacheMs: deps.segmentCacheMs ?? DEFAULT_SEGMENT_CACHE_MS,
    now,
  });

  const serveRecording = createRecordingServer({
    objects: deps.recordingObjects,
    recordings: deps.recordings,
    cacheMs: deps.recordingCacheMs ?? deps.routeCacheMs,
    maxBodyBytes: deps.maxBodyBytes ?? MAX_BUFFERED_BODY_BYTES,
    now,
    authorize,
  });

  const sampling = { logger: deps.logger, metrics: deps.metrics, sampleRate: deps.logSampleRate ?? 1, random: deps.random ?? Math.random };

  async function serve(req: OriginRequest, info: RequestInfo): Promise<OriginResponse> {
    const parsed = parseRequest(req, { streams: streams !== undefined }, info);
    if (parsed.kind === 'preflight') return preflightResponse();
    if (parsed.kind === 'streams') {
      return streamsResponse(streams!, parsed.head ? 'HEAD' : 'GET', CORS_HEADERS).catch((err: unknown) => {
        throw new HttpError(503, 'ServiceUnavailable', 'Stream listing failed', { cause: err });
      });
    }
    if (parsed.kind === 'recording') return serveRecording(parsed.target, parsed.token, parsed.head, info);
    const { target, token, head } = parsed;
    let route = await resolver.resolve(target.playbackId, info);
    // A private channel's thumbnail follows its playlists' rule: no valid token, no picture.
    const privatePlaylist = route.private === true && target.kind === 'playlist';
    if (privatePlaylist || (route.private === true && target.kind === 'thumbnail')) await authorize(target, token, info);
    let body: Buffer;
    try {
      body = await getBody(route, target, info);
    } catch (err) {
      if (!isTaskGone(err)) throw err;
      // The task is gone or going: read the route again, past the cache (one read for all viewers at once).
      resolver.forget(target.playbackId);
      let fresh: Route;
      try {
        fresh = await resolver.resolve(target.playbackId, info);
      } catch (again) {
        if (again instanceof NotFoundError) info.reresolved = 'gone';
        throw again;
      }
      if (sameRoute(fresh, route)) {
        info.reresolved = 'same';
        // Nothing listens where the table still points (the task died; its STOPPED event is on the way): the
        // stream is not served anywhere right now. A reset may be a task mid-restart: that stays a 502.
        if (isRefused(err)) throw new NotFoundError('Stream unavailable');
        throw err;
      }
      info.reresolved = 'moved';
      route = fresh;
      body = await getBody(route, target, info);
    }
    return fileResponse(target, body, { head, segmentSeconds: deps.segmentSeconds, ...(privatePlaylist && token !== undefined ? { token } : {}) });
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
    recordRequest(sampling, req, res, info, failure, Math.round((performance.now() - started) * 1000) / 1000);
    return res;
  };
}
