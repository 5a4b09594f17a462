/**
 * The live media playlist as a pure function of state (RFC 8216): never edited as text. LL-HLS (EXT-X-PART,
 * PART-INF, SERVER-CONTROL, PRELOAD-HINT) can be added here from `PlaylistSegment.parts` without new state.
 */

/** One fragment of a segment (an LL-HLS part later). */
export interface PartInfo {
  /** Seconds, on the leading track's decode timeline. */
  readonly duration: number;
  /** Starts with a keyframe (or is audio-only). */
  readonly independent: boolean;
  /** Byte range of this fragment inside its segment. */
  readonly offset: number;
  readonly length: number;
}

/** What the playlist needs to know about one segment. */
export interface PlaylistSegment {
  readonly msn: number;
  readonly uri: string;
  /** Seconds. */
  readonly duration: number;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms. */
  readonly programDateTimeMs: number;
  /** An `EXT-X-DISCONTINUITY` precedes this segment. */
  readonly discontinuity: boolean;
  /** Discontinuity sequence number of this segment (counting a tag on it). */
  readonly discontinuitySequence: number;
  /** URI of the init segment (EXT-X-MAP) this segment needs. */
  readonly initUri: string;
  readonly independent: boolean;
  readonly parts: readonly PartInfo[];
}

export interface MediaPlaylistState {
  /** Integer seconds; must never change during a session. */
  readonly targetDuration: number;
  /** The window, oldest first. */
  readonly segments: readonly PlaylistSegment[];
  readonly ended: boolean;
  /** True only if every segment of the session so far started with a keyframe. */
  readonly independentSegments: boolean;
}

/**
 * Protocol version 6: EXT-X-MAP in a playlist without EXT-X-I-FRAMES-ONLY needs 6 (RFC 8216 §7); fractional
 * EXTINF needs 3. LL-HLS will raise it when it adds its tags.
 */
export const PLAYLIST_VERSION = 6;

/** Renders the media playlist. */
export function renderMediaPlaylist(state: MediaPlaylistState): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${PLAYLIST_VERSION}`, `#EXT-X-TARGETDURATION:${state.targetDuration}`];
  const first = state.segments[0];
  if (first) {
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first.msn}`);
    lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${first.discontinuitySequence - (first.discontinuity ? 1 : 0)}`);
  }
  if (state.independentSegments && first) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  let init: string | undefined;
  for (const s of state.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.initUri !== init) {
      lines.push(`#EXT-X-MAP:URI="${s.initUri}"`);
      init = s.initUri;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(Math.round(s.programDateTimeMs)).toISOString()}`);
    lines.push(`#EXTINF:${s.duration.toFixed(3)},`);
    lines.push(s.uri);
  }
  if (state.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
