import type { HlsConfig } from 'hls.js';
import type { KeyframePlayer, PlayerState } from './player';

/** Set before the page script runs (an inline script of an embedding page, or a test's init script). */
export interface PageConfig {
  /** Where playlists live; defaults to the page's own origin (the CloudFront distribution, or the local stack). */
  playbackBaseUrl?: string;
  pdtOffsetSeconds?: number;
  hlsConfig?: Partial<HlsConfig>;
  engine?: 'auto' | 'hls.js' | 'native';
  pollMs?: number;
}

/** What the watch page exposes for tests and for the curious (`window.keyframePlayer` in the console). */
export interface WatchPageApi {
  readonly playbackId: string;
  readonly src: string;
  readonly state: PlayerState;
  latency(): number | null;
  pdtLatency(): number | null;
  edgeLatency(): number | null;
  stats(): ReturnType<KeyframePlayer['stats']>;
  readonly player: KeyframePlayer;
}

declare global {
  interface Window {
    KEYFRAME_PLAYER_CONFIG?: PageConfig;
    keyframePlayer?: WatchPageApi;
  }
}

export const PLAYBACK_ID = /^[A-Za-z0-9]{12}$/;

/** `/watch/<id>` (local stack) or `…/index.html?v=<id>` (the page as uploaded to S3 behind CloudFront). */
export function playbackIdFromLocation(loc: { pathname: string; search: string }): string | undefined {
  const v = new URLSearchParams(loc.search).get('v');
  if (v && PLAYBACK_ID.test(v)) return v;
  const m = /\/watch\/([A-Za-z0-9]{12})\/?$/.exec(loc.pathname);
  return m ? m[1] : undefined;
}
