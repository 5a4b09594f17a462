import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAGE_CSP } from '../../local/player-routes';
import { buildPlayerAssets, type PlayerAssets } from '../../player/build';
import { STYLES, watchPage } from '../../player/pages';
import type { Page } from './browser';
import { waitFor } from './wait';

/**
 * A quality ladder without the ingest: one ffmpeg encodes a 150 s test pattern once into three HLS variants at
 * distinct resolutions and constant bitrates (x264 `nal-hrd=cbr`, so the bytes on the wire match `BANDWIDTH`),
 * with ffmpeg's own multivariant playlist. A small HTTP server then serves them as a live stream: each media
 * playlist is a sliding window over the encoded segments, one more listed every half second of wall clock, with
 * program date-times, and no end marker until the encode runs out. The player page and its scripts come from
 * the same server (same origin, same CSP as the local stack), so the page plays `/<playbackId>/index.m3u8`
 * exactly as it does through the origin.
 *
 * The encode is cached under the OS temp dir (about 60 MB, ~10 s of one core to make), keyed by its settings.
 */

export interface FixtureVariant {
  /** The rendition playlist's name: `source`, `270p`, `180p`. */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** x264 CBR target, kbit/s. */
  readonly videoKbps: number;
}

/** Highest first. The top one plays the source variant of a ladder channel (`source.m3u8`). */
export const FIXTURE_VARIANTS: readonly FixtureVariant[] = [
  { name: 'source', width: 640, height: 360, videoKbps: 2000 },
  { name: '270p', width: 480, height: 270, videoKbps: 700 },
  { name: '180p', width: 320, height: 180, videoKbps: 250 },
];

const SECONDS = 150;
const FPS = 24;
/**
 * Half-second segments (a keyframe each): with the standard tuning's sync distance (one target duration, 1 s,
 * plus 0.3 s) the buffer ahead then stays between 0.8 and 1.3 s and is topped up every half second, about
 * what LL-HLS parts give a ladder channel (0.334 s parts, 1 s hold-back), which ffmpeg's muxer cannot make.
 */
const SEGMENT_SECONDS = 0.5;
const AUDIO_KBPS = 64;
const CACHE_KEY = `kf-ladder-fixture-v1-${SECONDS}s-${FPS}-${SEGMENT_SECONDS}-${FIXTURE_VARIANTS.map((v) => `${v.name}.${v.height}.${v.videoKbps}`).join('_')}`;

/** Encodes the variants (once: later calls reuse the cached directory). Returns the directory. */
export async function encodeLadderFixture(): Promise<string> {
  const dir = join(tmpdir(), CACHE_KEY);
  if (existsSync(join(dir, 'index.m3u8'))) return dir;
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const n = FIXTURE_VARIANTS.length;
  const split = `[0:v]split=${n}${FIXTURE_VARIANTS.map((_, i) => `[s${i}]`).join('')};${FIXTURE_VARIANTS.map((v, i) => `[s${i}]scale=${v.width}:${v.height}[v${i}]`).join(';')}`;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${FIXTURE_VARIANTS[0].width}x${FIXTURE_VARIANTS[0].height}:rate=${FPS}`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100',
    '-t',
    String(SECONDS),
    '-filter_complex',
    split,
    ...FIXTURE_VARIANTS.flatMap((_, i) => ['-map', `[v${i}]`]),
    ...FIXTURE_VARIANTS.flatMap(() => ['-map', '1:a']),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(FPS * SEGMENT_SECONDS),
    '-keyint_min',
    String(FPS * SEGMENT_SECONDS),
    '-sc_threshold',
    '0',
    '-force_key_frames',
    `expr:gte(t,n_forced*${SEGMENT_SECONDS})`,
    ...FIXTURE_VARIANTS.flatMap((v, i) => [
      `-b:v:${i}`,
      `${v.videoKbps}k`,
      `-maxrate:v:${i}`,
      `${v.videoKbps}k`,
      `-bufsize:v:${i}`,
      `${Math.round(v.videoKbps / 2)}k`,
    ]),
    '-x264-params',
    'nal-hrd=cbr',
    '-c:a',
    'aac',
    '-b:a',
    `${AUDIO_KBPS}k`,
    '-ac',
    '1',
    '-f',
    'hls',
    '-hls_time',
    String(SEGMENT_SECONDS),
    '-hls_playlist_type',
    'vod',
    '-hls_segment_filename',
    join(work, '%v_%04d.ts'),
    '-master_pl_name',
    'index.m3u8',
    '-var_stream_map',
    FIXTURE_VARIANTS.map((v, i) => `v:${i},a:${i},name:${v.name}`).join(' '),
    join(work, '%v.m3u8'),
  ];
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg (ladder fixture) exited ${code}: ${stderr}`))));
  });
  // Another process may have finished first: theirs is as good.
  if (existsSync(join(dir, 'index.m3u8'))) await rm(work, { recursive: true, force: true });
  else await rename(work, dir);
  return dir;
}

