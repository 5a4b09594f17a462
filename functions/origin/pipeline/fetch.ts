import { BadGatewayError, BadRequestError, GatewayTimeoutError, HttpError, NotFoundError } from '../../../core/errors';
import { type OriginPath, upstreamPath } from '../../../core/hls/paths';
import type { Route } from '../../../core/model';
import type { OriginMetrics } from '../metrics';
import { SegmentCache } from '../segment-cache';
import { UpstreamError, type FetchUpstream } from '../upstream';
import type { UpstreamGuard } from '../upstream-guard';
import type { RequestInfo } from './types';

export interface BodyFetcherOptions {
  readonly fetchUpstream: FetchUpstream;
  readonly upstreamGuard?: UpstreamGuard;
  readonly metrics: OriginMetrics;
  readonly upstreamTimeoutMs: number;
  /**
   * The longest a task holds a blocking request (LL-HLS playlist reload or preload-hint part) before answering;
   * such requests get `upstreamTimeoutMs` on top of it. @default 0
   */
  readonly blockingHoldMs?: number;
  readonly maxBodyBytes: number;
  readonly segmentCacheBytes: number;
  readonly segmentCacheMs: number;
  readonly now: () => number;
}

/** Nothing listened at the task's address (ECONNREFUSED). */
export function isRefused(err: unknown): boolean {
  const cause = err instanceof HttpError ? err.cause : err;
  return cause instanceof UpstreamError && cause.kind === 'refused';
}

/** The task did not take the connection, or dropped it: it is gone or going, and its route may be stale. */
export function isTaskGone(err: unknown): boolean {
  const cause = err instanceof HttpError ? err.cause : err;
  return cause instanceof UpstreamError && (cause.kind === 'refused' || cause.kind === 'reset');
}

/**
 * Stage 4, fetch: the body of one file from the route's task. Segments come from the segment cache when they
 * can; identical fetches in flight are shared (playlists too); every failure maps to a 404, 502 or 504 that
 * carries its cause. A route the upstream guard refuses is never connected to.
 */
export function createBodyFetcher(opts: BodyFetcherOptions) {
  const segments = new SegmentCache({ maxBytes: opts.segmentCacheBytes, ttlMs: opts.segmentCacheMs, now: opts.now });
  const inflight = new Map<string, Promise<Buffer>>();

  function guard(route: Route, target: OriginPath): void {
    if (!opts.upstreamGuard) return;
    try {
      opts.upstreamGuard.check(route, target.playbackId);
    } catch (err) {
      opts.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream refused', { cause: err });
    }
  }

  async function fetchFromTask(route: Route, target: OriginPath): Promise<Buffer> {
    const maxBytes = opts.maxBodyBytes;
    let res: Awaited<ReturnType<FetchUpstream>>;
    try {
      res = await opts.fetchUpstream({
        host: route.host,
        port: route.port,
        path: upstreamPath(target),
        // A blocking playlist reload and a part request (a preload hint names a part not written yet) are held.
        timeoutMs: opts.upstreamTimeoutMs + (target.blocking || target.kind === 'part' ? (opts.blockingHoldMs ?? 0) : 0),
        maxBytes,
      });
    } catch (err) {
      opts.metrics.count('UpstreamFailures');
      throw toUpstreamHttpError(err);
    }
    if (res.statusCode === 404) throw new NotFoundError('No such file');
    // LL-HLS: the task refuses a reload too far ahead of the stream (the spec's 400); the viewer gets that 400.
    if (res.statusCode === 400 && target.blocking) throw new BadRequestError('Blocking reload too far ahead');
    if (res.statusCode !== 200) {
      opts.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream failed', { cause: new UpstreamError('failed', `upstream answered ${res.statusCode}`) });
    }
    if (res.body.length > maxBytes) {
      opts.metrics.count('UpstreamFailures');
      throw new BadGatewayError('Upstream body too large', {
        cause: new UpstreamError('too-large', `upstream body of ${res.body.length} bytes exceeds ${maxBytes}`),
      });
    }
    return res.body;
  }

  return async function getBody(route: Route, target: OriginPath, info: RequestInfo): Promise<Buffer> {
    guard(route, target);
    // Viewers blocked on the same msn/part share one upstream request: the canonical query is part of the key.
    const key = `${route.host}:${route.port}${upstreamPath(target)}`;
    // Segments, parts and inits never change; playlists and the thumbnail do, so they are never kept here.
    const immutable = target.kind === 'segment' || target.kind === 'part' || target.kind === 'init';
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
  };
}

function toUpstreamHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const timedOut =
    (err instanceof UpstreamError && err.kind === 'timeout') || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
  if (timedOut) return new GatewayTimeoutError('Upstream timed out', { cause: err });
  if (err instanceof UpstreamError && err.kind === 'too-large') return new BadGatewayError('Upstream body too large', { cause: err });
  return new BadGatewayError('Upstream failed', { cause: err });
}
