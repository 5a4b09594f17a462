import { isSourceUri } from './qualities';

/**
 * What one look at a stream's playlist says, without a player: pure, so it runs in the page and in Node
 * tests alike. The page polls the playlist while no stream is playing: 404 means offline, a playlist with
 * `#EXT-X-ENDLIST` means the publish ended (the ingest appends it and keeps the route a few seconds so
 * players read it), and a playlist with segments and no end marker is live.
 */

export type ProbeResult =
  | { readonly kind: 'offline' }
  | {
      readonly kind: 'live';
      readonly session?: string;
      readonly targetSeconds?: number;
      /** `#EXT-X-PART-INF:PART-TARGET`: present only when the playlist has LL-HLS parts. */
      readonly partTargetSeconds?: number;
    }
  | { readonly kind: 'ended'; readonly session?: string }
  /** Network failure, 5xx or anything unexpected: try again later (with backoff). */
  | { readonly kind: 'error'; readonly status?: number };

/** The publish session a media playlist belongs to: the prefix of its segment names (`<session>_<n>.ts`). */
export function playlistSession(text: string): string | undefined {
  const m = /^([a-z0-9]{10})_(?:\d+\.(?:ts|m4s)|init\.mp4)\s*$/m.exec(text);
  return m ? m[1] : undefined;
}

/** Classifies one answer of the origin to a playlist request (status and body). */
export function classifyPlaylist(status: number, text: string): ProbeResult {
  // 400 can only be a path the origin refuses (a malformed playback ID): never becomes live, but keep the
  // page calm and show it offline. 404: unknown or ended stream.
  if (status === 404 || status === 400 || status === 410) return { kind: 'offline' };
  if (status !== 200) return { kind: 'error', status };
  if (!text.startsWith('#EXTM3U')) return { kind: 'error', status };
  // A multivariant playlist has no end marker of its own: the player follows its renditions.
  if (/^#EXT-X-STREAM-INF:/m.test(text)) return { kind: 'live' };
  const session = playlistSession(text);
  if (/^#EXT-X-ENDLIST\s*$/m.test(text)) return { kind: 'ended', session };
  if (!/^#EXTINF:/m.test(text)) return { kind: 'offline' };
  const target = /^#EXT-X-TARGETDURATION:\s*(\d+)/m.exec(text);
  const part = /^#EXT-X-PART-INF:(?:.*,)?PART-TARGET=([0-9.]+)/m.exec(text);
  return {
    kind: 'live',
    session,
    ...(target ? { targetSeconds: Number(target[1]) } : {}),
    ...(part && Number(part[1]) > 0 ? { partTargetSeconds: Number(part[1]) } : {}),
  };
}

/**
 * The variants of a multivariant playlist (a ladder channel's `index.m3u8`), their URIs resolved against the
 * playlist's own URL as hls.js resolves them, in the playlist's order. Empty for a media playlist or anything else.
 */
export function variantUrls(text: string, base: string): string[] {
  if (!text.startsWith('#EXTM3U') || !/^#EXT-X-STREAM-INF:/m.test(text)) return [];
  const out: string[] = [];
  let inVariant = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-STREAM-INF:')) inVariant = true;
    else if (inVariant && line && !line.startsWith('#')) {
      inVariant = false;
      try {
        out.push(new URL(line, base).toString());
      } catch {
        // not a URI: skip it
      }
    }
  }
  return out;
}

/**
 * The variant the page's probe reads in a multivariant playlist: the source (`source.m3u8`), else the first
 * listed. Undefined for a media playlist or anything else.
 */
export function probeVariantUrl(text: string, base: string): string | undefined {
  const urls = variantUrls(text, base);
  return urls.find(isSourceUri) ?? urls[0];
}

/**
 * Delay before retry `attempt` (0-based): base·2^attempt capped at max, with ±20 % jitter so a crowd of
 * viewers that lost the stream together does not come back in lockstep.
 */
export function backoffMs(attempt: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 8000;
  const random = opts.random ?? Math.random;
  const raw = Math.min(max, base * 2 ** Math.max(0, Math.min(attempt, 16)));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** Median and other percentiles of a sample (nearest rank). Used by the page's stats and the benchmark. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export interface PlaylistTiming {
  /** Media sequence number of the newest segment. */
  readonly lastSn: number;
  /** Its end on the program-date-time clock (epoch ms), when the playlist carries PDT. */
  readonly lastEndMs?: number;
  /** Duration to expect of the next segment: the newest one's, else the target duration (ms). */
  readonly nextDurationMs: number;
  readonly targetMs: number;
  readonly ended: boolean;
}

/** Sequence and program-date-time timing of a media playlist; undefined for anything else. */
export function playlistTiming(text: string): PlaylistTiming | undefined {
  if (!text.startsWith('#EXTM3U') || /^#EXT-X-STREAM-INF:/m.test(text)) return undefined;
  let sn = 0;
  let count = 0;
  let targetMs = 0;
  let duration = 0;
  let pdt: number | undefined;
  let lastEnd: number | undefined;
  let lastDuration = 0;
  let ended = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) sn = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetMs = (Number(line.slice(22)) || 0) * 1000;
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8)) * 1000 || 0;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const t = Date.parse(line.slice(25));
      pdt = Number.isFinite(t) ? t : undefined;
    } else if (line === '#EXT-X-DISCONTINUITY') pdt = undefined;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      count++;
      lastDuration = duration;
      lastEnd = pdt === undefined ? undefined : pdt + duration;
      pdt = lastEnd;
    }
  }
  if (count === 0 || targetMs === 0) return undefined;
  return { lastSn: sn + count - 1, lastEndMs: lastEnd, nextDurationMs: lastDuration || targetMs, targetMs, ended };
}
