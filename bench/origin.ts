/**
 * The origin: added latency over a direct fetch from the task, coalescing under 100 viewers, and throughput
 * side by side with the seed's origin (nginx proxy_cache + proxy_cache_lock, ../shared/seeds/004), all in
 * front of the same ingest task of the local stack, fed by a looped 720p30 ~3 Mbps publisher (1 s segments).
 *
 *   origin (fn URL)  functions/origin composed as in build.ts, behind local/function-url.ts, in its own
 *                    process; Powertools logs and EMF metrics on (written to a discarded stdout);
 *   origin (core)    the same origin core called directly (no function-URL envelope, no base64);
 *   nginx 1w / auto  the seed's config with 1 worker (one core, as the single-threaded origin) and with
 *                    `worker_processes auto` (as in the seed).
 *
 * Latency: one request at a time, the targets interleaved request by request (so they share the noise),
 * p50/p99 each and the added p50/p99 against the direct fetch. Segments are measured twice: the origin with
 * its segment cache (a warm origin's repeat) and a second origin process with the cache off (every request
 * goes to the task). Coalescing: 100 player-like viewers (another process) poll the playlist every 0.5 s and
 * fetch every new segment, for --viewer-seconds; upstream fetches are counted at the task side (the origin's
 * fetch wrapped; a counting proxy between nginx and the task). Throughput: `wrk -t1 -c100`, bounded runs,
 * targets interleaved over --rounds rounds, medians.
 *
 * --profile adds one origin process per path under `node --cpu-prof` and one wrk run against it, and reports
 * where the origin spends its time (not counted in the comparison).
 *
 *   npx tsx bench/origin.ts [--requests 400] [--viewers 100] [--viewer-seconds 10] [--wrk-seconds 5] [--rounds 2] [--profile] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile';
import { playlistSegments, segmentNumber, startBenchStack } from './lib/live';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { freePort, nginxAvailable, nginxVersion, proxyCacheConfig, startNginx, type NginxProcess } from './lib/nginx';
import { median, percentile, round } from './lib/stats';
import { startCountingProxy } from './lib/taps';
import { originEnv, runViewers, startOriginChild } from './lib/origin-child';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** One GET over a keep-alive agent; ms from request to last byte. */
function timedGet(agent: http.Agent, port: number, path: string): Promise<{ status: number; ms: number; bytes: number; body: Buffer }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, bytes: body.length, body });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

interface WrkResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly mbPerSec: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const x = Number(m[1]);
  return m[2] === 'us' ? x / 1000 : m[2] === 'ms' ? x : m[2] === 's' ? x * 1000 : x * 60_000;
}

/** Runs wrk as a child (never synchronously: dynalite and the stack live in this process's event loop). */
async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let err = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), (seconds + 20) * 1000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(text);
      else reject(new Error(`wrk exited ${code}: ${err}`));
    });
  });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const mb = transfer ? Number(transfer[1]) * ({ B: 1 / 2 ** 20, KB: 1 / 1024, MB: 1, GB: 1024 } as Record<string, number>)[transfer[2]] : 0;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    mbPerSec: round(mb, 1),
  };
}

function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version
    return (err as { status?: number }).status === 1;
  }
}

const args = parseArgs();
const smoke = args.smoke;
const requests = args.number('requests', smoke ? 30 : 400);
const viewers = args.number('viewers', smoke ? 20 : 100);
const viewerSeconds = args.number('viewer-seconds', smoke ? 2 : 10);
const wrkSeconds = args.number('wrk-seconds', smoke ? 1 : 5);
const wrkConnections = args.number('connections', smoke ? 10 : 100);
const rounds = args.number('rounds', smoke ? 1 : 2);
const profile = args.flag('profile');
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

