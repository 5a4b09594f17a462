import Hls, { ErrorTypes, Events, FetchLoader, type ErrorData, type FragLoadedData, type HlsConfig, type Level, type LevelLoadedData } from 'hls.js';
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
import { variantUrls } from '../playlist';
import type { EngineAdapter, EngineHooks, EngineQualities } from './engine';

/**
 * How often a ladder channel's multivariant playlist is read again while playing. hls.js reads it once; the
 * ingest lists a rung only once it has a segment (so a viewer who joins at the start of a publish may see the
 * source alone), drops the rungs while the transcoder is down, and lists them again when it is back.
 */
export const VARIANT_CHECK_MS = 5000;

/**
 * The drop guard (docs/player.md, Qualities): a load whose transfer (first byte to last, so a blocking part's
 * wait on the server is left out) took at least this long is a throughput sample; faster ones say the link is
 * fine. DROP_GUARD_SAMPLES samples in a row below the loading variant's BANDWIDTH, while hls.js's estimate is
 * far above them, reset hls.js's estimate to what was measured.
 */
export const DROP_GUARD_MIN_TRANSFER_MS = 30;
/** Slow loads in a row before the guard acts (three LL-HLS parts: one second of media). */
export const DROP_GUARD_SAMPLES = 3;
/**
 * Loads in the first seconds after hls.js starts are not sampled: the page is at its busiest then (scripts,
 * the transmuxer worker, the first decodes), and a busy main thread stretches a transfer's measured time.
 */
