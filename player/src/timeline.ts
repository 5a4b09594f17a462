/**
 * A recording's timeline, and the seek mapping of live rewind (DVR): pure, so it runs in the page and in Node
 * tests alike.
 *
 * A recording's playlist (docs/recording.md) is an `EVENT` playlist while the channel is live and a `VOD` one
 * (with `#EXT-X-ENDLIST`) once it has ended. It lists the packager's own segments with the same
 * `EXT-X-PROGRAM-DATE-TIME` stamps as the live playlist, so a position on the wall clock (what the live player
 * shows, `hls.playingDate`) maps to a position in the recording's media timeline and back. The media timeline
 * is what hls.js plays: the playlist's durations added up from 0, across discontinuities (reconnects, gaps).
 */

export interface TimelineSegment {
  /** Media seconds from the start of the playlist. */
  readonly start: number;
  readonly duration: number;
  /** EXT-X-PROGRAM-DATE-TIME of the segment's start, epoch ms (carried on from the previous one if untagged). */
  readonly pdtMs?: number;
}

export interface Timeline {
  readonly segments: readonly TimelineSegment[];
  /** `#EXT-X-ENDLIST`: the recording is complete (a replay); without it, it still grows (live rewind). */
  readonly ended: boolean;
  readonly type?: 'EVENT' | 'VOD';
  /** The sum of the segment durations. */
  readonly durationSeconds: number;
  readonly targetSeconds: number;
}

/** A media playlist's segments on the media and wall clocks; undefined for anything else. */
export function parseTimeline(text: string): Timeline | undefined {
  if (!text.startsWith('#EXTM3U') || /^#EXT-X-STREAM-INF:/m.test(text)) return undefined;
  const segments: TimelineSegment[] = [];
  let start = 0;
  let duration: number | undefined;
  let taggedPdt: number | undefined;
  let nextPdt: number | undefined;
  let targetSeconds = 0;
  let ended = false;
  let type: Timeline['type'];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const t = Date.parse(line.slice(25));
      taggedPdt = Number.isFinite(t) ? t : undefined;
    } else if (line === '#EXT-X-DISCONTINUITY') nextPdt = undefined;
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetSeconds = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-PLAYLIST-TYPE:')) {
      const t = line.slice(21);
      if (t === 'EVENT' || t === 'VOD') type = t;
    } else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      const d = duration !== undefined && Number.isFinite(duration) && duration > 0 ? duration : 0;
      const pdtMs = taggedPdt ?? nextPdt;
      segments.push(pdtMs === undefined ? { start, duration: d } : { start, duration: d, pdtMs });
      start += d;
      nextPdt = pdtMs === undefined ? undefined : pdtMs + d * 1000;
      duration = undefined;
      taggedPdt = undefined;
    }
  }
  if (segments.length === 0) return undefined;
  return { segments, ended, ...(type ? { type } : {}), durationSeconds: start, targetSeconds: targetSeconds || 1 };
}

/** The same shape from what hls.js parsed (`LevelDetails.fragments`: `start`, `duration`, `programDateTime`). */
export function timelineFromFragments(
  fragments: ReadonlyArray<{ readonly start: number; readonly duration: number; readonly programDateTime?: number | null }>,
  opts: { ended: boolean; targetSeconds: number; type?: 'EVENT' | 'VOD' },
): Timeline | undefined {
  if (fragments.length === 0) return undefined;
  const segments = fragments.map((f) =>
    typeof f.programDateTime === 'number' && Number.isFinite(f.programDateTime)
      ? { start: f.start, duration: f.duration, pdtMs: f.programDateTime }
      : { start: f.start, duration: f.duration },
  );
  const last = segments[segments.length - 1];
  return {
    segments,
    ended: opts.ended,
    ...(opts.type ? { type: opts.type } : {}),
    durationSeconds: last.start + last.duration,
    targetSeconds: opts.targetSeconds || 1,
  };
}

