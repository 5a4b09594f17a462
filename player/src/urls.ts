/**
 * The URLs the pages build: live playlists, recordings (playlist, poster), thumbnails, links between the pages,
 * and the playback token of private channels on each. Pure: runs in the page and in Node tests.
 *
 * Private channels: the page is opened with `?token=<exp>.<sig>` (docs/player.md), and passes it on to every
 * playlist (the live one and the recording's), the recording's poster and the live thumbnail. Segments need
 * none.
 */

export const PLAYBACK_ID = /^[A-Za-z0-9]{12}$/;
/** A recording id (core/model.ts newRecordingId): the start time in base36 and 7 random characters. */
export const RECORDING_ID = /^[a-z0-9]{16}$/;
export const PLAYBACK_TOKEN = /^[0-9]{1,12}\.[A-Za-z0-9_-]{43}$/;

/** The page's playback token, when it has a well-formed one. */
export function tokenFromSearch(search: string): string | undefined {
  const token = new URLSearchParams(search).get('token');
  return token && PLAYBACK_TOKEN.test(token) ? token : undefined;
}

/** `url` with `?token=` (or `&token=`) added; unchanged without a token. */
export function withToken(url: string, token: string | undefined): string {
  if (!token) return url;
  const hash = url.indexOf('#');
  const head = hash === -1 ? url : url.slice(0, hash);
  const tail = hash === -1 ? '' : url.slice(hash);
  return `${head}${head.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}${tail}`;
}

/**
 * A URL the API gave (relative to the playback base, e.g. `/<pid>/thumbnail.jpg`), made absolute. Only http(s)
 * URLs are accepted: anything else (a `javascript:` URL, garbage) gives undefined.
 */
export function resolveUrl(url: unknown, base: string): string | undefined {
  if (typeof url !== 'string' || url === '') return undefined;
  try {
    const u = new URL(url.startsWith('/') && !url.startsWith('//') ? `${base.replace(/\/$/, '')}${url}` : url, `${base}/`);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function livePlaylistUrl(base: string, playbackId: string, token?: string): string {
  return withToken(`${base}/${playbackId}/index.m3u8`, token);
}

/** The live stream's current JPEG (a stable URL with a short cache). */
export function thumbnailUrl(base: string, playbackId: string, token?: string): string {
  return withToken(`${base}/${playbackId}/thumbnail.jpg`, token);
}

export interface RecordingRef {
  readonly playbackId: string;
  readonly recordingId: string;
}

/** `/recordings/<pid>/<id>/`: a recording's folder under the playback base (docs/recording.md). */
function recordingFolder(base: string, ref: RecordingRef): string {
  return `${base}/recordings/${ref.playbackId}/${ref.recordingId}/`;
}

export function recordingPlaylistUrl(base: string, ref: RecordingRef, token?: string): string {
  return withToken(`${recordingFolder(base, ref)}index.m3u8`, token);
}

export function recordingPosterUrl(base: string, ref: RecordingRef, token?: string): string {
  return withToken(`${recordingFolder(base, ref)}poster.jpg`, token);
}

/**
 * The recording a player page is asked to play: `?recording=<playbackId>/<recordingId>`, or
 * `?recording=<recordingId>` with the playback ID from the page's own address (`/watch/<pid>`, `?v=<pid>`).
 */
export function recordingFromSearch(search: string, playbackId: string | undefined): RecordingRef | undefined {
  const value = new URLSearchParams(search).get('recording');
  if (!value) return undefined;
  const slash = value.indexOf('/');
  const pid = slash === -1 ? playbackId : value.slice(0, slash);
  const rid = slash === -1 ? value : value.slice(slash + 1);
  if (!pid || !PLAYBACK_ID.test(pid) || !RECORDING_ID.test(rid)) return undefined;
  if (playbackId && pid !== playbackId) return undefined;
  return { playbackId: pid, recordingId: rid };
}

/** A recording's id and playback ID from its playback URL (`…/recordings/<pid>/<id>/index.m3u8`). */
export function recordingFromPlaybackUrl(url: unknown): RecordingRef | undefined {
  if (typeof url !== 'string') return undefined;
  const m = /\/recordings\/([A-Za-z0-9]{12})\/([a-z0-9]{16})\/index\.m3u8(?:[?#].*)?$/.exec(url);
  return m ? { playbackId: m[1], recordingId: m[2] } : undefined;
}

/** The list page's links: `{id}` is the playback ID, `{recording}` the recording id (both URL-encoded). */
export function fillLink(template: string, playbackId: string, recordingId?: string): string {
  return template.replace(/\{id\}/g, encodeURIComponent(playbackId)).replace(/\{recording\}/g, encodeURIComponent(recordingId ?? ''));
}

/** The replay link template for a player link template: the same page with `recording={recording}` added. */
export function replayTemplate(playerLink: string): string {
  return `${playerLink}${playerLink.includes('?') ? '&' : '?'}recording={recording}`;
}