interface Segment {
  readonly uri: string;
  readonly duration: number;
  /** Media start, seconds from the first segment. */
  readonly start: number;
}

function parseVod(text: string): Segment[] {
  const out: Segment[] = [];
  let duration = 0;
  let start = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#')) {
      out.push({ uri: line, duration, start });
      start += duration;
    }
  }
  return out;
}

export interface LadderFixture {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly playbackId: string;
  /** The watch page: `/watch/<playbackId>`. */
  readonly playerUrl: string;
  /** ffmpeg's multivariant playlist, as served. */
  readonly multivariant: string;
  /** Each variant's advertised `BANDWIDTH` (bit/s), in the multivariant playlist's order (highest first). */
  readonly bandwidths: readonly number[];
  /** Bytes served per variant name since the start (segments only). */
  readonly bytesServed: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/** Segments listed at the start, and the live window's length. */
const START_SEGMENTS = 8;
const WINDOW = 12;

/**
 * Serves the encoded variants live, and the player page, on 127.0.0.1. The stream starts when the server does
 * (`START_SEGMENTS` already listed) and ends (`#EXT-X-ENDLIST`) when the encode runs out.
 */
export async function startLadderFixture(
  opts: {
    playbackId?: string;
    /** Variants whose playlist ends (`#EXT-X-ENDLIST`) this many seconds after the start, the others going on. */
    endVariantsAfter?: Readonly<Record<string, number>>;
    /** Variants the multivariant playlist lists only from this many seconds after the start (a rung not ready yet). */
    listVariantsAfter?: Readonly<Record<string, number>>;
  } = {},
): Promise<LadderFixture> {
  const dir = await encodeLadderFixture();
  const playbackId = opts.playbackId ?? 'LadderFixtur';
  const multivariant = await readFile(join(dir, 'index.m3u8'), 'utf8');
  const variants = new Map<string, Segment[]>();
  for (const v of FIXTURE_VARIANTS) variants.set(v.name, parseVod(await readFile(join(dir, `${v.name}.m3u8`), 'utf8')));
  const files = new Set(await readdir(dir));
  const bandwidths = [...multivariant.matchAll(/BANDWIDTH=(\d+)/g)].map((m) => Number(m[1]));
  const bytesServed: Record<string, number> = Object.fromEntries(FIXTURE_VARIANTS.map((v) => [v.name, 0]));
  let assets: Promise<PlayerAssets> | undefined;
  const page = watchPage({ streamsHref: '/' });
  const t0 = Date.now();
  // The wall clock at media time 0: the START_SEGMENTS first segments are already "made".
  const first = variants.get(FIXTURE_VARIANTS[0].name) ?? [];
  const lead = first.slice(0, START_SEGMENTS).reduce((s, x) => s + x.duration, 0);
  const epochMs = t0 - lead * 1000;

  /** The multivariant playlist now: without the variants `listVariantsAfter` holds back still. */
  const listed = (): string => {
    const later = opts.listVariantsAfter;
    if (!later) return multivariant;
    const lines = multivariant.split('\n');
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const after = lines[i].startsWith('#EXT-X-STREAM-INF:') ? later[(lines[i + 1] ?? '').replace(/\.m3u8$/, '')] : undefined;
      if (after !== undefined && Date.now() - t0 < after * 1000) {
        i++;
        continue;
      }
      out.push(lines[i]);
    }
    return out.join('\n');
  };

  const livePlaylist = (name: string, segments: readonly Segment[]): string => {
    const endAfter = opts.endVariantsAfter?.[name];
    const cut = endAfter !== undefined && Date.now() - t0 >= endAfter * 1000;
    const elapsed = (Math.min(Date.now(), cut ? t0 + (endAfter ?? 0) * 1000 : Date.now()) - epochMs) / 1000;
    let available = 0;
    while (available < segments.length && segments[available].start + segments[available].duration <= elapsed + 1e-6) available++;
    const ended = cut || available >= segments.length;
    const from = Math.max(0, available - WINDOW);
    const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:1', `#EXT-X-MEDIA-SEQUENCE:${from}`];
    for (let i = from; i < available; i++) {
      const s = segments[i];
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(epochMs + s.start * 1000).toISOString()}`, `#EXTINF:${s.duration.toFixed(6)},`, s.uri);
    }
    if (ended) lines.push('#EXT-X-ENDLIST');
    return `${lines.join('\n')}\n`;
  };

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const html = { 'Content-Security-Policy': PAGE_CSP };
    if (path === `/watch/${playbackId}`) return send(res, 200, 'text/html; charset=utf-8', page, html);
    if (path === '/watch/player.css') return send(res, 200, 'text/css; charset=utf-8', STYLES);
    if (path === '/watch/player.js' || path === '/watch/hls.worker.js') {
      assets ??= buildPlayerAssets();
      const name = path.slice('/watch/'.length) as keyof PlayerAssets['scripts'];
      return send(res, 200, 'text/javascript; charset=utf-8', (await assets).scripts[name]);
    }
    if (path === '/api/streams') return send(res, 200, 'application/json', JSON.stringify({ streams: [{ playbackId, name: 'ladder fixture' }] }));
    const prefix = `/${playbackId}/`;
    if (!path.startsWith(prefix)) return send(res, 404, 'text/plain', 'not found');
    const name = path.slice(prefix.length);
    if (name === 'index.m3u8') return send(res, 200, 'application/vnd.apple.mpegurl', listed());
    const variant = /^([a-z0-9]+)\.m3u8$/.exec(name)?.[1];
    const segments = variant ? variants.get(variant) : undefined;
    if (variant && segments) return send(res, 200, 'application/vnd.apple.mpegurl', livePlaylist(variant, segments));
    if (/^[a-z0-9]+_\d{4}\.ts$/.test(name) && files.has(name)) {
      const body = await readFile(join(dir, name));
      const v = name.slice(0, name.indexOf('_'));
      bytesServed[v] = (bytesServed[v] ?? 0) + body.length;
      return send(res, 200, 'video/mp2t', body, { 'Cache-Control': 'max-age=3600' });
    }
    return send(res, 404, 'text/plain', 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, 'text/plain', err.message);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    playbackId,
    playerUrl: `${url}/watch/${playbackId}`,
    multivariant,
    bandwidths,
    bytesServed,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `window.keyframePlayer.quality()` as the tests read it. */
