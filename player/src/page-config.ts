import type { HlsConfig } from 'hls.js';
import type { KeyframePlayer, PlayerState, PlayerStats } from './player';
import type { QualityChoice, QualityStats } from './qualities';
import type { RecordingPlayerStats } from './recording-player';
import type { SeekBar, WatchMode } from './timeshift';
import { PLAYBACK_ID } from './urls';

/** Set before the page script runs (an inline script of an embedding page, or a test's init script). */
export interface PageConfig {
  /** Where playlists live; defaults to the page's own origin (the CloudFront distribution, or the local stack). */
  playbackBaseUrl?: string;
  pdtOffsetSeconds?: number;
  hlsConfig?: Partial<HlsConfig>;
  engine?: 'auto' | 'hls.js' | 'native';
  pollMs?: number;
  /** hls.js overrides for recordings (live rewind and replays), merged over recordingTuning (tuning.ts). */
  recordingHlsConfig?: Partial<HlsConfig>;
  /** The stream list page: how often a live thumbnail is re-fetched (default 10 s). */
  thumbnailRefreshMs?: number;
  /** The stream list page: how often the list is re-read (default 5 s). */
  listRefreshMs?: number;
}

/** `#player[data-state]`: the live player's states, and a recording's (rewind, replay). */
export type PageState = PlayerState | 'playing' | 'error';

/** What the watch page exposes for tests and for the curious (`window.keyframePlayer` in the console). */
export interface WatchPageApi {
  readonly playbackId: string;
  /** The live playlist. */
  readonly src: string;
  /** `live` (the live playlist), `rewind` (the live session's recording) or `replay` (a complete recording). */
  readonly mode: WatchMode;
  readonly state: PageState;
  /** The recording playing now (rewind, replay), or the live session's recording (live). */
  readonly recordingSrc: string | undefined;
  /** Seconds behind live of the frame on screen (live and rewind). */
  latency(): number | null;
  pdtLatency(): number | null;
  edgeLatency(): number | null;
  /** The live player's stats (the latest live player's, in rewind). */
  stats(): PlayerStats;
  /** The live player's qualities (a ladder channel's variants), the one playing, Auto or not; null when not live. */
  quality(): QualityStats | null;
  /** What the quality selector does: pin a quality by label, or `auto`. Kept for later live players of the page. */
  setQuality(choice: QualityChoice): void;
  /** The recording player's (rewind, replay), else null. */
  recordingStats(): RecordingPlayerStats | null;
  /** The seek bar: null when hidden. */
  bar(): SeekBar | null;
  /** Seeks the bar to `value` (what dragging the bar does). */
  seek(value: number): Promise<void>;
  goLive(): void;
  /** The live player, while live (null in rewind and replay). */
  readonly player: KeyframePlayer | null;
}

declare global {
  interface Window {
    KEYFRAME_PLAYER_CONFIG?: PageConfig;
    keyframePlayer?: WatchPageApi;
  }
}

export { PLAYBACK_ID };

/** `/watch/<id>` (local stack) or `…/index.html?v=<id>` (the page as uploaded to S3 behind CloudFront). */
export function playbackIdFromLocation(loc: { pathname: string; search: string }): string | undefined {
  const v = new URLSearchParams(loc.search).get('v');
  if (v && PLAYBACK_ID.test(v)) return v;
  const m = /\/watch\/([A-Za-z0-9]{12})\/?$/.exec(loc.pathname);
  return m ? m[1] : undefined;
}
