/**
 * The live media playlist as a pure function of state (RFC 8216, and its LL-HLS extension in
 * draft-pantos-hls-rfc8216bis): never edited as text. With `lowLatency`, the parts of the last few segments and
 * of the open one are listed (EXT-X-PART), with EXT-X-PART-INF, EXT-X-SERVER-CONTROL and EXT-X-PRELOAD-HINT; a
 * player without LL-HLS support ignores those tags and sees the same segments as before.
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

/** The segment being written: only its parts exist yet. */
export interface OpenPlaylistSegment {
  readonly msn: number;
  /** The segment's URI once complete (parts are named after it, see `partUri`). */
  readonly uri: string;
  readonly programDateTimeMs: number;
  readonly discontinuity: boolean;
  readonly discontinuitySequence: number;
  readonly initUri: string;
  readonly parts: readonly PartInfo[];
}

/** What LL-HLS adds to the state. */
export interface LowLatencyState {
  /** PART-TARGET, s: no part is longer (the packager's `fragmentSeconds`). */
  readonly partTarget: number;
  /** How many of the newest complete segments list their parts. @default 3 */
  readonly partSegments?: number;
  /** The segment being written, if any part of it exists. */
  readonly open?: OpenPlaylistSegment;
  /** URI of the next part to be written (EXT-X-PRELOAD-HINT); omitted once the stream has ended. */
  readonly preloadHint?: string;
}

export interface MediaPlaylistState {
  /** Integer seconds; must never change during a session. */
  readonly targetDuration: number;
  /** The window, oldest first. */
  readonly segments: readonly PlaylistSegment[];
  readonly ended: boolean;
  /** True only if every segment of the session so far started with a keyframe. */
  readonly independentSegments: boolean;
  /** LL-HLS tags; absent: a plain RFC 8216 playlist. */
  readonly lowLatency?: LowLatencyState;
}

/**
 * A part's URI: `<session>_<msn>.<index>.m4s` for the segment `<session>_<msn>.m4s` (core/hls/paths.ts admits
 * that shape as a `part`). Its bytes are the segment's bytes in the part's byte range.
 */
export function partUri(segmentUri: string, index: number): string {
  return segmentUri.replace(/\.m4s$/, `.${index}.m4s`);
}

/** Decimal seconds, at most 3 decimals, no trailing zeros. */
function seconds(x: number): string {
  return String(Number(x.toFixed(3)));
}

/**
 * Protocol version 6: EXT-X-MAP in a playlist without EXT-X-I-FRAMES-ONLY needs 6 (RFC 8216 §7); fractional
 * EXTINF needs 3. The LL-HLS tags need no higher version; only delta updates (EXT-X-SKIP, version 9) would,
 * and they are not served (docs/ll-hls.md).
 */
export const PLAYLIST_VERSION = 6;

/** Renders the media playlist. */
export function renderMediaPlaylist(state: MediaPlaylistState): string {
  const ll = state.lowLatency;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${PLAYLIST_VERSION}`, `#EXT-X-TARGETDURATION:${state.targetDuration}`];
  if (ll) {
    // HOLD-BACK ≥ 3 target durations and PART-HOLD-BACK ≥ 2 part targets are required; 3 part targets is the
    // recommended value, and what hls.js and Safari sit behind the live edge in low-latency mode.
    const holdBack = seconds(3 * state.targetDuration);
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(3 * ll.partTarget)},HOLD-BACK=${holdBack}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${seconds(ll.partTarget)}`);
  }
  const first = state.segments[0] ?? ll?.open;
  if (first) {
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first.msn}`);
    lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${first.discontinuitySequence - (first.discontinuity ? 1 : 0)}`);
  }
  if (state.independentSegments && state.segments.length > 0) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  let init: string | undefined;
  const head = (s: PlaylistSegment | OpenPlaylistSegment): void => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.initUri !== init) {
      lines.push(`#EXT-X-MAP:URI="${s.initUri}"`);
      init = s.initUri;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(Math.round(s.programDateTimeMs)).toISOString()}`);
  };
  const parts = (s: PlaylistSegment | OpenPlaylistSegment): void => {
    s.parts.forEach((p, i) => {
      lines.push(`#EXT-X-PART:DURATION=${seconds(p.duration)},URI="${partUri(s.uri, i)}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
    });
  };
  const withParts = state.segments.length - (ll?.partSegments ?? 3);
  state.segments.forEach((s, i) => {
    head(s);
    if (ll && i >= withParts) parts(s);
    lines.push(`#EXTINF:${s.duration.toFixed(3)},`);
    lines.push(s.uri);
  });
  if (ll?.open && !state.ended) {
    head(ll.open);
    parts(ll.open);
  }
  if (ll?.preloadHint && !state.ended) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${ll.preloadHint}"`);
  if (state.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
