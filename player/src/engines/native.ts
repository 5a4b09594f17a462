import { heightLabel, SWITCH_LOG } from '../qualities';
import type { EngineAdapter, EngineHooks, EngineQualities } from './engine';

/**
 * The browser's own HLS (Safari, and iOS before MSE; forced with `?engine=native`): the playlist URL goes
 * straight into `video.src`. Errors come from the element itself, and the latency readout from Safari's
 * `video.getStartDate()`, which maps EXT-X-PROGRAM-DATE-TIME onto the media timeline.
 */
export function createNativeEngine(opts: { now?: () => number } = {}): EngineAdapter {
  const now = opts.now ?? Date.now;
  let video: HTMLVideoElement | undefined;
  let onError: (() => void) | undefined;
  // Safari switches variants itself and offers no list: what it plays shows as the decoded picture's height.
  let height = 0;
  let switches = 0;
  const switchLog: Array<{ at: number; label: string }> = [];
  const onResize = () => {
    const h = video?.videoHeight ?? 0;
    if (!h || h === height) return;
    if (height) switches++;
    height = h;
    switchLog.push({ at: now(), label: heightLabel(h) });
    if (switchLog.length > SWITCH_LOG) switchLog.shift();
  };

  return {
    kind: 'native',
    hls: null,
    attach(v: HTMLVideoElement, url: string, hooks: EngineHooks) {
      video = v;
      onError = () => {
        const label = `native media error ${v.error?.code ?? ''}`.trim();
        hooks.error({ fatal: true, kind: 'element', details: label, label });
      };
      v.addEventListener('error', onError);
      v.addEventListener('resize', onResize);
      v.src = url;
      hooks.ready();
    },
    recoverMediaError() {
      // Nothing to rebuild: the element's errors restart the engine (EngineError kind `element`).
    },
    playingDate() {
      if (!video) return undefined;
      const start = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
      const ms = start?.getTime();
      return ms !== undefined && Number.isFinite(ms) ? ms + video.currentTime * 1000 : undefined;
    },
    liveSyncPosition() {
      return null;
    },
    edgeLatency() {
      return null;
    },
    qualities(): EngineQualities {
      return { levels: [], current: -1, auto: true, switches, switchLog: [...switchLog] };
    },
    setQuality() {
      // Safari chooses; the page offers no selector with this engine.
    },
    destroy() {
      if (!video) return;
      if (onError) video.removeEventListener('error', onError);
      video.removeEventListener('resize', onResize);
      if (video.getAttribute('src')) {
        video.removeAttribute('src');
        video.load();
      }
      video = undefined;
    },
  };
}
