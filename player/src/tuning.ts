import type { HlsConfig } from 'hls.js';
import type { ProbeResult } from './playlist';

/**
 * hls.js tuning for low latency over standard HLS (no LL-HLS parts). See docs/player.md for the reasoning
 * and docs/benchmarks.md for the measurements behind each number.
 */
export const LOW_LATENCY_HLS_CONFIG: Partial<HlsConfig> = {
  // hls.js only changes the playback rate to catch up with its target latency when lowLatencyMode is on.
  // With standard HLS (no EXT-X-PART / EXT-X-SERVER-CONTROL) this flag changes nothing else.
  lowLatencyMode: true,
  // How far behind the newest segment's end to play. The player replaces these counts with seconds (one
  // target duration + LIVE_SYNC_MARGIN_SECONDS, see liveSyncConfig) when it knows the target duration, which
  // it always does for a Keyframe stream; the counts are the fallback.
  liveSyncDurationCount: 1.3,
  // Farther than this from the edge (after a long stall, a background tab): seek back to the sync point.
  liveMaxLatencyDurationCount: 5,
  // Up to 20 % faster while behind the target (browsers keep the pitch): a viewer who joins a running
  // stream starts about half a second behind the target, and catches up in a few seconds rather than ten.
  maxLiveSyncPlaybackRate: 1.2,
  // Each stall adds this much to the target latency (hls.js caps the total at one target duration).
  liveSyncOnStallIncrease: 0.5,
  // Live: nothing to seek back to, so keep little behind and not much ahead.
  backBufferLength: 10,
  maxBufferLength: 8,
  maxMaxBufferLength: 16,
  // Start only once the playlist holds three segments. Starting on the very first segment of a new publish
  // leaves no room for the sync distance: the buffer runs dry when the second segment is a moment late, and
  // each such stall raises hls.js's target latency for the rest of the session.
  initialLiveManifestSize: 3,
  // Begin loading the first segment while the playlist is parsed.
  startFragPrefetch: true,
  // Playlists (the player's playlist loader is a FetchLoader, segments keep hls.js's XHR loader) bypass the
  // browser's HTTP cache. The origin sends `max-age=1` for CloudFront; a browser that reuses that copy at
  // hls.js's next reload sees a playlist up to a second stale, and hls.js misjudges the live edge by as much.
  fetchSetup: (context, init) => new Request(context.url, { ...init, cache: 'no-store' }),
  // Fail fast into the page's own recovery (probe the playlist, back off, restart) instead of hls.js's
  // long default retries, which for a live stream only fall further behind.
  manifestLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 4000,
      maxLoadTimeMs: 6000,
      timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 1, retryDelayMs: 500, maxRetryDelayMs: 2000 },
    },
  },
  playlistLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 3000,
      maxLoadTimeMs: 5000,
      timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 2, retryDelayMs: 500, maxRetryDelayMs: 2000 },
    },
  },
  fragLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 4000,
      maxLoadTimeMs: 10000,
      timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 3, retryDelayMs: 500, maxRetryDelayMs: 2000 },
    },
  },
};

/**
 * The sync distance beyond one target duration: one segment to hold while the next is made, plus this for
 * the jitter of listing and fetching it. At 0 (hls.js's minimum, one target duration) most sessions stall
 * at least once, and every stall raises hls.js's target for the rest of the session.
 */
export const LIVE_SYNC_MARGIN_SECONDS = 0.3;

const SYNC_KEYS = ['liveSyncDuration', 'liveSyncDurationCount', 'liveMaxLatencyDuration', 'liveMaxLatencyDurationCount'] as const;

/**
 * Sync distance in seconds for a stream of this target duration: `targetSeconds + margin`, and a maximum of
 * five target durations. Empty when the caller set any sync option itself (hls.js refuses a mix of the
 * seconds and the counts forms).
 */
export function liveSyncConfig(
  targetSeconds: number | undefined,
  overrides: Partial<HlsConfig> = {},
  marginSeconds = LIVE_SYNC_MARGIN_SECONDS,
): Partial<HlsConfig> {
  if (!targetSeconds || SYNC_KEYS.some((k) => k in overrides)) return {};
  return {
    liveSyncDurationCount: undefined,
    liveMaxLatencyDurationCount: undefined,
    liveSyncDuration: targetSeconds + marginSeconds,
    liveMaxLatencyDuration: 5 * targetSeconds + marginSeconds,
  } as Partial<HlsConfig>;
}

/** The named tunings: standard HLS, and LL-HLS for playlists with parts. */
export type TuningName = 'standard' | 'll-hls';

