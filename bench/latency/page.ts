import Hls, { type HlsConfig } from 'hls.js';
import { createPlayer, type KeyframePlayer } from '../../player/src/player';
import { LOW_LATENCY_HLS_CONFIG } from '../../player/src/tuning';
import { CODE_HEIGHT, CODE_WIDTH, readCode } from './clock-code';

/**
 * The benchmark page (bundled by bench/latency/run.ts): one `<video>` per pipeline, each driven by the
 * same player core as `/watch/<id>`, side by side in one page so they share the moment, the clock and the
 * machine. For every frame presented (requestVideoFrameCallback) it reads the burned-in capture time back
 * from a canvas and records glass-to-glass latency = display time − capture time, next to the player's own
 * PDT-based readout at that moment.
 */

export interface BenchPlayerSpec {
  readonly id: string;
  readonly src: string;
  /** `keyframe`: the tuning /watch uses; `hlsjs-defaults`: hls.js as it comes. */
  readonly tuning: 'keyframe' | 'hlsjs-defaults';
  readonly hlsConfig?: Partial<HlsConfig>;
  /** PlayerOptions.alignReloads (default true). */
  readonly alignReloads?: boolean;
  /** PlayerOptions.syncMarginSeconds. */
  readonly syncMarginSeconds?: number;
}

export interface Sample {
  /** Display time (epoch ms) − capture time (epoch ms), in ms. */
  readonly glass: number;
  /** The player's PDT-only latency at that frame, ms (null if unavailable). */
  readonly pdt: number | null;
  /** hls.js's distance from the playlist edge, ms. */
  readonly edge: number | null;
  /** hls.js's target latency (grows with stalls), ms. */
  readonly target: number | null;
  readonly at: number;
}

interface BenchState {
  readonly samples: Record<string, Sample[]>;
  readonly unreadable: Record<string, number>;
  readonly waiting: Record<string, number>;
  readonly players: Record<string, KeyframePlayer>;
  readonly liveAt: Record<string, number | undefined>;
}

declare global {
  interface Window {
    BENCH_PLAYERS?: BenchPlayerSpec[];
    bench?: BenchState;
  }
}

function defaultsFor(keys: string[]): Partial<HlsConfig> {
  const d = Hls.DefaultConfig as unknown as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, d[k]])) as Partial<HlsConfig>;
}

function start(specs: BenchPlayerSpec[]): BenchState {
  const state: BenchState = { samples: {}, unreadable: {}, waiting: {}, players: {}, liveAt: {} };
  // A scenario unsets a sync option with null (JSON has no undefined): hls.js refuses the counts and the seconds forms
  // together, so a scenario in seconds must clear the counts the tuning sets.
  const SYNC = ['liveSyncDuration', 'liveSyncDurationCount', 'liveMaxLatencyDuration', 'liveMaxLatencyDurationCount'];
  const syncKeysUnset = (c: BenchPlayerSpec['hlsConfig']) =>
    c && Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v === null && SYNC.includes(k) ? undefined : v]));
  const grid = document.getElementById('grid') as HTMLElement;
  for (const spec of specs) {
    const box = document.createElement('figure');
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    const caption = document.createElement('figcaption');
    caption.textContent = spec.id;
    box.append(video, caption);
    grid.append(box);

    const base = spec.tuning === 'hlsjs-defaults' ? defaultsFor([...Object.keys(LOW_LATENCY_HLS_CONFIG), 'pLoader']) : {};
    const player = createPlayer({
      video,
      src: spec.src,
      alignReloads: spec.alignReloads,
      syncMarginSeconds: spec.syncMarginSeconds,
      hlsConfig: { workerPath: '/watch/hls.worker.js', ...base, ...syncKeysUnset(spec.hlsConfig) },
      onStateChange: (s) => {
        caption.textContent = `${spec.id}: ${s}`;
        if (s === 'live') state.liveAt[spec.id] = Date.now();
      },
    });
    state.players[spec.id] = player;
    state.samples[spec.id] = [];
    state.unreadable[spec.id] = 0;
    state.waiting[spec.id] = 0;
    video.addEventListener('waiting', () => {
      if (player.state === 'live') state.waiting[spec.id]++;
    });

    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
    const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
      // When the frame reaches the screen, on the wall clock.
      const shownAt = Date.now() + (meta.expectedDisplayTime - performance.now());
      const vw = video.videoWidth;
      if (vw > 0 && player.state === 'live') {
        const scale = vw / 640;
        const w = Math.ceil(CODE_WIDTH * scale);
        const h = Math.ceil(CODE_HEIGHT * scale);
        canvas.width = w;
        canvas.height = h;
        ctx.drawImage(video, 0, 0, w, h, 0, 0, w, h);
        const captured = readCode(ctx.getImageData(0, 0, w, h).data, w, scale);
        if (captured === undefined) state.unreadable[spec.id]++;
        else {
          const pdt = player.pdtLatency();
          const edge = player.edgeLatency();
          state.samples[spec.id].push({
            glass: shownAt - captured,
            pdt: pdt === null ? null : pdt * 1000,
            edge: edge === null ? null : edge * 1000,
            target: player.hls?.targetLatency != null ? player.hls.targetLatency * 1000 : null,
            at: shownAt,
          });
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  return state;
}

window.bench = start(window.BENCH_PLAYERS ?? []);
