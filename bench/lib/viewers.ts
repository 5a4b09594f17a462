/**
 * Player-like viewers of one stream, in their own process so their CPU stays out of the origin's. Two kinds:
 *
 * - standard (default): each polls the media playlist every `pollMs` (± 20 %, phases spread over the first poll
 *   interval), starts at the live edge (the last 3 segments), fetches the init segment (`#EXT-X-MAP`) once, and
 *   every segment it has not fetched yet, for `seconds`;
 * - `ll`: LL-HLS, as hls.js in low-latency mode does: one plain playlist request to join (phases spread over
 *   `pollMs`), the init and the last 3 parts, then a blocking reload for the part the preload hint names
 *   (`_HLS_msn`/`_HLS_part`), and each part newly listed is fetched. A share `hintShare` of the viewers also
 *   fetches the preload-hint part while the reload is held, as Safari does. A failed reload joins again after
 *   `pollMs` (bounded by `seconds` like everything else).
 *
 * Prints one JSON line with what they asked for and what they got.
 *
 *   node --import tsx bench/lib/viewers.ts '{"url":"http://127.0.0.1:1234/ID/index.m3u8","viewers":100,"seconds":10,"pollMs":500}'
 *   node --import tsx bench/lib/viewers.ts '{"url":"…","viewers":100,"seconds":10,"pollMs":334,"ll":true,"hintShare":0.5}'
 */
import http from 'node:http';
import { blockingUrl, parseLowLatencyPlaylist } from './ll-playlist';
import { percentile } from './stats';

export interface ViewerOptions {
  readonly url: string;
  readonly viewers: number;
  readonly seconds: number;
  readonly pollMs: number;
  readonly ll?: boolean;
  readonly hintShare?: number;
}

export interface ViewerResult {
  viewers: number;
  seconds: number;
  playlistRequests: number;
  /** LL: of the playlist requests, blocking reloads. */
  blockingRequests: number;
  segmentRequests: number;
  /** LL: part requests, of them preload-hint fetches. */
  partRequests: number;
  hintRequests: number;
  initRequests: number;
  distinctSegments: number;
  segmentNames: string[];
  distinctParts: number;
  statuses: Record<string, number>;
  bytes: number;
  playlistBytes: number;
  playlistMs: { p50: number; p99: number };
  /** LL: how long a blocking reload was held (request → last byte). */
  blockingMs: { p50: number; p90: number; p99: number };
  /** LL: the newest part any viewer asked for in its first blocking reload after (re)joining. */
  joinedBy?: { msn: number; index: number };
  segmentMs: { p50: number; p99: number };
  partMs: { p50: number; p99: number };
}

const opts = JSON.parse(process.argv[2] ?? '{}') as ViewerOptions;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function get(url: string): Promise<{ status: number; body: Buffer; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
      res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0), ms: performance.now() - started }));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0), ms: performance.now() - started }));
  });
}

