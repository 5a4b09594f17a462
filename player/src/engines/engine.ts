import type Hls from 'hls.js';
import type { AlignedLoaderStats } from '../aligned-loader';
import type { QualityChoice, QualityStats } from '../qualities';

/**
 * What plays the stream into the `<video>`: hls.js over MSE (hlsjs.ts), or the browser's own HLS (native.ts,
 * Safari's path). The player core attaches one adapter per publish it starts and destroys it when it stops;
 * the adapter only reports what happened (ready, end of list, errors) and the watchdog decides what to do.
 * This file has no runtime imports, so the choice below runs in Node tests.
 */

/** The engine a player uses for its lifetime; `none`: this browser plays no HLS. */
export type EngineKind = 'hls.js' | 'native' | 'none';

/** What the page asks for: `auto` picks hls.js where MSE exists, else native HLS if the browser plays it. */
export type EngineWanted = 'auto' | 'hls.js' | 'native';

/** What the browser can do, as seen by `Hls.isSupported()` and `video.canPlayType()`. */
export interface EngineSupport {
  /** Media Source Extensions that hls.js can use. */
  readonly mse: boolean;
  /** `canPlayType('application/vnd.apple.mpegurl')` answered something. */
  readonly nativeHls: boolean;
}

/**
 * Picks the engine: `native` when forced (`?engine=native`) and available, hls.js wherever MSE exists, and the
 * native engine as the `auto` fallback. A forced engine the browser lacks gives `none`, not a silent swap.
 */
export function chooseEngine(support: EngineSupport, wanted: EngineWanted = 'auto'): EngineKind {
  if (wanted === 'native') return support.nativeHls ? 'native' : 'none';
  if (support.mse) return 'hls.js';
  return wanted === 'auto' && support.nativeHls ? 'native' : 'none';
}

/** One error the engine reports. The watchdog counts it and decides: ignore, recover, end or restart. */
export interface EngineError {
  readonly fatal: boolean;
  /**
   * `media`: hls.js can try `recoverMediaError()`; `element`: the native `<video>` failed (restart at once);
   * `other`: network, parsing and the rest (hls.js has already retried).
   */
  readonly kind: 'media' | 'element' | 'other';
  /** The short cause, for logs and restart reasons (hls.js `details`). */
  readonly details: string;
  /** What `stats().lastError` shows. */
  readonly label: string;
  /** hls.js's error type, for the log. */
  readonly type?: string;
  /** The HTTP status of a failed load (hls.js's `response.code`), when there was one. */
  readonly status?: number;
}

/** How an attached engine reports back to the player core. */
export interface EngineHooks {
  /** The stream is ready to play (hls.js: manifest parsed; native: source set). */
  ready(): void;
  /** A loaded media playlist ends (`#EXT-X-ENDLIST`). */
  endlist(): void;
  error(error: EngineError): void;
}

/** The engine's part of `QualityStats`; the player core adds the viewer's choice and the decoded size. */
export type EngineQualities = Pick<
  QualityStats,
  'levels' | 'current' | 'auto' | 'switches' | 'switchLog' | 'dropped' | 'reattached' | 'estimateResets' | 'firstLoad' | 'repinned'
>;

/** One engine instance, attached to one `<video>` and one playlist URL. */
export interface EngineAdapter {
  readonly kind: Exclude<EngineKind, 'none'>;
  /** The hls.js instance (hls.js adapter only). */
  readonly hls: Hls | null;
  /** The aligned playlist loader's counters (hls.js adapter only). */
  readonly reloads?: Readonly<AlignedLoaderStats>;
  /** Starts loading `url` into `video`; from now on the engine reports through `hooks`. */
  attach(video: HTMLVideoElement, url: string, hooks: EngineHooks): void;
  /** After a fatal media error: rebuild the media pipeline, first swapping the guessed audio codec if asked. */
  recoverMediaError(swapAudioCodec: boolean): void;
  /** Epoch ms of the frame on screen, from EXT-X-PROGRAM-DATE-TIME; undefined when unknown. */
  playingDate(): number | undefined;
  /** The engine's live sync point in media seconds, or null (native HLS has none). */
  liveSyncPosition(): number | null;
  /** Seconds from the playlist's live edge as the engine sees it, or null. */
  edgeLatency(): number | null;
  /**
   * The variants and which one plays (hls.js over a multivariant playlist). The native engine offers none:
   * Safari chooses, and the player core reports the decoded size instead.
   */
  qualities(): EngineQualities;
  /** Pins a quality (by label, qualities.ts levelForChoice) or returns to ABR (`auto`). No-op on native. */
  setQuality(choice: QualityChoice): void;
  /** Stops loading and releases the `<video>`; no hook is called after this. */
  destroy(): void;
}
