import type { Route } from '../../core/model';

/**
 * Playback ID → route, cached in memory for a short window (KEYFRAME_ROUTE_CACHE_MS, ~1 s). Both answers
 * are cached: a known route and "no such route", so a burst of requests for an unknown ID costs one read.
 * Concurrent look-ups of the same ID share one store call. Store errors are not cached.
 * Liveness (`expiresAt`) is not judged here: the caller checks it against its clock on every use.
 */

export interface RouteLookup {
  readonly route: Route | undefined;
  /** `hit`: served from the cache; `coalesced`: joined a look-up already in flight; `miss`: read the store. */
  readonly cache: 'hit' | 'miss' | 'coalesced';
}

export interface RouteCache {
  get(playbackId: string): Promise<RouteLookup>;
  /** Drops the cached answer for one ID (its task stopped answering), so the next `get` reads the store. */
  forget(playbackId: string): void;
  /** Number of cached entries (for tests and diagnostics). */
  readonly size: number;
}

export interface RouteCacheOptions {
  getRoute(playbackId: string): Promise<Route | undefined>;
  ttlMs: number;
  now?: () => number;
  /** Upper bound on cached IDs; the oldest entry goes first. */
  maxEntries?: number;
}

interface Entry {
  readonly route: Route | undefined;
  readonly at: number;
}

export function createRouteCache(opts: RouteCacheOptions): RouteCache {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Route | undefined>>();

  function remember(playbackId: string, route: Route | undefined): void {
    if (opts.ttlMs <= 0) return;
    entries.delete(playbackId); // re-insert at the end: Map order is age order
    entries.set(playbackId, { route, at: now() });
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
  }

  return {
    get size() {
      return entries.size;
    },
    forget(playbackId) {
      entries.delete(playbackId);
    },
    async get(playbackId) {
      const cached = entries.get(playbackId);
      if (cached) {
        if (now() - cached.at < opts.ttlMs) return { route: cached.route, cache: 'hit' };
        entries.delete(playbackId);
      }
      const pending = inflight.get(playbackId);
      if (pending) return { route: await pending, cache: 'coalesced' };

      // The executor runs now, so a synchronous throw becomes a rejection and the in-flight entry is set at once.
      const lookup = new Promise<Route | undefined>((resolve) => resolve(opts.getRoute(playbackId)));
      inflight.set(playbackId, lookup);
      lookup.then(
        (route) => {
          inflight.delete(playbackId);
          remember(playbackId, route);
        },
        () => inflight.delete(playbackId),
      );
      return { route: await lookup, cache: 'miss' };
    },
  };
}
