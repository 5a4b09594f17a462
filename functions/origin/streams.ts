import { isRouteLive, RECORDING_ID_PATTERN, type Channel, type Recording, type Route } from '../../core/model';
import type { ChannelStore, RecordingStore, RouteStore } from '../../core/store';
import { recordingPlaylistPath, recordingPosterPath, STREAMS_PATH, thumbnailPath } from '../../core/hls/paths';

/**
 * `GET /api/streams`: the public list of live channels, for the player's stream list page.
 *
 * It exposes only what a viewer may know anyway: the public playback ID, the channel's name, when the current
 * publish started, the stream's thumbnail URL and, on a recorded channel, the recording being written (its
 * `EVENT` playlist is the live rewind); and the newest recordings (up to `MAX_LISTED_RECORDINGS`) of public,
 * active channels, with their playlist and poster URLs. URLs are relative to the playback base. Never the key
 * hash (or anything derived from a key), the task ARN, host, port or session, and nothing of a private channel
 * or a recording made while its channel was private. Only routes that are live (`isRouteLive`) of channels
 * that are active are listed.
 *
 * The store calls scan (small tables; see `RouteStore.listRoutes`), so a warm origin answers from a ~1 s
 * memo with concurrent look-ups coalesced, and CloudFront caches the answer for 2 s. Recordings are read per
 * channel (one Query each), for at most `MAX_RECORDING_LOOKUPS` channels, `RECORDING_LOOKUP_CONCURRENCY` at a
 * time: live channels first, then recorded ones, then the newest.
 */

export { STREAMS_PATH };
export const CACHE_STREAMS = 'public, max-age=2';
export const DEFAULT_STREAMS_MEMO_MS = 1000;

/** Recordings in the list, newest first. */
export const MAX_LISTED_RECORDINGS = 12;
/** Channels whose recordings are read for one listing (one Query each). */
export const MAX_RECORDING_LOOKUPS = 24;
export const RECORDING_LOOKUP_CONCURRENCY = 4;

/** Without `listRecordingsOfChannel` the list has no recordings (`recordings: []`). */
export type StreamListing = Pick<RouteStore, 'listRoutes'> &
  Pick<ChannelStore, 'listChannels'> &
  Partial<Pick<RecordingStore, 'listRecordingsOfChannel'>>;

export interface PublicStream {
  readonly playbackId: string;
  readonly name: string;
  /** When the current publish started, ISO 8601 (UTC). */
  readonly startedAt: string;
  /** `/<playbackId>/thumbnail.jpg`: the stream's current picture. */
  readonly thumbnailUrl: string;
  /** A recorded channel: the recording this publish writes, whose playlist is the live rewind. */
  readonly recording?: { readonly id: string; readonly playbackUrl: string };
}

export interface PublicRecording {
  readonly id: string;
  readonly playbackId: string;
  /** The channel's name. */
  readonly channel: string;
  readonly state: Recording['state'];
  /** ISO 8601 (UTC). */
  readonly startedAt: string;
  /** ISO 8601 (UTC); absent while recording. */
  readonly endedAt?: string;
  readonly durationSeconds: number;
  /** `/recordings/<playbackId>/<id>/index.m3u8`. */
  readonly playbackUrl: string;
  /** `/recordings/<playbackId>/<id>/poster.jpg`. */
  readonly posterUrl: string;
}

export interface StreamsBody {
  readonly streams: PublicStream[];
  readonly recordings: PublicRecording[];
}

/** Active channels that are not private: the only ones listed, whichever side says so. */
function publicChannels(channels: readonly Channel[]): Map<string, Channel> {
  const active = new Map<string, Channel>();
  for (const ch of channels) if (ch.state === 'active' && !ch.private) active.set(ch.playbackId, ch);
  return active;
}

