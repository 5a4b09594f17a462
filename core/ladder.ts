/**
 * Quality ladders (ABR, docs/ladder.md): the rungs a channel can ask for, and which of them a source gets. The
 * CLI writes a channel's rung names (`keys create|update --ladder`); the ingest transcodes a publish of such a
 * channel into every rung below the source's height (never up), beside the source itself, which stays a
 * passthrough variant.
 */

export interface Rung {
  /** `720p`: also the rendition playlist's name (`/<playbackId>/720p.m3u8`). */
  readonly name: string;
  /** Output height; the width keeps the source's aspect ratio (even). */
  readonly height: number;
  /** x264 target bitrate, kbit/s (VBV max the same, buffer one second). Audio: the source's AAC, copied (docs/ladder.md). */
  readonly videoKbps: number;
}

/** Every rung there is, highest first. Bitrates follow common streaming ladders (Twitch/YouTube/Apple guidance at 30 fps). */
export const RUNGS: readonly Rung[] = [
  { name: '1080p', height: 1080, videoKbps: 6000 },
  { name: '720p', height: 720, videoKbps: 3000 },
  { name: '480p', height: 480, videoKbps: 1500 },
  { name: '360p', height: 360, videoKbps: 800 },
  { name: '240p', height: 240, videoKbps: 400 },
  { name: '160p', height: 160, videoKbps: 250 },
];

/** `--ladder` with no list: the three rungs most ladders have below a 1080p source. */
export const DEFAULT_LADDER: readonly string[] = ['720p', '480p', '360p'];

/** The source variant's rendition playlist on a ladder channel (`index.m3u8` is the multivariant playlist then). */
export const SOURCE_RENDITION = 'source';

/** Parses `--ladder` (`true` for the flag alone, else a comma-separated list). Throws with the fix in the message. */
export function parseLadder(spec: string | true): string[] {
  if (spec === true || spec === '') return [...DEFAULT_LADDER];
  const names = spec.split(',').map((s) => s.trim().toLowerCase());
  const known = new Set(RUNGS.map((r) => r.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length > 0)
    throw new Error(`unknown ladder rung ${bad.map((b) => JSON.stringify(b)).join(', ')}: use some of ${RUNGS.map((r) => r.name).join(',')}`);
  const unique = [...new Set(names)];
  if (unique.length === 0) throw new Error(`--ladder needs at least one rung, e.g. --ladder ${DEFAULT_LADDER.join(',')}`);
  // Highest first, whatever order they were given in.
  return RUNGS.filter((r) => unique.includes(r.name)).map((r) => r.name);
}

/** The rungs of `ladder` strictly below the source's height (a rung is never an upscale or a copy of the source). */
export function rungsBelow(ladder: readonly string[], sourceHeight: number): Rung[] {
  return RUNGS.filter((r) => ladder.includes(r.name) && r.height < sourceHeight);
}

/** A rung's output size for a source: its height, the width from the source's aspect ratio, both even. */
export function rungSize(rung: Rung, source: { width: number; height: number }): { width: number; height: number } {
  const width = Math.max(2, Math.round((source.width * rung.height) / source.height / 2) * 2);
  return { width, height: rung.height };
}
