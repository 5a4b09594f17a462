import { HttpError, NotFoundError } from '../../../core/errors';
import { isRouteLive, type Route } from '../../../core/model';
import type { RouteStore } from '../../../core/store';
import { createRouteCache, type RouteLookup } from '../route-cache';
import type { RequestInfo } from './types';

export interface Resolver {
  /** Stage 2, resolve: playback ID → a live route (cached, coalesced); 404 when there is none, 503 when the store fails. */
  resolve(playbackId: string, info: RequestInfo): Promise<Route>;
  /** Drop the cached route of a task that stopped answering, so the next resolve reads the table. */
  forget(playbackId: string): void;
}

export function createResolver(opts: {
  readonly routes: Pick<RouteStore, 'getRoute'>;
  readonly ttlMs: number;
  readonly now: () => number;
}): Resolver {
  const cache = createRouteCache({ getRoute: (id) => opts.routes.getRoute(id), ttlMs: opts.ttlMs, now: opts.now });
  return {
    async resolve(playbackId, info) {
      let lookup: RouteLookup;
      try {
        lookup = await cache.get(playbackId);
      } catch (err) {
        throw new HttpError(503, 'ServiceUnavailable', 'Route lookup failed', { cause: err });
      }
      info.routeCache = lookup.cache;
      if (!lookup.route || !isRouteLive(lookup.route, opts.now())) throw new NotFoundError('Unknown or ended stream');
      return lookup.route;
    },
    forget: (playbackId) => cache.forget(playbackId),
  };
}

/** Whether two routes point at the same task session (same address and publish session). */
export function sameRoute(a: Route, b: Route): boolean {
  return a.host === b.host && a.port === b.port && a.session === b.session && a.taskArn === b.taskArn;
}
