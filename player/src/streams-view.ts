import { formatClock } from './timeline';
import { fillLink, PLAYBACK_ID, RECORDING_ID, recordingFromPlaybackUrl, resolveUrl } from './urls';

/**
 * What the stream list page shows, from the body of `GET /api/streams`: pure (no DOM), so Node tests check it.
 * The body is read defensively: an older origin has no thumbnails and no recordings, and any entry with a
 * malformed field is left out rather than breaking the page.
 */

export interface LiveCard {
  readonly playbackId: string;
  readonly name: string;
  readonly href: string;
  /** `live for 3 min`. */
  readonly meta: string;
  /** The current JPEG, absolute; re-fetched every THUMBNAIL_REFRESH_MS at the same URL. */
  readonly thumbnail?: string;
  /** The live session is recorded: viewers can rewind it. */
  readonly recorded: boolean;
}

export type RecordingCardState = 'recording' | 'ready' | 'incomplete';

export interface RecordingCard {
  readonly id: string;
  readonly playbackId: string;
  readonly title: string;
  readonly href: string;
  readonly state: RecordingCardState;
  readonly poster?: string;
  /** `12:34`, from durationSeconds; `LIVE` while recording (the stored duration is only updated now and then). */
  readonly duration: string;
  /** `2030-01-01 12:00 · incomplete`. */
  readonly meta: string;
}

export interface ListView {
  readonly live: LiveCard[];
  readonly recordings: RecordingCard[];
}

export interface ListLinks {
  /** `/watch/{id}` (local) or `/watch/index.html?v={id}` (CloudFront). */
  readonly playerLink: string;
  /** The same page with the recording: `…{id}…recording={recording}`. */
  readonly replayLink: string;
  /** The playback base the API's relative URLs are under (the page's origin by default). */
  readonly base: string;
}

/** How many recordings the "Recent recordings" section shows. */
export const RECENT_RECORDINGS = 12;
/** How often the page re-fetches a live thumbnail (the same URL; its short max-age decides what is new). */
export const THUMBNAIL_REFRESH_MS = 10_000;

/** `live for 42 s`, `live for 3 min`, `live for 1 h 5 min`. */
export function since(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `live for ${s} s`;
  if (s < 3600) return `live for ${Math.floor(s / 60)} min`;
  return `live for ${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** An ISO 8601 string or epoch ms: epoch ms, or undefined. */
function toMs(v: unknown): number | undefined {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** `2030-01-01 12:00` in UTC: the same for every viewer and test. */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export function listView(body: unknown, links: ListLinks, now: number): ListView {
  const b = isObject(body) ? body : {};
  const live: LiveCard[] = [];
  const names = new Map<string, string>();
  for (const s of Array.isArray(b.streams) ? b.streams : []) {
    if (!isObject(s) || typeof s.playbackId !== 'string' || !PLAYBACK_ID.test(s.playbackId)) continue;
    const name = typeof s.name === 'string' && s.name ? s.name : s.playbackId;
    names.set(s.playbackId, name);
    const thumbnail = resolveUrl(s.thumbnailUrl, links.base);
    const recorded = isObject(s.recording) && recordingFromPlaybackUrl(s.recording.playbackUrl) !== undefined;
    live.push({
      playbackId: s.playbackId,
      name,
      href: fillLink(links.playerLink, s.playbackId),
      meta: typeof s.startedAt === 'string' ? since(s.startedAt, now) : '',
      ...(thumbnail ? { thumbnail } : {}),
      recorded,
    });
  }
  const recordings: Array<RecordingCard & { at: number }> = [];
  for (const r of Array.isArray(b.recordings) ? b.recordings : []) {
    if (!isObject(r) || typeof r.id !== 'string' || !RECORDING_ID.test(r.id)) continue;
    if (typeof r.playbackId !== 'string' || !PLAYBACK_ID.test(r.playbackId)) continue;
    // A failed recording has nothing to play; an unknown state (a newer origin) is not guessed at.
    if (r.state !== 'recording' && r.state !== 'ready' && r.state !== 'incomplete') continue;
    const at = toMs(r.startedAt);
    const poster = resolveUrl(r.posterUrl, links.base);
    const seconds = typeof r.durationSeconds === 'number' && Number.isFinite(r.durationSeconds) ? r.durationSeconds : 0;
    const title = typeof r.channel === 'string' && r.channel ? r.channel : (names.get(r.playbackId) ?? r.playbackId);
    const notes = [at === undefined ? '' : formatDate(at), r.state === 'recording' ? 'live now' : r.state === 'incomplete' ? 'incomplete' : '']
      .filter(Boolean)
      .join(' · ');
    recordings.push({
      id: r.id,
      playbackId: r.playbackId,
      title,
      href: fillLink(links.replayLink, r.playbackId, r.id),
      state: r.state,
      ...(poster ? { poster } : {}),
      duration: r.state === 'recording' ? 'LIVE' : formatClock(seconds),
      meta: notes,
      at: at ?? 0,
    });
  }
  recordings.sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1));
  return { live, recordings: recordings.slice(0, RECENT_RECORDINGS).map(({ at: _at, ...card }) => card) };
}
