/**
 * Cache-Control per response type (docs/architecture.md): CloudFront and players obey these, so they decide
 * how often a playlist reaches the origin and that segments reach it once.
 */

export const CACHE_SEGMENT = 'public, max-age=1209600, immutable';
export const CACHE_MULTIVARIANT = 'public, max-age=2';
/**
 * An LL-HLS media playlist (it has `#EXT-X-PART-INF`): about a second (AWS's LL-HLS CDN guidance), never
 * `no-cache`, so viewers asking the same blocking reload share one origin request and the live edge stays fresh.
 */
export const CACHE_LL_PLAYLIST = 'public, max-age=1';
/**
 * A live stream's thumbnail (`/<playbackId>/thumbnail.jpg`): replaced every few seconds (10 s by default), so a
 * short cache keeps it current while one origin request serves every viewer of the stream list.
 */
export const CACHE_THUMBNAIL = 'public, max-age=5';
/**
 * Recordings, when the object in the bucket has no Cache-Control of its own (the recorder sets one on each):
 * the live `EVENT` playlist grows with every segment, so it is short; the `VOD` playlist (`#EXT-X-ENDLIST`)
 * changes only if the recording is deleted; segments, inits and posters are written once.
 */
export const CACHE_RECORDING_EVENT_PLAYLIST = 'public, max-age=1';
export const CACHE_RECORDING_VOD_PLAYLIST = 'public, max-age=60';
export const CACHE_RECORDING_POSTER = 'public, max-age=86400';
export const CACHE_RECORDING_SEGMENT = CACHE_SEGMENT;

/** A playlist that will not change any more: `#EXT-X-ENDLIST`. */
export function isEndedPlaylist(playlist: string): boolean {
  return /^#EXT-X-ENDLIST[ \t]*\r?$/m.test(playlist);
}

/** 4xx: cached about a second so a burst of bad or early requests does not all reach the origin. */
export const CACHE_CLIENT_ERROR = 'public, max-age=1';
/** 5xx: never cached, so the next request retries. */
export const CACHE_NO_STORE = 'no-store';

/** max(1, floor(targetDuration / 2)) seconds. */
export function mediaPlaylistMaxAge(targetDurationSeconds: number): number {
  if (!Number.isFinite(targetDurationSeconds)) return 1;
  return Math.max(1, Math.floor(targetDurationSeconds / 2));
}

/** The playlist's own `#EXT-X-TARGETDURATION`, or undefined if absent or malformed. */
export function parseTargetDuration(playlist: string): number | undefined {
  const m = /^#EXT-X-TARGETDURATION:[ \t]*(\d+)[ \t]*\r?$/m.exec(playlist);
  return m ? Number(m[1]) : undefined;
}

/** A media playlist with LL-HLS parts (`#EXT-X-PART-INF`). */
export function isLowLatencyPlaylist(playlist: string): boolean {
  return /^#EXT-X-PART-INF:/m.test(playlist);
}

export function isMultivariantPlaylist(playlist: string): boolean {
  return /^#EXT-X-STREAM-INF:/m.test(playlist);
}

/**
 * Cache-Control for a playlist body. A multivariant playlist gets 2 s; an LL-HLS media playlist 1 s; a media
 * playlist half its target duration, falling back to the configured segment duration when the tag is missing.
 */
export function playlistCacheControl(playlist: string, fallbackSegmentSeconds: number): string {
  if (isMultivariantPlaylist(playlist)) return CACHE_MULTIVARIANT;
  if (isLowLatencyPlaylist(playlist)) return CACHE_LL_PLAYLIST;
  const target = parseTargetDuration(playlist) ?? Math.ceil(fallbackSegmentSeconds);
  return `public, max-age=${mediaPlaylistMaxAge(target)}`;
}

export function errorCacheControl(statusCode: number): string {
  return statusCode >= 500 ? CACHE_NO_STORE : CACHE_CLIENT_ERROR;
}
