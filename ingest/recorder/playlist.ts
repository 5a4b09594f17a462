/** One segment as the recording's playlist lists it (only segments already in S3 are listed). */
export interface RecordedSegment {
  readonly uri: string;
  readonly durationSeconds: number;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms. */
  readonly programDateTime: number;
  /** An EXT-X-DISCONTINUITY precedes it: a reconnect, an init change, a gap or the packager's own. */
  readonly discontinuity: boolean;
  /** The init segment (EXT-X-MAP) it needs. */
  readonly initUri: string;
}

/** HLS version: EXT-X-MAP in a media playlist without I-frames needs 6. */
const VERSION = 6;

/**
 * The recording's media playlist. While live it is an `EVENT` playlist (segments are only ever appended, so a
 * player can seek back to the start); once ended, `VOD` with `#EXT-X-ENDLIST`. A new `EXT-X-MAP` follows every
 * discontinuity or init change. The target duration is the configured one, raised if a segment is longer.
 */
export function renderRecordingPlaylist(segments: readonly RecordedSegment[], opts: { ended: boolean; targetDurationSeconds: number }): string {
  const longest = segments.reduce((m, s) => Math.max(m, Math.round(s.durationSeconds)), 0);
  const target = Math.max(1, Math.ceil(opts.targetDurationSeconds), longest);
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${VERSION}`, `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0'];
  lines.push(`#EXT-X-PLAYLIST-TYPE:${opts.ended ? 'VOD' : 'EVENT'}`);
  let map: string | undefined;
  segments.forEach((s, i) => {
    if (s.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
    if (s.initUri !== map || (s.discontinuity && i > 0)) {
      lines.push(`#EXT-X-MAP:URI="${s.initUri}"`);
      map = s.initUri;
    }
    if (i === 0 || s.discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    lines.push(`#EXTINF:${s.durationSeconds.toFixed(3)},`, s.uri);
  });
  if (opts.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