export interface QualityView {
  levels: Array<{ index: number; label: string; height: number; bitrate: number; source: boolean }>;
  current: number;
  playing?: string;
  auto: boolean;
  choice: string;
  switches: number;
  switchLog: Array<{ at: number; label: string }>;
  dropped?: string[];
  reattached?: number;
  estimateResets?: number;
  firstLoad?: string;
  repinned?: number;
  resolution?: { width: number; height: number };
}

/** What the ladder tests read of the watch page: the player's quality and stalls, the selector, the readout. */
export interface LadderView {
  state?: string;
  currentTime: number;
  quality: QualityView | null;
  /** `stats().playbackStalls`. */
  stalls: { count: number; longestMs: number; ongoingMs?: number; recent: Array<{ at: number; ms: number }> };
  /** The longest wall-clock gap between two `timeupdate`s that moved the picture, since the last reset (ms). */
  maxGapMs: number;
  pickerHidden: boolean;
  options: string[];
  selected: string;
  readout: string;
  readoutHidden: boolean;
  bandwidthEstimate?: number;
}

// Strings, so the bundler's helpers (tsx) never leak into the browser.
export const LADDER_VIEW = `(() => {
  const v = document.getElementById('video');
  const p = window.keyframePlayer;
  const s = p ? p.stats() : undefined;
  const sel = document.getElementById('quality');
  const now = document.getElementById('quality-now');
  const g = window.__kfProgress;
  const h = p && p.player ? p.player.hls : null;
  return {
    state: document.getElementById('player')?.dataset.state,
    currentTime: v ? v.currentTime : 0,
    quality: p ? p.quality() : null,
    stalls: s ? s.playbackStalls : { count: 0, longestMs: 0, recent: [] },
    maxGapMs: g ? Math.max(g.maxGap, g.open()) : 0,
    pickerHidden: document.getElementById('quality-picker').hidden,
    options: [...sel.options].map((o) => o.text),
    selected: sel.value,
    readout: now.textContent,
    readoutHidden: now.hidden,
    bandwidthEstimate: h ? h.bandwidthEstimate : undefined,
  };
})()`;

/** Records the longest gap between picture-moving `timeupdate`s (window.__kfProgress); `reset()` starts over. */
export const RECORD_PROGRESS = `(() => {
  const v = document.getElementById('video');
  const g = { last: performance.now(), t: v.currentTime, maxGap: 0,
    open: () => (v.paused ? 0 : performance.now() - g.last),
    reset: () => { g.maxGap = 0; g.last = performance.now(); g.t = v.currentTime; } };
  window.__kfProgress = g;
  // Any change of currentTime outside a seek is the picture moving: a new hls.js instance on the same video (a
  // ladder's multivariant playlist that gained a variant) starts a new media timeline, lower than the old one.
  v.addEventListener('timeupdate', () => {
    if (v.currentTime !== g.t && !v.seeking) {
      const now = performance.now();
      g.maxGap = Math.max(g.maxGap, now - g.last);
      g.last = now;
      g.t = v.currentTime;
    }
  });
})()`;

/** The page's view now. */
export function ladderView(page: Page): Promise<LadderView> {
  return page.evaluate(LADDER_VIEW) as Promise<LadderView>;
}

/** Polls the page's view until `ok` holds; fails after `timeoutMs` with what the page showed last. */
export async function waitLadderView(page: Page, what: string, ok: (v: LadderView) => boolean, timeoutMs: number): Promise<LadderView> {
  let last: LadderView | undefined;
  return waitFor(
    what,
    async () => {
      last = await ladderView(page);
      return ok(last) ? last : undefined;
    },
    { timeoutMs, everyMs: 200, detail: () => JSON.stringify(last) },
  );
}