/** The join, newest publish first. Pure: exported for tests. */
export function liveStreams(routes: readonly Route[], channels: readonly Channel[], now: number): PublicStream[] {
  // Private channels (signed playback) are never advertised, whichever side says so.
  const active = publicChannels(channels);
  const out: Array<PublicStream & { at: number }> = [];
  const seen = new Set<string>();
  for (const r of routes) {
    const ch = active.get(r.playbackId);
    if (!ch || r.private || !isRouteLive(r, now) || seen.has(r.playbackId)) continue;
    seen.add(r.playbackId);
    const at = Number.isFinite(r.startedAt) ? r.startedAt : now;
    // Pick fields one by one: nothing else of the route or channel can leak into the body.
    const recordingId = typeof r.recordingId === 'string' && RECORDING_ID_PATTERN.test(r.recordingId) ? r.recordingId : undefined;
    out.push({
      playbackId: ch.playbackId,
      name: ch.name,
      startedAt: new Date(at).toISOString(),
      thumbnailUrl: thumbnailPath(ch.playbackId),
      ...(recordingId ? { recording: { id: recordingId, playbackUrl: recordingPlaylistPath(ch.playbackId, recordingId) } } : {}),
      at,
    });
  }
  out.sort((a, b) => b.at - a.at || a.name.localeCompare(b.name));
  return out.map(({ at: _at, ...stream }) => stream);
}

/**
 * The channels whose recordings one listing reads, at most `limit`: those live now (newest publish first), then
 * those that record, then the rest, newest channel first. Pure: exported for tests.
 */
export function recordingLookupOrder(routes: readonly Route[], channels: readonly Channel[], now: number, limit = MAX_RECORDING_LOOKUPS): Channel[] {
  const active = publicChannels(channels);
  const liveAt = new Map<string, number>();
  for (const r of routes) if (active.has(r.playbackId) && !r.private && isRouteLive(r, now)) liveAt.set(r.playbackId, r.startedAt);
  const rank = (ch: Channel) => (liveAt.has(ch.playbackId) ? 0 : ch.record ? 1 : 2);
  return [...active.values()]
    .sort((a, b) => rank(a) - rank(b) || (liveAt.get(b.playbackId) ?? 0) - (liveAt.get(a.playbackId) ?? 0) || b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit);
}

/** The newest recordings of these channels, public fields only. Pure: exported for tests. */
export function publicRecordings(channels: readonly Channel[], recordings: readonly Recording[], limit = MAX_LISTED_RECORDINGS): PublicRecording[] {
  const byId = publicChannels(channels);
  const seen = new Set<string>();
  const kept: Array<{ r: Recording; ch: Channel }> = [];
  for (const r of recordings) {
    const ch = byId.get(r.playbackId);
    // Made while the channel was private, or nothing kept: never listed.
    if (!ch || r.private === true || r.state === 'failed' || seen.has(r.id) || !RECORDING_ID_PATTERN.test(r.id)) continue;
    seen.add(r.id);
    kept.push({ r, ch });
  }
  kept.sort((a, b) => b.r.startedAt - a.r.startedAt || b.r.id.localeCompare(a.r.id));
  return kept.slice(0, limit).map(({ r, ch }) => ({
    id: r.id,
    playbackId: ch.playbackId,
    channel: ch.name,
    state: r.state,
    startedAt: new Date(r.startedAt).toISOString(),
    ...(r.endedAt !== undefined && Number.isFinite(r.endedAt) ? { endedAt: new Date(r.endedAt).toISOString() } : {}),
    durationSeconds: Math.round(r.durationSeconds * 1000) / 1000,
    playbackUrl: recordingPlaylistPath(ch.playbackId, r.id),
    posterUrl: recordingPosterPath(ch.playbackId, r.id),
  }));
}

/** Maps `items` through `fn`, `concurrency` at a time, in order. */
async function mapBounded<T, U>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<U>): Promise<U[]> {
  const out: U[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
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
        .then(async ([routes, channels]) => {
          const at = now();
          const listRecordings = listing.listRecordingsOfChannel?.bind(listing);
          const recorded = listRecordings
            ? (
                await mapBounded(recordingLookupOrder(routes, channels, at), RECORDING_LOOKUP_CONCURRENCY, (ch) => listRecordings(ch.playbackId))
              ).flat()
            : [];
          const body: StreamsBody = { streams: liveStreams(routes, channels, at), recordings: publicRecordings(channels, recorded) };
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