await runBench({ deadlineMs: smoke ? 120_000 : 30 * 60_000, cleanups }, async () => {
  const root = join(tmpdir(), `keyframe-bench-origin-${process.pid}`);
  mkdirSync(root, { recursive: true });
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: 1, seconds: 20 });
  const bs = await startBenchStack({ segmentSeconds: 1, name: 'origin' });
  cleanups.push(() => bs.stop());
  const channel = await bs.stack.createChannel('origin-bench');
  const budgetSeconds = smoke ? 60 : 900;
  const publisher = publishFile({
    file,
    url: bs.publishUrl(channel.streamKey),
    seconds: budgetSeconds,
    loop: true,
    outputOptions: ['-tcp_nodelay', '1'],
  });
  cleanups.push(() => publisher.stop());
  const task = bs.stack.fleet.list()[0];
  const hlsPort = task.hlsPort!;
  const id = channel.playbackId;
  const plPath = `/${id}/index.m3u8`;

  // The stream is up: at least 3 segments on the task.
  const directAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const upDeadline = Date.now() + 30_000;
  for (;;) {
    const r = await timedGet(directAgent, hlsPort, plPath).catch(() => undefined);
    if (r?.status === 200 && playlistSegments(r.body.toString()).length >= 3) break;
    if (Date.now() > upDeadline) throw new Error('the stream did not come up');
    await sleep(200);
  }
  progress('stream is live; starting the origins and nginx');

  const env = originEnv(bs.stack);
  const originHit = await startOriginChild(env);
  cleanups.push(() => originHit.stop());
  const originMiss = await startOriginChild({ ...env, BENCH_SEGMENT_CACHE_MS: '0' });
  cleanups.push(() => originMiss.stop());
  const counting = await startCountingProxy({ host: '127.0.0.1', port: hlsPort });
  cleanups.push(() => counting.close());
  const nginxes: Record<string, NginxProcess & { port: number }> = {};
  const haveNginx = nginxAvailable();
  if (!haveNginx) progress('nginx is not installed: the seed origin (proxy_cache) is left out');
  for (const [name, workers] of haveNginx
    ? ([
        ['nginx-1w', 1],
        ['nginx-auto', 'auto'],
      ] as const)
    : []) {
    const port = await freePort();
    const dir = join(root, name);
    const n = await startNginx({ dir, port, config: proxyCacheConfig({ dir, port, upstreamPort: counting.port, workers }) });
    cleanups.push(() => n.stop());
    nginxes[name] = Object.assign(n, { port });
  }

  // 1. Added latency, one request at a time, targets interleaved.
  type Target = { name: string; port: number; agent: http.Agent };
  const mk = (name: string, port: number): Target => ({ name, port, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) });
  const latTargets = {
    playlist: [
      mk('direct', hlsPort),
      mk('origin (fn URL)', originHit.port),
      mk('origin (core)', originHit.corePort),
      ...(haveNginx ? [mk('nginx-1w (cached ≤1 s)', nginxes['nginx-1w'].port)] : []),
    ],
    'segment, origin cache hit': [
      mk('direct', hlsPort),
      mk('origin (fn URL)', originHit.port),
      mk('origin (core)', originHit.corePort),
      ...(haveNginx ? [mk('nginx-1w (cached)', nginxes['nginx-1w'].port)] : []),
    ],
    'segment, origin cache off': [mk('direct', hlsPort), mk('origin (fn URL)', originMiss.port), mk('origin (core)', originMiss.corePort)],
  };
  const newestSegment = async () => {
    const r = await timedGet(directAgent, hlsPort, plPath);
    const segs = playlistSegments(r.body.toString());
    return `/${id}/${segs[segs.length - 1].uri}`;
  };
  const latency: Array<{ kind: string; target: string; p50: number; p99: number; addedP50?: number; addedP99?: number; bytes: number }> = [];
  for (const [kind, targets] of Object.entries(latTargets)) {
    const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    let path = kind === 'playlist' ? plPath : await newestSegment();
    let bytes = 0;
    // Warm each target (connections, route cache, segment cache) before timing.
    for (const t of targets) await timedGet(t.agent, t.port, path);
    for (let i = 0; i < requests; i++) {
      if (kind !== 'playlist' && i > 0 && i % 25 === 0) {
        path = await newestSegment();
        for (const t of targets) if (!t.name.startsWith('direct')) await timedGet(t.agent, t.port, path); // warm the caches
      }
      for (const t of i % 2 ? [...targets].reverse() : targets) {
        const r = await timedGet(t.agent, t.port, path);
        if (r.status !== 200) throw new Error(`${t.name} answered ${r.status} for ${path}`);
        samples.get(t.name)!.push(r.ms);
        bytes = r.bytes;
      }
    }
    const direct = samples.get('direct')!;
    for (const t of targets) {
      const xs = samples.get(t.name)!;
      const row = { kind, target: t.name, p50: round(percentile(xs, 50), 3), p99: round(percentile(xs, 99), 3), bytes };
      latency.push(
        t.name === 'direct'
          ? row
          : {
              ...row,
              addedP50: round(percentile(xs, 50) - percentile(direct, 50), 3),
              addedP99: round(percentile(xs, 99) - percentile(direct, 99), 3),
            },
      );
    }
    progress(`latency ${kind}: ${targets.map((t) => `${t.name} p50 ${round(percentile(samples.get(t.name)!, 50), 2)} ms`).join(', ')}`);
  }
  for (const t of Object.values(latTargets).flat()) t.agent.destroy();

  // 2. Coalescing: 100 viewers of one stream, upstream fetches counted at the task side.
  const coalescing: Array<{
    target: string;
    viewers: number;
    viewerRequests: number;
    distinctSegments: number;
    upstreamSegmentFetches: number;
    upstreamPerSegment: number;
    upstreamPlaylistPerSecond: number;
    viewerPlaylistPerSecond: number;
    failures: number;
    segmentP50Ms: number;
    segmentP99Ms: number;
  }> = [];
  for (const target of haveNginx ? (['origin (fn URL)', 'nginx-auto'] as const) : (['origin (fn URL)'] as const)) {
    const port = target === 'nginx-auto' ? nginxes['nginx-auto'].port : originHit.port;
    if (target === 'nginx-auto') counting.reset();
    else await originHit.reset();
    // Only segments that appear while the viewers watch count: older ones may sit in a cache already.
    const before = segmentNumber(await newestSegment());
    const v = await runViewers({ url: `http://127.0.0.1:${port}${plPath}`, viewers, seconds: viewerSeconds, pollMs: 500 });
    const c = target === 'nginx-auto' ? counting.counts : await originHit.counts();
    const fresh = v.segmentNames.filter((n) => segmentNumber(n) > before);
    v.distinctSegments = fresh.length;
    const upstream = fresh.reduce((s, n) => s + (c.bySegment[`/${id}/${n}`] ?? 0), 0);
    const failures = Object.entries(v.statuses)
      .filter(([k]) => !k.endsWith(' 200'))
      .reduce((s, [, x]) => s + x, 0);
    coalescing.push({
      target,
      viewers,
      viewerRequests: v.playlistRequests + v.segmentRequests + v.initRequests,
      distinctSegments: v.distinctSegments,
      upstreamSegmentFetches: upstream,
      upstreamPerSegment: round(upstream / Math.max(1, v.distinctSegments), 3),
      upstreamPlaylistPerSecond: round(c.playlist / viewerSeconds, 2),
      viewerPlaylistPerSecond: round(v.playlistRequests / viewerSeconds, 1),
      failures,
      segmentP50Ms: round(v.segmentMs.p50, 2),
      segmentP99Ms: round(v.segmentMs.p99, 2),
    });
    progress(`coalescing ${target}: ${upstream} upstream fetches for ${v.distinctSegments} segments, ${failures} failures`);
  }

  // 3. Throughput with wrk, targets interleaved over rounds.
  const throughput: Array<{
    kind: string;
    target: string;
    rounds: WrkResult[];
    medianRps: number;
    p50Ms: number;
    p99Ms: number;
    mbPerSec: number;
    non2xx: number;
    errors: number;
  }> = [];
  const haveWrk = wrkAvailable();
  if (haveWrk) {
    const wrkTargets = [
      { name: 'origin (fn URL)', port: originHit.port },
      ...(haveNginx
        ? [
            { name: 'nginx-1w', port: nginxes['nginx-1w'].port },
            { name: 'nginx-auto', port: nginxes['nginx-auto'].port },
          ]
        : []),
    ];
    for (const kind of ['playlist', 'segment'] as const) {
      // The newest segment, fetched once through each target so every cache holds it for the runs (the task
      // drops it from memory ~16 s later; the origin keeps segments 60 s, nginx `proxy_cache_valid 60s`).
      const path = kind === 'playlist' ? plPath : await newestSegment();
      for (const t of wrkTargets) {
        const warm = await timedGet(directAgent, t.port, path);
        if (warm.status !== 200) throw new Error(`${t.name} answered ${warm.status} for ${path} before the wrk runs`);
      }
      const byTarget = new Map<string, WrkResult[]>(wrkTargets.map((t) => [t.name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const t of r % 2 ? [...wrkTargets].reverse() : wrkTargets) {
          const res = await wrk(`http://127.0.0.1:${t.port}${path}`, wrkConnections, wrkSeconds);
          byTarget.get(t.name)!.push(res);
          progress(
            `wrk ${kind} ${t.name}: ${res.requestsPerSec} req/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms${res.non2xx ? `, ${res.non2xx} non-2xx` : ''}`,
          );
          if (res.non2xx > res.requestsPerSec * wrkSeconds * 0.01)
            throw new Error(`wrk ${kind} ${t.name}: ${res.non2xx} non-2xx answers; the run is not valid`);
        }
      }
      for (const t of wrkTargets) {
        const rs = byTarget.get(t.name)!;
        throughput.push({
          kind,
          target: t.name,
          rounds: rs,
          medianRps: round(median(rs.map((x) => x.requestsPerSec)), 0),
          p50Ms: round(median(rs.map((x) => x.p50Ms)), 2),
          p99Ms: round(median(rs.map((x) => x.p99Ms)), 2),
          mbPerSec: round(median(rs.map((x) => x.mbPerSec)), 0),
          non2xx: rs.reduce((s, x) => s + x.non2xx, 0),
          errors: rs.reduce((s, x) => s + x.errors, 0),
        });
      }
    }
  } else progress('wrk is not installed: throughput left out');

  // Where the origin's time goes under load: a separate origin process with --cpu-prof, one wrk run per path.
  const profiles: Array<{ kind: string; summary: ProfileSummary }> = [];
  if (profile && haveWrk) {
    for (const kind of ['playlist', 'segment'] as const) {
      const path = kind === 'playlist' ? plPath : await newestSegment();
      const dir = join(root, `cpuprof-${kind}`);
      mkdirSync(dir, { recursive: true });
      const o = await startOriginChild(env, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      await timedGet(directAgent, o.port, path);
      const from = Date.now() - o.spawnedAt;
      await wrk(`http://127.0.0.1:${o.port}${path}`, wrkConnections, wrkSeconds);
      const to = Date.now() - o.spawnedAt;
      await o.stop();
      const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
      if (f) {
        profiles.push({
          kind,
          summary: summarizeProfile(
            join(dir, f),
            (url) =>
              url.startsWith('file://')
                ? relative(REPO, fileURLToPath(url)).replace(/^node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*$/, 'node_modules/$1')
                : url,
            12,
            { fromMs: from, toMs: to },
          ),
        });
      }
    }
  }
  directAgent.destroy();

  const ratio = (kind: string, nginx: string) => {
    const k = throughput.find((t) => t.kind === kind && t.target === 'origin (fn URL)');
    const n = throughput.find((t) => t.kind === kind && t.target === nginx);
    return k && n && n.medianRps > 0 ? round(k.medianRps / n.medianRps, 3) : Number.NaN;
  };
  const ratios = {
    playlistVsNginx1w: ratio('playlist', 'nginx-1w'),
    playlistVsNginxAuto: ratio('playlist', 'nginx-auto'),
    segmentVsNginx1w: ratio('segment', 'nginx-1w'),
    segmentVsNginxAuto: ratio('segment', 'nginx-auto'),
  };
  const report = [
    `### Added latency (${requests} sequential requests per target, interleaved; ms, request → last byte)`,
    '',
    table(
      ['what', 'target', 'p50', 'p99', 'added p50', 'added p99', 'body bytes'],
      latency.map((l) => [l.kind, l.target, l.p50, l.p99, l.addedP50 ?? '—', l.addedP99 ?? '—', l.bytes]),
    ),
    '',
    `### Coalescing (${viewers} viewers of one stream, ${viewerSeconds} s, playlist every 0.5 s ± 20 %, 1 s segments; segments that appeared during the run)`,
    '',
    table(
      [
        'target',
        'viewer requests',
        'distinct segments',
        'upstream segment fetches',
        'upstream fetches per segment',
        'playlist: viewer req/s → upstream req/s',
        'failures',
        'segment p50 / p99 ms',
      ],
      coalescing.map((c) => [
        c.target,
        c.viewerRequests,
        c.distinctSegments,
        c.upstreamSegmentFetches,
        `**${c.upstreamPerSegment.toFixed(2)}**`,
        `${c.viewerPlaylistPerSecond} → ${c.upstreamPlaylistPerSecond}`,
        c.failures,
        `${c.segmentP50Ms} / ${c.segmentP99Ms}`,
      ]),
    ),
    '',
    ...(haveWrk
      ? [
          `### Throughput (wrk -t1 -c${wrkConnections} -d${wrkSeconds}s, ${rounds} round(s), medians; ${nginxVersion()})`,
          '',
          table(
            ['what', 'target', 'req/s', 'p50 ms', 'p99 ms', 'MB/s', 'non-2xx', 'socket errors'],
            throughput.map((t) => [t.kind, t.target, `**${t.medianRps}**`, t.p50Ms, t.p99Ms, t.mbPerSec, t.non2xx, t.errors]),
          ),
          '',
          `Keyframe origin / nginx proxy_cache, req/s: playlist ${ratios.playlistVsNginx1w}× (1 worker), ${ratios.playlistVsNginxAuto}× (auto); segment ${ratios.segmentVsNginx1w}× (1 worker), ${ratios.segmentVsNginxAuto}× (auto).`,
        ]
      : ['Throughput: wrk is not installed; left out.']),
    ...profiles.flatMap((p) => [
      '',
      `### Profile of the origin process under wrk, ${p.kind} (node --cpu-prof over the wrk run; ${p.summary.busyMs} ms busy of ${p.summary.wallMs} ms)`,
      '',
      table(
        ['module (self time)', 'ms', '% of busy'],
        p.summary.byModule.slice(0, 10).map((m) => [m.module, m.ms, m.share]),
      ),
      '',
      table(
        ['function (self time)', 'module', 'ms', '% of busy'],
        p.summary.topFunctions.slice(0, 10).map((f) => [f.fn, f.module, f.ms, f.share]),
      ),
    ]),
  ].join('\n');
  finish(
    args,
    'origin',
    machine,
    { haveNginx, haveWrk, latency, coalescing, throughput, ratios, wrkConnections, wrkSeconds, viewers, viewerSeconds, requests, profiles },
    report,
  );
});
