/**
 * Player-like viewers of one stream, in their own process so their CPU stays out of the origin's: each
 * polls the media playlist every `pollMs` (± 20 %, phases spread over the first poll interval), starts at
 * the live edge (the last 3 segments), fetches the init segment (`#EXT-X-MAP`) once, and every segment it has
 * not fetched yet, for `seconds`.
 * Prints one JSON line with what they asked for and what they got.
 *
 *   node --import tsx bench/lib/viewers.ts '{"url":"http://127.0.0.1:1234/ID/index.m3u8","viewers":100,"seconds":10,"pollMs":500}'
 */
import http from 'node:http';
import { percentile } from './stats';

const opts = JSON.parse(process.argv[2] ?? '{}') as { url: string; viewers: number; seconds: number; pollMs: number };
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
  segmentRequests: 0,
  initRequests: 0,
  statuses: {} as Record<string, number>,
  segmentsAsked: new Set<string>(),
  playlistMs: [] as number[],
  segmentMs: [] as number[],
  bytes: 0,
};
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

await Promise.all(Array.from({ length: opts.viewers }, () => viewer()));
agent.destroy();
process.stdout.write(
  `${JSON.stringify({
    viewers: opts.viewers,
    seconds: opts.seconds,
    playlistRequests: stats.playlistRequests,
    segmentRequests: stats.segmentRequests,
    initRequests: stats.initRequests,
    distinctSegments: stats.segmentsAsked.size,
    segmentNames: [...stats.segmentsAsked],
    statuses: stats.statuses,
    bytes: stats.bytes,
    playlistMs: { p50: percentile(stats.playlistMs, 50), p99: percentile(stats.playlistMs, 99) },
    segmentMs: { p50: percentile(stats.segmentMs, 50), p99: percentile(stats.segmentMs, 99) },
  })}\n`,
);
