import type { EngineAdapter, EngineHooks } from './engine';

/**
 * The browser's own HLS (Safari, and iOS before MSE; forced with `?engine=native`): the playlist URL goes
 * straight into `video.src`. Errors come from the element itself, and the latency readout from Safari's
 * `video.getStartDate()`, which maps EXT-X-PROGRAM-DATE-TIME onto the media timeline.
 */
export function createNativeEngine(): EngineAdapter {
  let video: HTMLVideoElement | undefined;
  let onError: (() => void) | undefined;

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
    destroy() {
      if (!video) return;
      if (onError) video.removeEventListener('error', onError);
      if (video.getAttribute('src')) {
        video.removeAttribute('src');
        video.load();
      }
      video = undefined;
    },
  };
}
