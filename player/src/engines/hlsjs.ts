import Hls, { ErrorTypes, Events, FetchLoader, type ErrorData, type HlsConfig, type LevelLoadedData } from 'hls.js';
import { createAlignedPlaylistLoader, type AlignedLoaderStats } from '../aligned-loader';
import type { EngineAdapter, EngineHooks } from './engine';

export interface HlsJsEngineOptions {
  /** The tuning chosen for this playlist (tuning.ts selectTuning). */
  readonly tuning: Partial<HlsConfig>;
  /** The page's own overrides, merged last. */
  readonly overrides?: Partial<HlsConfig>;
  /** Time playlist reloads to the segment clock (aligned-loader.ts); false: a plain fetch loader. */
  readonly alignReloads: boolean;
}

/** The hls.js engine: one `Hls` instance over MSE, with the aligned playlist loader unless turned off. */
export function createHlsJsEngine(opts: HlsJsEngineOptions): EngineAdapter {
  const reloads: AlignedLoaderStats = { waits: 0, polls: 0 };
  const pLoader = opts.alignReloads ? createAlignedPlaylistLoader(reloads) : (FetchLoader as unknown as HlsConfig['pLoader']);
  let hls: Hls | null = null;

  return {
    kind: 'hls.js',
    get hls() {
      return hls;
    },
    reloads,
    attach(video: HTMLVideoElement, url: string, hooks: EngineHooks) {
      const h = new Hls({ ...opts.tuning, pLoader, ...opts.overrides });
      hls = h;
      h.on(Events.MANIFEST_PARSED, () => hooks.ready());
      h.on(Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
        if (!data.details.live) hooks.endlist();
      });
      h.on(Events.ERROR, (_e, data: ErrorData) =>
        hooks.error({
          fatal: data.fatal,
          kind: data.type === ErrorTypes.MEDIA_ERROR ? 'media' : 'other',
          details: data.details,
          label: `${data.type}/${data.details}${data.fatal ? ' (fatal)' : ''}`,
          type: data.type,
          ...(typeof data.response?.code === 'number' && data.response.code > 0 ? { status: data.response.code } : {}),
        }),
      );
      h.attachMedia(video);
      h.loadSource(url);
    },
    recoverMediaError(swapAudioCodec: boolean) {
      if (!hls) return;
      // Two media errors in a row: the audio codec hls.js guessed may be wrong (HE-AAC vs AAC-LC).
      if (swapAudioCodec) hls.swapAudioCodec();
      hls.recoverMediaError();
    },
    playingDate() {
      return hls?.playingDate?.getTime();
    },
    liveSyncPosition() {
      return hls?.liveSyncPosition ?? null;
    },
    edgeLatency() {
      return hls ? hls.latency : null;
    },
    destroy() {
      hls?.destroy();
      hls = null;
    },
  };
}
