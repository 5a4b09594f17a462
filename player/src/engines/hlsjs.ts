import Hls, { ErrorTypes, Events, FetchLoader, type ErrorData, type HlsConfig, type Level, type LevelLoadedData } from 'hls.js';
import { createAlignedPlaylistLoader, type AlignedLoaderStats } from '../aligned-loader';
import {
  isSourceUri,
  levelForChoice,
  type Quality,
  type QualityChoice,
  qualitiesOf,
  SWITCH_LOG,
  startLevelFor,
  type VariantInfo,
} from '../qualities';
import type { EngineAdapter, EngineHooks, EngineQualities } from './engine';

export interface HlsJsEngineOptions {
  /** The tuning chosen for this playlist (tuning.ts selectTuning). */
  readonly tuning: Partial<HlsConfig>;
  /** The page's own overrides, merged last. */
  readonly overrides?: Partial<HlsConfig>;
  /** Time playlist reloads to the segment clock (aligned-loader.ts); false: a plain fetch loader. */
  readonly alignReloads: boolean;
  /** The viewer's quality choice, read when the multivariant playlist is parsed (default `auto`). */
  readonly quality?: () => QualityChoice;
  /** The clock for the switch log (epoch ms). */
  readonly now?: () => number;
}

function variantOf(level: Level): VariantInfo {
  return {
    width: level.width,
    height: level.height,
    bitrate: level.bitrate,
    ...(level.attrs['AVERAGE-BANDWIDTH'] ? { averageBitrate: level.averageBitrate } : {}),
    ...(level.frameRate ? { frameRate: level.frameRate } : {}),
    ...(level.codecs ? { codecs: level.codecs } : {}),
    uri: level.uri,
  };
}

/**
 * The hls.js engine: one `Hls` instance over MSE, with the aligned playlist loader unless turned off. Over a
 * multivariant playlist (a ladder channel) it starts on the highest variant in Auto, or on the viewer's pinned
 * one; pins switch with `nextLevel` and Auto returns with `loadLevel = -1` (docs/player.md, Qualities).
 */
export function createHlsJsEngine(opts: HlsJsEngineOptions): EngineAdapter {
  const reloads: AlignedLoaderStats = { waits: 0, polls: 0 };
  const pLoader = opts.alignReloads ? createAlignedPlaylistLoader(reloads) : (FetchLoader as unknown as HlsConfig['pLoader']);
  const now = opts.now ?? Date.now;
  let hls: Hls | null = null;
  let levels: Quality[] = [];
  let playing = -1;
  let switches = 0;
  const switchLog: Array<{ at: number; label: string }> = [];
  /** Rungs whose playlist ended while the source went on (dropped from the list). */
  const droppedRungs: string[] = [];
  const labelOf = (index: number) => levels.find((q) => q.index === index)?.label;

  return {
    kind: 'hls.js',
    get hls() {
      return hls;
    },
    reloads,
    attach(video: HTMLVideoElement, url: string, hooks: EngineHooks) {
      const h = new Hls({ ...opts.tuning, pLoader, ...opts.overrides });
      hls = h;
      h.on(Events.MANIFEST_PARSED, () => {
        levels = qualitiesOf(h.levels.map(variantOf));
        if (h.levels.length > 1) {
          const pinned = levelForChoice(levels, opts.quality?.() ?? 'auto');
          // Pinned: that level from the first fragment on (loadLevel sets hls.js's manual and start level).
          if (pinned !== undefined) h.loadLevel = pinned;
          // Auto: start on the highest variant ABR may pick, not hls.js's default guess (see qualities.ts).
          else h.startLevel = startLevelFor(h.levels.length, h.maxAutoLevel);
        }
        hooks.ready();
      });
      // A level hls.js dropped (its playlist kept failing): the list follows.
      h.on(Events.LEVELS_UPDATED, () => {
        levels = qualitiesOf(h.levels.map(variantOf));
      });
      // The level of the fragment now playing changed.
      h.on(Events.LEVEL_SWITCHED, (_e, data) => {
        if (playing !== -1 && data.level !== playing) switches++;
        playing = data.level;
        switchLog.push({ at: now(), label: labelOf(data.level) ?? `level ${data.level}` });
        if (switchLog.length > SWITCH_LOG) switchLog.shift();
      });
      h.on(Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
        if (data.details.live) return;
        const level = h.levels[data.level];
        // A rung that ended while the source goes on (its transcoder stopped, issue 14): the stream has not
        // ended. Drop the rung (after hls.js has handled this load); ABR carries on with the others, and a pin
        // on it falls back to Auto. Only the source's end (or a single-rendition stream's) is the stream's.
        const sourceLive = h.levels.some((l) => isSourceUri(l.uri) && l !== level && (!l.details || l.details.live));
        if (level && !isSourceUri(level.uri) && sourceLive) {
          setTimeout(() => {
            const index = h.levels.indexOf(level);
            if (hls !== h || index < 0) return;
            droppedRungs.push(levels.find((q) => q.index === index)?.label ?? `level ${index}`);
            h.removeLevel(index);
          }, 0);
          return;
        }
        hooks.endlist();
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
    qualities(): EngineQualities {
      const current = hls && levels.length > 0 ? hls.currentLevel : -1;
      return {
        levels,
        current,
        auto: hls ? hls.autoLevelEnabled : true,
        switches,
        switchLog: [...switchLog],
        ...(droppedRungs.length ? { dropped: [...droppedRungs] } : {}),
      };
    },
    setQuality(choice: QualityChoice) {
      if (!hls || levels.length < 2) return;
      const index = levelForChoice(levels, choice);
      // A pin switches at the next fragment hls.js can fetch in time, flushing only what is buffered beyond
      // that point (nextLevel); currentLevel would flush everything and always rebuffer.
      if (index !== undefined) hls.nextLevel = index;
      // Auto: ABR chooses from the next fragment on, with nothing flushed.
      else hls.loadLevel = -1;
    },
    destroy() {
      hls?.destroy();
      hls = null;
    },
  };
}