/** The hls.js settings for one playlist, and which tuning they are. */
export interface HlsTuning {
  readonly name: TuningName;
  readonly config: Partial<HlsConfig>;
  /**
   * Whether the aligned playlist loader (aligned-loader.ts) should time reloads. Not with LL-HLS: blocking
   * reloads (`_HLS_msn`/`_HLS_part`) already answer the moment the next part exists.
   */
  readonly alignReloads: boolean;
}

/**
 * The server's PART-HOLD-BACK in part targets (ingest/packager/playlist.ts writes 3 × PART-TARGET, the LL-HLS
 * spec's recommendation): the LL tuning's sync distance, the same that Safari keeps.
 */
export const PART_HOLD_BACK_PARTS = 3;

/**
 * hls.js in low-latency mode for a playlist with parts: it loads parts and the preload hint, and reloads with
 * blocking requests. The sync distance is the part hold-back (3 part targets, about 1 s with 0.334 s parts)
 * instead of a segment and a margin; the most it falls behind before seeking is still five target durations.
 * It starts as soon as one segment is listed: parts arrive every part target, so there is room to sync.
 */
export function lowLatencyTuning(playlist: TunedPlaylist & { partTargetSeconds: number }, overrides: Partial<HlsConfig> = {}): HlsTuning {
  const target = playlist.targetSeconds ?? 1;
  const sync = SYNC_KEYS.some((k) => k in overrides)
    ? {}
    : ({
        liveSyncDurationCount: undefined,
        liveMaxLatencyDurationCount: undefined,
        liveSyncDuration: Number((PART_HOLD_BACK_PARTS * playlist.partTargetSeconds).toFixed(3)),
        liveMaxLatencyDuration: 5 * target,
      } as Partial<HlsConfig>);
  return {
    name: 'll-hls',
    config: { ...LOW_LATENCY_HLS_CONFIG, lowLatencyMode: true, initialLiveManifestSize: 1, ...sync },
    alignReloads: false,
  };
}

/** What the tuning is chosen by: the live playlist as the player's probe classified it (playlist.ts). */
export type TunedPlaylist = Pick<Extract<ProbeResult, { kind: 'live' }>, 'targetSeconds' | 'partTargetSeconds'>;

/**
 * Picks the hls.js tuning for a live playlist. Pure: the playlist's shape (its target duration, whether it has
 * LL-HLS parts) and the page's overrides decide it: playlists with parts get `lowLatencyTuning`, others the
 * standard tuning.
 */
export function selectTuning(playlist: TunedPlaylist, overrides: Partial<HlsConfig> = {}, marginSeconds = LIVE_SYNC_MARGIN_SECONDS): HlsTuning {
  if (playlist.partTargetSeconds) return lowLatencyTuning({ ...playlist, partTargetSeconds: playlist.partTargetSeconds }, overrides);
  return {
    name: 'standard',
    config: { ...LOW_LATENCY_HLS_CONFIG, ...liveSyncConfig(playlist.targetSeconds, overrides, marginSeconds) },
    alignReloads: true,
  };
}

/**
 * ffmpeg's HLS muxer anchors `EXT-X-PROGRAM-DATE-TIME` at the wall clock when it initializes: on an ingest,
 * after the publisher's start, the RTMP handshake, the key check, the ffmpeg start and its input probe. The
 * stamps are late by that much, so latency read from them alone is too low. The readout adds this
 * correction: the median lag measured against a clock burned into the video (bench/latency,
 * docs/benchmarks.md: 0.27-0.29 s with `-analyzeduration 100000`; it was 0.62-0.69 s with 500000, and the
 * issue saw 1.35 s with another publisher). Override it per page with
 * `window.KEYFRAME_PLAYER_CONFIG = { pdtOffsetSeconds }`.
 */
export const DEFAULT_PDT_OFFSET_SECONDS = 0.3;

/**
 * hls.js for a recording (docs/recording.md): live rewind over its growing `EVENT` playlist, or a replay of
 * its `VOD` one. No low-latency catch-up (a viewer who rewound wants to stay where they went, at normal speed),
 * no seek back to the live edge however far behind it they are, and room to buffer ahead: a recording's
 * segments are immutable and cacheable. Playback starts at `startPosition` (media seconds; 0 for a replay).
 * Playlists are fetched past the browser's cache, as for live, so a growing one is never a second stale.
 */
export function recordingTuning(startPosition: number): Partial<HlsConfig> {
  return {
    lowLatencyMode: false,
    maxLiveSyncPlaybackRate: 1,
    liveSyncDurationCount: 3,
    liveMaxLatencyDurationCount: Number.POSITIVE_INFINITY,
    liveDurationInfinity: false,
    startPosition: Math.max(0, startPosition),
    backBufferLength: 30,
    maxBufferLength: 30,
    maxMaxBufferLength: 60,
    startFragPrefetch: true,
    fetchSetup: (context, init) => new Request(context.url, { ...init, cache: 'no-store' }),
  };
}