export const DROP_GUARD_WARMUP_MS = 5000;

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
  /** Their URLs, while the multivariant playlist still lists them (not a rung that came back). */
  const endedUrls = new Set<string>();
  let reattached = 0;
  let estimateResets = 0;
  let repinned = 0;
  /** The variant of the first fragment hls.js loaded (where it started). */
  let firstLoad: string | undefined;
  let watch: ReturnType<typeof setInterval> | undefined;
  let checking = false;
  const labelOf = (index: number) => levels.find((q) => q.index === index)?.label;

  function dropLevel(h: Hls, level: Level): void {
    const index = h.levels.indexOf(level);
    if (hls !== h || index < 0 || h.levels.length < 2) return;
    droppedRungs.push(levels.find((q) => q.index === index)?.label ?? `level ${index}`);
    h.removeLevel(index);
  }

  /**
   * Reads the multivariant playlist again: rungs it no longer lists are dropped; rungs it lists that hls.js does
   * not have (a rung that was not ready when the viewer joined, or came back after a transcoder restart) need a
   * new hls.js instance, which has no way to add a level: the engine starts one on the same `<video>`, which
   * costs a short rebuffer (and no watchdog state change).
   */
  async function checkVariants(video: HTMLVideoElement, url: string, hooks: EngineHooks): Promise<void> {
    const h = hls;
    if (!h || checking) return;
    checking = true;
    let urls: string[] = [];
    try {
      const res = await fetch(url, { cache: 'no-store', credentials: 'omit' });
      urls = res.ok ? variantUrls(await res.text(), url) : [];
    } catch {
      urls = [];
    } finally {
      checking = false;
    }
    // Not a multivariant playlist now (an error, the stream's end): the watchdog and hls.js handle that.
    if (hls !== h || !urls.some(isSourceUri)) return;
    const listed = new Set(urls);
    for (const u of [...endedUrls]) if (!listed.has(u)) endedUrls.delete(u);
    for (const level of [...h.levels]) if (!listed.has(level.uri) && !isSourceUri(level.uri)) dropLevel(h, level);
    const known = new Set(h.levels.map((l) => l.uri));
    if (urls.some((u) => !known.has(u) && !endedUrls.has(u))) {
      reattached++;
      h.destroy();
      hls = null;
      start(video, url, hooks);
      return;
    }
    // hls.js leaves a pinned level that fails (a rung whose transcoder died) for ABR; once the rung is listed
    // again, the viewer's pin applies again.
    const choice = opts.quality?.() ?? 'auto';
    const pinned = choice === 'auto' ? undefined : levelForChoice(levels, choice);
    if (pinned !== undefined && h.autoLevelEnabled && listed.has(h.levels[pinned]?.uri ?? '')) {
      repinned++;
      h.nextLevel = pinned;
    }
  }

  function start(video: HTMLVideoElement, url: string, hooks: EngineHooks): void {
    clearInterval(watch);
    watch = undefined;
    const h = new Hls({ ...opts.tuning, pLoader, ...opts.overrides });
    hls = h;
    playing = -1;
    h.on(Events.MANIFEST_PARSED, () => {
      levels = qualitiesOf(h.levels.map(variantOf));
      if (h.levels.length > 1) {
        const pinned = levelForChoice(levels, opts.quality?.() ?? 'auto');
        // Pinned: that level from the first fragment on (loadLevel sets hls.js's manual and start level).
        if (pinned !== undefined) h.loadLevel = pinned;
        // Auto: start on the highest variant ABR may pick, not hls.js's default guess (see qualities.ts).
        else h.startLevel = startLevelFor(h.levels.length, h.maxAutoLevel);
      }
      // A multivariant playlist (its variants are other URLs): follow it.
      if (h.levels.some((l) => l.uri !== url)) watch = setInterval(() => void checkVariants(video, url, hooks), VARIANT_CHECK_MS);
      hooks.ready();
    });
    // The drop guard: hls.js's estimate is an average weighted by download time, so after fast downloads it sits
    // far above a link that has just become slow, and only its emergency rule (a load that cannot finish before
    // the buffer runs out) switches down, by then with the buffer nearly gone. Three loads in a row slower than
    // the variant's own bitrate are enough to know: the estimate is reset to them, and ABR picks a variant that
    // fits from the next load on, while the buffer still holds.
    const slow: number[] = [];
    const startedAt = now();
    h.on(Events.FRAG_LOADING, (_e, data) => {
      if (firstLoad === undefined && data.frag.type === 'main' && data.frag.sn !== 'initSegment') firstLoad = labelOf(data.frag.level);
    });
    h.on(Events.FRAG_LOADED, (_e, data: FragLoadedData) => {
      const { frag, part } = data;
      if (frag.type !== 'main' || frag.sn === 'initSegment' || !h.autoLevelEnabled || h.levels.length < 2) return;
      if (now() - startedAt < DROP_GUARD_WARMUP_MS) return;
      const level = h.levels[frag.level];
      const stats = part ? part.stats : frag.stats;
      const transferMs = stats.loading.end - stats.loading.first;
      if (!level || frag.level <= h.minAutoLevel || !(transferMs >= DROP_GUARD_MIN_TRANSFER_MS) || !(stats.loaded > 0)) {
        slow.length = 0;
        return;
      }
      const bps = (stats.loaded * 8 * 1000) / transferMs;
      if (bps >= level.bitrate) {
        slow.length = 0;
        return;
      }
      slow.push(bps);
      if (slow.length < DROP_GUARD_SAMPLES) return;
      const measured = Math.max(...slow);
      slow.length = 0;
      if (h.bandwidthEstimate > 1.5 * measured) {
        estimateResets++;
        h.bandwidthEstimate = measured;
      }
    });
    // A level hls.js dropped (its playlist kept failing), or one dropped here: the list follows.
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
        endedUrls.add(level.uri);
        setTimeout(() => dropLevel(h, level), 0);
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
  }

  return {
    kind: 'hls.js',
    get hls() {
      return hls;
    },
    reloads,
    attach(video: HTMLVideoElement, url: string, hooks: EngineHooks) {
      start(video, url, hooks);
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
        ...(reattached ? { reattached } : {}),
        ...(estimateResets ? { estimateResets } : {}),
        ...(firstLoad ? { firstLoad } : {}),
        ...(repinned ? { repinned } : {}),
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
      clearInterval(watch);
      watch = undefined;
      hls?.destroy();
      hls = null;
    },
  };
}
