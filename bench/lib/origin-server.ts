/**
 * The origin for the origin benchmark, in its own process (as a Lambda runs apart from its callers): the
 * same composition as functions/origin/build.ts (Powertools logger and EMF metrics at their production
 * settings, written to this process's stdout, which the benchmark discards; the upstream guard and the
 * playback key from the environment), with the task fetch wrapped to count upstream requests. Two listeners:
 *
 *   function URL  the handler behind local/function-url.ts (what the local stack serves; base64 segments);
 *   core          the origin core called directly, its body written as is (no event, no base64), to show
 *                 how much of the added latency is the function-URL envelope.
 *
 * Env: as the origin Lambda's (KEYFRAME_TABLE, KEYFRAME_DYNAMODB_ENDPOINT, KEYFRAME_SEGMENT_SECONDS,
 * KEYFRAME_UPSTREAM_CIDRS/PORTS, KEYFRAME_PLAYBACK_SECRET), plus BENCH_SEGMENT_CACHE_MS (0 turns the
 * segment cache off). IPC: sends {type:'ready', port, corePort}; answers {type:'counts'} with the
 * upstream counts (playlists, of them LL-HLS blocking reloads by query; everything else by path), {type:'reset'}, and {type:'exit'} (exits cleanly, so `--cpu-prof` writes its profile).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOriginFromEnv } from '../../functions/origin/build';
import { createHttpUpstream, type FetchUpstream } from '../../functions/origin/upstream';
import { startFunctionUrlServer } from '../../local/function-url';

const upstream = createHttpUpstream();
const counts = { playlist: 0, blocking: 0, byPlaylistQuery: {} as Record<string, number>, segment: 0, bySegment: {} as Record<string, number> };
const fetchUpstream: FetchUpstream = (req) => {
  const [file, query] = req.path.split('?');
  if (file.endsWith('.m3u8')) {
    counts.playlist++;
    if (query?.includes('_HLS_msn=')) {
      counts.blocking++;
      counts.byPlaylistQuery[query] = (counts.byPlaylistQuery[query] ?? 0) + 1;
    }
  } else {
    counts.segment++;
    counts.bySegment[req.path] = (counts.bySegment[req.path] ?? 0) + 1;
  }
  return upstream.fetch(req);
};
const segmentCacheMs = process.env.BENCH_SEGMENT_CACHE_MS !== undefined ? Number(process.env.BENCH_SEGMENT_CACHE_MS) : undefined;
const { origin, handler } = createOriginFromEnv({ env: process.env, fetchUpstream, segmentCacheMs });
const fnUrl = await startFunctionUrlServer({ handler: (event) => handler(event), port: 0, host: '127.0.0.1', functionName: 'keyframe-bench-origin' });

const core = http.createServer((req, res) => {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
  origin({ method: req.method ?? 'GET', path: req.url ?? '/', headers }).then(
    (r) => {
      res.writeHead(r.statusCode, { ...r.headers, 'content-length': String(r.body.length) });
      res.end(r.body);
    },
    () => {
      res.writeHead(500);
      res.end();
    },
  );
});
core.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => core.listen(0, '127.0.0.1', () => resolve()));

process.on('message', (m: { type?: string }) => {
  if (m?.type === 'exit')
    process.exit(0); // a clean exit writes a --cpu-prof profile
  else if (m?.type === 'counts') process.send?.({ type: 'counts', counts });
  else if (m?.type === 'reset') {
    counts.playlist = 0;
    counts.blocking = 0;
    counts.byPlaylistQuery = {};
    counts.segment = 0;
    counts.bySegment = {};
    process.send?.({ type: 'reset' });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', port: fnUrl.port, corePort: (core.address() as AddressInfo).port });
