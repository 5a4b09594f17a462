import { isRouteLive, type Channel, type Route } from '../../core/model';
import type { ChannelStore, RouteStore } from '../../core/store';
import { STREAMS_PATH } from '../../core/hls/paths';

/**
 * `GET /api/streams`: the public list of live channels, for the player's stream list page.
 *
 * It exposes only what a viewer may know anyway: the public playback ID, the channel's name and when the
 * current publish started. Never the key hash (or anything derived from a key), the task ARN, host, port or
 * session. Only routes that are live (`isRouteLive`) of channels that are active are listed.
 *
 * The store calls scan (small tables; see `RouteStore.listRoutes`), so a warm origin answers from a ~1 s
 * memo with concurrent look-ups coalesced, and CloudFront caches the answer for 2 s.
 */

export { STREAMS_PATH };
export const CACHE_STREAMS = 'public, max-age=2';
export const DEFAULT_STREAMS_MEMO_MS = 1000;

export type StreamListing = Pick<RouteStore, 'listRoutes'> & Pick<ChannelStore, 'listChannels'>;

export interface PublicStream {
  readonly playbackId: string;
  readonly name: string;
  /** When the current publish started, ISO 8601 (UTC). */
  readonly startedAt: string;
}

export interface StreamsBody {
  readonly streams: PublicStream[];
}

/** The join, newest publish first. Pure: exported for tests. */
export function liveStreams(routes: readonly Route[], channels: readonly Channel[], now: number): PublicStream[] {
  const active = new Map<string, Channel>();
  // Private channels (signed playback) are never advertised, whichever side says so.
  for (const ch of channels) if (ch.state === 'active' && !ch.private) active.set(ch.playbackId, ch);
  const out: Array<PublicStream & { at: number }> = [];
  const seen = new Set<string>();
  for (const r of routes) {
    const ch = active.get(r.playbackId);
    if (!ch || r.private || !isRouteLive(r, now) || seen.has(r.playbackId)) continue;
    seen.add(r.playbackId);
    const at = Number.isFinite(r.startedAt) ? r.startedAt : now;
    // Pick fields one by one: nothing else of the route or channel can leak into the body.
    out.push({ playbackId: ch.playbackId, name: ch.name, startedAt: new Date(at).toISOString(), at });
  }
  out.sort((a, b) => b.at - a.at || a.name.localeCompare(b.name));
  return out.map(({ playbackId, name, startedAt }) => ({ playbackId, name, startedAt }));
}

export interface StreamLister {
  list(): Promise<StreamsBody>;
}

/** The listing over the store, memoized for `memoMs` with concurrent calls sharing one look-up. */
export function createStreamLister(listing: StreamListing, opts: { now?: () => number; memoMs?: number } = {}): StreamLister {
  const now = opts.now ?? Date.now;
  const memoMs = opts.memoMs ?? DEFAULT_STREAMS_MEMO_MS;
  let cached: { at: number; body: StreamsBody } | undefined;
  let pending: Promise<StreamsBody> | undefined;
  return {
    list() {
      if (cached && now() - cached.at < memoMs) return Promise.resolve(cached.body);
      if (pending) return pending;
      const started = now();
      pending = Promise.all([listing.listRoutes(), listing.listChannels()])
        .then(([routes, channels]) => {
          const body = { streams: liveStreams(routes, channels, now()) };
          cached = { at: started, body };
          return body;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

/** The 200 answer for `GET|HEAD /api/streams`. */
export async function streamsResponse(
  lister: StreamLister,
  method: string,
  cors: Readonly<Record<string, string>>,
): Promise<{ statusCode: number; headers: Record<string, string>; body: Buffer }> {
  const body = await lister.list();
  return {
    statusCode: 200,
    headers: { ...cors, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': CACHE_STREAMS },
    body: method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)),
  };
}