/** The wall-clock start of the recording (its first segment's program date-time), epoch ms. */
export function timelineStartMs(t: Timeline): number | undefined {
  return t.segments.find((s) => s.pdtMs !== undefined)?.pdtMs;
}

/** The wall-clock end of the recording's newest segment, epoch ms. */
export function timelineEndMs(t: Timeline): number | undefined {
  for (let i = t.segments.length - 1; i >= 0; i--) {
    const s = t.segments[i];
    if (s.pdtMs !== undefined) return s.pdtMs + s.duration * 1000;
  }
  return undefined;
}

/** The segment that holds media time `seconds` (the last one past the end, the first one before 0). */
function segmentAtMedia(t: Timeline, seconds: number): TimelineSegment {
  const segs = t.segments;
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[mid].start <= seconds) lo = mid;
    else hi = mid - 1;
  }
  return segs[lo];
}

/** The wall clock (epoch ms) of media time `seconds` in the recording; undefined without program date-time. */
export function wallAt(t: Timeline, seconds: number): number | undefined {
  const s = segmentAtMedia(t, seconds);
  if (s.pdtMs === undefined) return undefined;
  return s.pdtMs + Math.min(Math.max(0, seconds - s.start), s.duration) * 1000;
}

/**
 * The media time in the recording of the wall clock `ms`, clamped to the recording: 0 before its start, its
 * duration after its end, and the start of the next segment for a time that falls in a gap (a reconnect, or
 * media the recording lacks). Undefined without program date-time.
 */
export function mediaAt(t: Timeline, ms: number): number | undefined {
  const tagged = t.segments.filter((s) => s.pdtMs !== undefined) as Array<TimelineSegment & { pdtMs: number }>;
  if (tagged.length === 0) return undefined;
  let lo = 0;
  let hi = tagged.length - 1;
  if (ms < tagged[0].pdtMs) return tagged[0].start;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (tagged[mid].pdtMs <= ms) lo = mid;
    else hi = mid - 1;
  }
  const s = tagged[lo];
  const into = (ms - s.pdtMs) / 1000;
  if (into <= s.duration) return s.start + into;
  // Past this segment's end: in a gap before the next one, or past the newest.
  return lo + 1 < tagged.length ? tagged[lo + 1].start : t.durationSeconds;
}

/** Within this much of the live edge, a seek goes back to the live playlist rather than to the recording. */
export const LIVE_SNAP_SECONDS = 4;

export type SeekPlan = { readonly kind: 'live' } | { readonly kind: 'recording'; readonly position: number };

/**
 * Where a seek of the rewind bar to wall clock `targetMs` plays from: the live playlist (with the low-latency
 * tuning) when the target is within LIVE_SNAP_SECONDS of now, or past what the recording holds yet (it lags the
 * live edge by its uploads); otherwise the recording, from the media position of that moment. The position
 * leaves one target duration before the recording's newest end, so there is something to play.
 */
export function planSeek(targetMs: number, ctx: { readonly nowMs: number; readonly recording?: Timeline }): SeekPlan {
  const rec = ctx.recording;
  const endMs = rec && timelineEndMs(rec);
  if (!rec || endMs === undefined || targetMs >= ctx.nowMs - LIVE_SNAP_SECONDS * 1000) return { kind: 'live' };
  if (!rec.ended && targetMs > endMs - rec.targetSeconds * 1000) return { kind: 'live' };
  const position = mediaAt(rec, targetMs);
  if (position === undefined) return { kind: 'live' };
  const latest = rec.ended ? rec.durationSeconds : Math.max(0, rec.durationSeconds - rec.targetSeconds);
  return { kind: 'recording', position: Math.min(Math.max(0, position), latest) };
}

/** `1:05`, `12:00`, `1:02:03`: a position or a duration on the seek bar and in the list. */
export function formatClock(seconds: number): string {
  const total = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