const stats = {
  playlistRequests: 0,
  blockingRequests: 0,
  segmentRequests: 0,
  partRequests: 0,
  hintRequests: 0,
  initRequests: 0,
  statuses: {} as Record<string, number>,
  segmentsAsked: new Set<string>(),
  partsAsked: new Set<string>(),
  playlistMs: [] as number[],
  blockingMs: [] as number[],
  segmentMs: [] as number[],
  partMs: [] as number[],
  bytes: 0,
  playlistBytes: 0,
  /** LL: the newest part any viewer asked for in its first blocking reload after (re)joining. */
  joinedBy: undefined as { msn: number; index: number } | undefined,
};
const status = (kind: string, code: number) => (stats.statuses[`${kind} ${code}`] = (stats.statuses[`${kind} ${code}`] ?? 0) + 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + opts.seconds * 1000;

async function viewer(): Promise<void> {
  const fetched = new Set<string>();
  let first = true;
  await new Promise((r) => setTimeout(r, Math.random() * opts.pollMs));
  while (Date.now() < deadline) {
    const started = Date.now();
    const pl = await get(opts.url);
    stats.playlistRequests++;
    stats.playlistMs.push(pl.ms);
    stats.statuses[`playlist ${pl.status}`] = (stats.statuses[`playlist ${pl.status}`] ?? 0) + 1;
    if (pl.status === 200) {
      const lines = pl.body
        .toString('utf8')
        .split('\n')
        .map((l) => l.trim());
      const uris = lines.filter((l) => l && !l.startsWith('#'));
      const todo = first ? uris.slice(-3) : uris.filter((u) => !fetched.has(u));
      first = false;
      for (const m of lines.filter((l) => l.startsWith('#EXT-X-MAP:'))) {
        const u = /URI="([^"]+)"/.exec(m)?.[1];
        if (!u || fetched.has(u)) continue;
        fetched.add(u);
        const s = await get(new URL(u, opts.url).toString());
        stats.initRequests++;
        stats.bytes += s.body.length;
        stats.statuses[`init ${s.status}`] = (stats.statuses[`init ${s.status}`] ?? 0) + 1;
      }
      for (const u of todo) {
        fetched.add(u);
        const s = await get(new URL(u, opts.url).toString());
        stats.segmentRequests++;
        stats.segmentMs.push(s.ms);
        stats.bytes += s.body.length;
        stats.segmentsAsked.add(u);
        stats.statuses[`segment ${s.status}`] = (stats.statuses[`segment ${s.status}`] ?? 0) + 1;
      }
    }
    const wait = opts.pollMs * (0.8 + Math.random() * 0.4) - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function fetchPart(uri: string, hint: boolean): Promise<void> {
  const s = await get(new URL(uri, opts.url).toString());
  stats.partRequests++;
  if (hint) stats.hintRequests++;
  stats.partMs.push(s.ms);
  stats.bytes += s.body.length;
  stats.partsAsked.add(uri);
  status(hint ? 'hint' : 'part', s.status);
}

/** One LL-HLS viewer (see the comment at the top). */
async function llViewer(useHint: boolean): Promise<void> {
  const fetched = new Set<string>();
  await sleep(Math.random() * opts.pollMs);
  while (Date.now() < deadline) {
    // Join: a plain playlist request, then the init and the newest parts.
    const pl = await get(opts.url);
    stats.playlistRequests++;
    stats.playlistMs.push(pl.ms);
    stats.playlistBytes += pl.body.length;
    status('playlist', pl.status);
    let list = pl.status === 200 ? parseLowLatencyPlaylist(pl.body.toString('utf8')) : undefined;
    if (list?.map && !fetched.has(list.map)) {
      fetched.add(list.map);
      const s = await get(new URL(list.map, opts.url).toString());
      stats.initRequests++;
      stats.bytes += s.body.length;
      status('init', s.status);
    }
    let todo = list ? list.parts.slice(-3) : [];
    let firstReload = true;
    while (list?.preloadHint && Date.now() < deadline) {
      for (const p of todo) {
        if (fetched.has(p.uri)) continue;
        fetched.add(p.uri);
        await fetchPart(p.uri, false);
      }
      const hint = list.preloadHint;
      if (firstReload) {
        const j = stats.joinedBy;
        if (!j || hint.msn > j.msn || (hint.msn === j.msn && hint.index > j.index)) stats.joinedBy = { msn: hint.msn, index: hint.index };
        firstReload = false;
      }
      let hintFetch: Promise<void> | undefined;
      if (useHint && !fetched.has(hint.uri)) {
        fetched.add(hint.uri);
        hintFetch = fetchPart(hint.uri, true);
      }
      const r = await get(blockingUrl(opts.url, hint.msn, hint.index));
      stats.playlistRequests++;
      stats.blockingRequests++;
      stats.blockingMs.push(r.ms);
      stats.playlistBytes += r.body.length;
      status('reload', r.status);
      await hintFetch;
      if (r.status !== 200) break;
      const next = parseLowLatencyPlaylist(r.body.toString('utf8'));
      todo = next.parts.filter((p) => !fetched.has(p.uri));
      list = next;
    }
    if (Date.now() < deadline) await sleep(opts.pollMs);
  }
}

await Promise.all(
  Array.from({ length: opts.viewers }, (_, i) => (opts.ll ? llViewer(i < Math.round((opts.hintShare ?? 0) * opts.viewers)) : viewer())),
);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({
    viewers: opts.viewers,
    seconds: opts.seconds,
    playlistRequests: stats.playlistRequests,
    blockingRequests: stats.blockingRequests,
    segmentRequests: stats.segmentRequests,
    partRequests: stats.partRequests,
    hintRequests: stats.hintRequests,
    initRequests: stats.initRequests,
    distinctSegments: stats.segmentsAsked.size,
    segmentNames: [...stats.segmentsAsked],
    distinctParts: stats.partsAsked.size,
    ...(stats.joinedBy ? { joinedBy: stats.joinedBy } : {}),
    statuses: stats.statuses,
    bytes: stats.bytes,
    playlistBytes: stats.playlistBytes,
    playlistMs: { p50: percentile(stats.playlistMs, 50), p99: percentile(stats.playlistMs, 99) },
    blockingMs: { p50: percentile(stats.blockingMs, 50), p90: percentile(stats.blockingMs, 90), p99: percentile(stats.blockingMs, 99) },
    segmentMs: { p50: percentile(stats.segmentMs, 50), p99: percentile(stats.segmentMs, 99) },
    partMs: { p50: percentile(stats.partMs, 50), p99: percentile(stats.partMs, 99) },
  } satisfies ViewerResult)}\n`,
);
