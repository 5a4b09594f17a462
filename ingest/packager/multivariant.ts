/**
 * The multivariant playlist of a ladder channel (RFC 8216 §4.3.4, and its successor draft): one
 * `EXT-X-STREAM-INF` per variant (the source's passthrough first, then each transcoded rung), with what was
 * measured of it. And the LL-HLS rendition reports each media playlist carries about the others.
 */

export interface VariantInfo {
  /** Rendition playlist name without `.m3u8`: `source`, `720p`, … */
  readonly name: string;
  /** Peak bitrate of a segment in the window (bits/s), audio included: BANDWIDTH. */
  readonly peakBps: number;
  /** Mean bitrate over the window (bits/s): AVERAGE-BANDWIDTH. */
  readonly averageBps: number;
  readonly width?: number;
  readonly height?: number;
  readonly frameRate?: number;
  /** RFC 6381 codec strings of its tracks. */
  readonly codecs: readonly string[];
}

/** HLS version of the multivariant playlist (no feature here needs more than 6; the media playlists say their own). */
const VERSION = 6;

/**
 * Renders the multivariant playlist. Variants are listed in the order given (the source first, so players
 * that take the first one get the best); a variant without a measured bitrate yet is left out.
 */
export function renderMultivariantPlaylist(variants: readonly VariantInfo[], opts: { independentSegments?: boolean } = {}): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${VERSION}`];
  if (opts.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  for (const v of variants) {
    if (!(v.peakBps > 0)) continue;
    const attrs = [`BANDWIDTH=${Math.ceil(v.peakBps)}`, `AVERAGE-BANDWIDTH=${Math.ceil(Math.min(v.averageBps, v.peakBps))}`];
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate && v.frameRate > 0) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (v.codecs.length > 0) attrs.push(`CODECS="${v.codecs.join(',')}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, `${v.name}.m3u8`);
  }
  return `${lines.join('\n')}\n`;
}

/** Where another rendition is (LL-HLS `EXT-X-RENDITION-REPORT`). */
export interface RenditionReport {
  readonly name: string;
  readonly lastMsn: number;
  /** Its newest part's index in the segment after `lastMsn`, when it has parts. */
  readonly lastPart?: number;
}

/**
 * Appends rendition reports to a media playlist (before `#EXT-X-ENDLIST` if there is one), one per other
 * rendition, so a player switching rungs can ask the new one for the right part at once.
 */
export function withRenditionReports(playlist: string, reports: readonly RenditionReport[]): string {
  if (reports.length === 0) return playlist;
  const lines = reports.map(
    (r) => `#EXT-X-RENDITION-REPORT:URI="${r.name}.m3u8",LAST-MSN=${r.lastMsn}${r.lastPart !== undefined ? `,LAST-PART=${r.lastPart}` : ''}`,
  );
  const body = playlist.endsWith('\n') ? playlist : `${playlist}\n`;
  const end = body.lastIndexOf('#EXT-X-ENDLIST\n');
  if (end !== -1 && end === body.length - '#EXT-X-ENDLIST\n'.length) return `${body.slice(0, end)}${lines.join('\n')}\n#EXT-X-ENDLIST\n`;
  return `${body}${lines.join('\n')}\n`;
}

/** Tracks a variant's segment bitrates over the playlist window: the peak and the mean, for BANDWIDTH. */
export class BitrateWindow {
  private readonly segments: { bytes: number; seconds: number }[] = [];

  constructor(private readonly size: number) {}

  add(bytes: number, seconds: number): void {
    if (!(seconds > 0)) return;
    this.segments.push({ bytes, seconds });
    while (this.segments.length > this.size) this.segments.shift();
  }

  get peakBps(): number {
    // A segment much shorter than the rest (a cut at a discontinuity) says little about the peak.
    return this.segments.reduce((m, s) => (s.seconds >= 0.5 ? Math.max(m, (s.bytes * 8) / s.seconds) : m), 0) || this.averageBps;
  }

  get averageBps(): number {
    const seconds = this.segments.reduce((t, s) => t + s.seconds, 0);
    return seconds > 0 ? (this.segments.reduce((t, s) => t + s.bytes, 0) * 8) / seconds : 0;
  }
}
