/**
 * Qualities (issue 14): a ladder channel's `index.m3u8` is a multivariant playlist, the source as a passthrough
 * variant (`source.m3u8`) plus one transcoded variant per rung (`720p.m3u8`, `480p.m3u8`, …). This file turns the
 * variants hls.js parsed into what the page offers (labels by height: `1080p (source)`, `720p`, …) and keeps
 * the viewer's choice by label, so it survives an engine restart or a new publish whose levels are indexed
 * differently. Pure: it runs in the page and in Node tests alike.
 */

/** What the page needs of one hls.js `Level` (its index is its position in `hls.levels`). */
export interface VariantInfo {
  readonly width: number;
  readonly height: number;
  /** `BANDWIDTH`, bit/s. */
  readonly bitrate: number;
  /** `AVERAGE-BANDWIDTH` when given, bit/s. */
  readonly averageBitrate?: number;
  readonly frameRate?: number;
  /** `CODECS`. */
  readonly codecs?: string;
  /** The media playlist's URL. */
  readonly uri: string;
}

/** One quality the page offers. */
export interface Quality {
  /** The hls.js level index (`hls.levels[index]`): what `setQuality` takes. */
  readonly index: number;
  /** `720p`, `1080p (source)`; two variants of one height are told apart by bitrate. */
  readonly label: string;
  readonly width: number;
  readonly height: number;
  readonly bitrate: number;
  readonly averageBitrate?: number;
  readonly frameRate?: number;
  readonly codecs?: string;
  /** The passthrough variant (`source.m3u8`). */
  readonly source: boolean;
}

/** The viewer's choice: `auto` (ABR), or one quality's label. */
export type QualityChoice = 'auto' | string;

/** What the player reports about qualities (`stats().quality`). */
export interface QualityStats {
  /** Highest first. Empty for a single-rendition stream, and with the native engine (Safari chooses). */
  readonly levels: readonly Quality[];
  /** The quality playing now (its hls.js index), -1 when unknown. */
  readonly current: number;
  /** Its label, or the playing height (`720p`) when no level is known (native engine). */
  readonly playing?: string;
  /** ABR chooses (always true with the native engine). */
  readonly auto: boolean;
  /** What the viewer chose. */
  readonly choice: QualityChoice;
  /** The decoded picture (`video.videoWidth` × `videoHeight`), when known. */
  readonly resolution?: { readonly width: number; readonly height: number };
  /** Changes of the playing quality since the engine started (the first one is not a switch). */
  readonly switches: number;
  /** The latest playing qualities, oldest first: `{ at, label }` (at most SWITCH_LOG entries). */
  readonly switchLog: ReadonlyArray<{ readonly at: number; readonly label: string }>;
  /** Rungs dropped because their playlist ended while the source went on (a stopped transcoder). */
  readonly dropped?: readonly string[];
  /** Times hls.js was started again on a multivariant playlist that had gained variants (hls.js cannot add one). */
  readonly reattached?: number;
  /** Times the drop guard reset hls.js's bandwidth estimate to a measured slow link (engines/hlsjs.ts). */
  readonly estimateResets?: number;
  /** The variant of the first fragment hls.js loaded: the top one in Auto (it starts high), or the pin. */
  readonly firstLoad?: string;
  /** Times a pin hls.js had left (its level failed) was applied again once its variant was listed again. */
  readonly repinned?: number;
}

export const SWITCH_LOG = 30;

/** The source variant's rendition playlist, `source.m3u8` (core/ladder.ts SOURCE_RENDITION), query ignored. */
export function isSourceUri(uri: string): boolean {
  return /(?:^|\/)source\.m3u8(?:[?#].*)?$/.test(uri);
}

/** `2.5 Mbit/s`, `800 kbit/s`. */
export function formatBitrate(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(1)} Mbit/s` : `${Math.round(bps / 1000)} kbit/s`;
}

/** `720p` for a height. */
export function heightLabel(height: number): string {
  return `${height}p`;
}

/**
 * The offered qualities, highest first (by height, then bitrate). Labels by height, `(source)` on the
 * passthrough variant, and the bitrate added where two variants share a height.
 */
export function qualitiesOf(variants: readonly VariantInfo[]): Quality[] {
  const list = variants.map((v, index) => ({ v, index }));
  list.sort((a, b) => b.v.height - a.v.height || b.v.bitrate - a.v.bitrate);
  const perHeight = new Map<number, number>();
  for (const { v } of list) perHeight.set(v.height, (perHeight.get(v.height) ?? 0) + 1);
  return list.map(({ v, index }) => {
    const source = isSourceUri(v.uri);
    const base = v.height > 0 ? heightLabel(v.height) : formatBitrate(v.bitrate);
    const shared = v.height > 0 && (perHeight.get(v.height) ?? 0) > 1;
    const label = `${base}${shared ? ` ${formatBitrate(v.bitrate)}` : ''}${source ? ' (source)' : ''}`;
    return {
      index,
      label,
      width: v.width,
      height: v.height,
      bitrate: v.bitrate,
      ...(v.averageBitrate ? { averageBitrate: v.averageBitrate } : {}),
      ...(v.frameRate ? { frameRate: v.frameRate } : {}),
      ...(v.codecs ? { codecs: v.codecs } : {}),
      source,
    };
  });
}

/**
 * The level to pin for a choice: the quality with that label; failing that (a new publish at another source
 * height), the one of the same height (labels `720p` and `720p (source)`); else undefined, which means ABR.
 */
export function levelForChoice(levels: readonly Quality[], choice: QualityChoice): number | undefined {
  if (choice === 'auto') return undefined;
  const exact = levels.find((q) => q.label === choice);
  if (exact) return exact.index;
  const height = Number.parseInt(choice, 10);
  return Number.isFinite(height) ? levels.find((q) => q.height === height)?.index : undefined;
}

/**
 * The level hls.js should start on in Auto: the highest it may choose (`maxAutoLevel`, which already leaves
 * out what the browser cannot decode or the size cap excludes). Starting high, the first segment is the best
 * picture; on a weak network the ABR's abandon rule drops within that first segment (see docs/player.md).
 */
export function startLevelFor(levelCount: number, maxAutoLevel: number): number {
  if (levelCount <= 0) return -1;
  return maxAutoLevel >= 0 && maxAutoLevel < levelCount ? maxAutoLevel : levelCount - 1;
}

/**
 * The text for the page's Auto option: `Auto (720p)` while Auto plays 720p (the source too: the readout beside
 * says which), `Auto` before anything plays and while pinned.
 */
export function autoOptionText(stats: Pick<QualityStats, 'auto' | 'playing'>): string {
  return stats.auto && stats.playing ? `Auto (${stats.playing.replace(/ \(source\)$/, '')})` : 'Auto';
}

/** The readout beside the selector: `Auto · 720p`, `480p`, or the native engine's playing height. */
export function qualityReadout(stats: Pick<QualityStats, 'auto' | 'playing' | 'levels'>): string {
  if (!stats.playing) return '';
  return stats.auto && stats.levels.length > 0 ? `Auto · ${stats.playing}` : stats.playing;
}
