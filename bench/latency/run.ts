import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { buildPlayerAssets } from '../../player/build';
import { percentile } from '../../player/src/playlist';
import { DEFAULT_PDT_OFFSET_SECONDS } from '../../player/src/tuning';
import { launchBrowser } from '../../test/support/browser';
import { startClockPublisher } from './clock-publisher';
import type { BenchPlayerSpec, Sample } from './page';

/**
 * Glass-to-glass latency, Keyframe vs a raw ffmpeg → HLS directory → static server pipeline, fed the same
 * encoded frames at the same time and played side by side in one headless Chromium page by the same player
 * core (bench/latency/page.ts). Capture time is burned into each frame (clock-code.ts) and read back from a
 * canvas for every frame shown.
 *
 *   npx tsx bench/latency/run.ts                      # the default scenarios, 3 sessions × 12 s each
 *   npx tsx bench/latency/run.ts --scenarios s1-g1 --repeat 5 --seconds 20
 *   npx tsx bench/latency/run.ts --smoke                  # one 3 s session: does the harness still work
 *   npx tsx bench/latency/run.ts --out results.json       # where the JSON goes (default test-artifacts/latency.json)
 *
 * The Keyframe side is the whole local stack: RTMP into the ingest task's in-process packager (CMAF, fMP4
 * segments served from memory), through the origin; the raw side is ffmpeg's own HLS muxer (MPEG-TS) on disk.
 */

const HERE = dirname(fileURLToPath(import.meta.url));

interface Scenario {
  readonly name: string;
  readonly segmentSeconds: number;
  readonly gopSeconds: number;
  readonly tuning: BenchPlayerSpec['tuning'];
  readonly hlsConfig?: BenchPlayerSpec['hlsConfig'];
  /** Merged over `hlsConfig` for the Keyframe player only (the raw pipeline is standard HLS). */
  readonly keyframeHlsConfig?: BenchPlayerSpec['hlsConfig'];
  readonly alignReloads?: boolean;
  readonly syncMarginSeconds?: number;
  /** `mid` (default): the viewer opens the page 8 s into the publish; `start`: before it begins. */
  readonly join?: 'mid' | 'start';
  /** LL-HLS on the ingest (KEYFRAME_LL_HLS: parts, blocking reloads; the player picks its LL tuning). Default off: standard HLS. */
  readonly lowLatency?: boolean;
  /**
   * Issue 14: publish at width×height to a ladder channel with these rungs; the two players are then its source
   * variant (`source.m3u8`, shown as `source`) and the rung `play` (`<play>.m3u8`), both through the origin.
   */
  readonly ladder?: { readonly rungs: string; readonly play: string; readonly width: number; readonly height: number };
  /** LL-HLS part duration on the ingest (KEYFRAME_PART_SECONDS); the ingest's default (0.334 s) otherwise. */
  readonly partSeconds?: number;
  readonly note: string;
}

const SCENARIOS: Scenario[] = [
  { name: 's1-g1', segmentSeconds: 1, gopSeconds: 1, tuning: 'keyframe', note: 'default: 1 s segments, 1 s GOP, the /watch tuning' },
  {
    name: 's1-g2',
    segmentSeconds: 1,
    gopSeconds: 2,
    tuning: 'keyframe',
    note: 'segment setting 1 s with a 2 s GOP (so 2 s segments), /watch tuning',
  },
  { name: 's2-g2', segmentSeconds: 2, gopSeconds: 2, tuning: 'keyframe', note: '2 s segments, 2 s GOP, /watch tuning' },
  {
    name: 's1-g1-start',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    join: 'start',
    note: 'as s1-g1, the viewer is there before the publish starts',
  },
  {
    name: 's1-g1-beat',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    alignReloads: false,
    note: 'as s1-g1, playlist reloads on hls.js fixed beat (no aligned loader)',
  },
  {
    name: 's1-g1-cache',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    // null: hls.js falls back to its default XHR loader, which the browser's HTTP cache may answer.
    hlsConfig: { pLoader: null, fetchSetup: null } as unknown as BenchPlayerSpec['hlsConfig'],
    note: 'as s1-g1-beat, and playlists through the browser cache (hls.js default loader)',
  },
  {
    name: 's1-g1-m02',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    syncMarginSeconds: 0.2,
    note: 'as s1-g1, sync margin 0.2 s beyond one target duration (the /watch tuning has 0.3 s)',
  },
  {
    name: 's1-g1-sync1',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    hlsConfig: { liveSyncDurationCount: 1 },
    note: 'as s1-g1, 1 target duration behind the edge (hls.js minimum)',
  },
  {
    name: 's1-g1-rate11',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    hlsConfig: { maxLiveSyncPlaybackRate: 1.1 },
    note: 'as s1-g1, catching up at most 10 % faster (not 20 %)',
  },
  { name: 's1-g1-hlsjs', segmentSeconds: 1, gopSeconds: 1, tuning: 'hlsjs-defaults', note: '1 s segments, 1 s GOP, hls.js defaults' },
  {
    name: 's1-g1-ll',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    lowLatency: true,
    note: 'as s1-g1 with LL-HLS on the ingest (parts, blocking reloads; the /watch player switches to its LL tuning); raw stays standard HLS',
  },
  {
    name: 's1-g2-ll',
    segmentSeconds: 1,
    gopSeconds: 2,
    tuning: 'keyframe',
    lowLatency: true,
    note: 'as s1-g1-ll with a 2 s GOP (the OBS/Twitch keyframe interval): the packager still cuts 1 s segments and 0.334 s parts; raw makes 2 s segments',
  },
  {
    name: 's1-g2-ll-hb2',
    segmentSeconds: 1,
    gopSeconds: 2,
    tuning: 'keyframe',
    lowLatency: true,
    // The page's own sync options win over the LL tuning's (player/src/tuning.ts); null unsets the tuning's counts
    // (bench/latency/page.ts), as hls.js refuses a mix of the two forms. The raw side keeps its tuning.
    keyframeHlsConfig: {
      liveSyncDuration: 0.668,
      liveMaxLatencyDuration: 5,
      liveSyncDurationCount: null,
      liveMaxLatencyDurationCount: null,
    } as unknown as BenchPlayerSpec['hlsConfig'],
    note: 'as s1-g2-ll, the player 2 part targets (0.668 s, the LL-HLS minimum PART-HOLD-BACK) behind the edge instead of 3',
  },
  {
    name: 's1-g2-ll-p02',
    segmentSeconds: 1,
    gopSeconds: 2,
    tuning: 'keyframe',
    lowLatency: true,
    partSeconds: 0.2,
    note: 'as s1-g2-ll with 0.2 s parts (KEYFRAME_PART_SECONDS, the LL-HLS floor): the player keeps 3 part targets, 0.6 s',
  },
  {
    name: 's1-g1-ladder',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    ladder: { rungs: '720p,480p,360p', play: '360p', width: 1280, height: 720 },
    note: 'issue 14: a 720p publish to a ladder channel (rungs 480p and 360p): its source variant beside its 360p rung, standard HLS',
  },
  {
    name: 's1-g1-ladder-1080',
    segmentSeconds: 1,
    gopSeconds: 1,
    tuning: 'keyframe',
    ladder: { rungs: '720p,480p,360p', play: '720p', width: 1920, height: 1080 },
    note: 'issue 14: as s1-g1-ladder with a 1080p publish and the default ladder (720p, 480p, 360p): its source variant beside its 720p rung',
  },
  { name: 's2-g2-hlsjs', segmentSeconds: 2, gopSeconds: 2, tuning: 'hlsjs-defaults', note: '2 s segments, 2 s GOP, hls.js defaults' },
];
const DEFAULT_SCENARIOS = SCENARIOS.map((s) => s.name);
// (Every scenario but `-ll` is standard HLS: the ingest runs with KEYFRAME_LL_HLS=false.)

interface PipelineResult {
  readonly samples: number;
  readonly unreadable: number;
  readonly stalls: number;
  readonly startupMs?: number;
  /** Each publish session's own glass p50: where the player settled varies from session to session. */
  readonly sessionP50s: number[];
  readonly glass: { p50?: number; p95?: number; min?: number; max?: number };
  readonly pdt: { p50?: number; p95?: number };
  /** glass − pdt: how much the PDT readout reads low. */
  readonly pdtLag: { p50?: number; p95?: number };
  /** PDT + the player's default correction − glass. */
  readonly correctedError: { p50?: number; p95?: number };
  readonly edge: { p50?: number };
}

function summarize(samples: Sample[], unreadable: number, stalls: number, startupMs: number | undefined, sessionP50s: number[]): PipelineResult {
  const glass = samples.map((s) => s.glass);
  const pdt = samples.filter((s) => s.pdt !== null).map((s) => s.pdt as number);
  const lag = samples.filter((s) => s.pdt !== null).map((s) => s.glass - (s.pdt as number));
  const corrected = samples.filter((s) => s.pdt !== null).map((s) => (s.pdt as number) + DEFAULT_PDT_OFFSET_SECONDS * 1000 - s.glass);
  const edge = samples.filter((s) => s.edge !== null).map((s) => s.edge as number);
  return {
    samples: samples.length,
    unreadable,
    stalls,
    startupMs,
    sessionP50s,
    glass: { p50: percentile(glass, 50), p95: percentile(glass, 95), min: percentile(glass, 0), max: percentile(glass, 100) },
    pdt: { p50: percentile(pdt, 50), p95: percentile(pdt, 95) },
    pdtLag: { p50: percentile(lag, 50), p95: percentile(lag, 95) },
    correctedError: { p50: percentile(corrected, 50), p95: percentile(corrected, 95) },
    edge: { p50: percentile(edge, 50) },
  };
}

/** A static file server for the raw pipeline's HLS directory and the benchmark page. */
async function startStaticServer(files: Record<string, { body: string; type: string }>, rawRoot: string) {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const headers = { 'Access-Control-Allow-Origin': '*' };
    const file = files[path];
    if (file) {
      res.writeHead(200, { ...headers, 'Content-Type': file.type, 'Cache-Control': 'no-cache' });
      res.end(file.body);
      return;
    }
    if (path.startsWith('/raw/')) {
      const full = normalize(join(rawRoot, path.slice('/raw/'.length)));
      if (full.startsWith(rawRoot) && (await stat(full).catch(() => undefined))?.isFile()) {
        const playlist = full.endsWith('.m3u8');
        // Like a plain web server: no caching for the playlist, segments cacheable.
        res.writeHead(200, {
          ...headers,
          'Content-Type': playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
          'Cache-Control': playlist ? 'no-cache' : 'max-age=3600',
        });
        createReadStream(full).pipe(res);
        return;
      }
    }
    res.writeHead(404, headers);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A viewer who joins a running stream finds a full playlist (6 segments of 1 s, 4 of 2 s). */
const JOIN_AFTER_MS = 8000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A pipeline's name in the report: a ladder scenario plays the source variant and a rung. */
const label = (s: Scenario, id: 'keyframe' | 'raw') => (s.ladder ? (id === 'keyframe' ? 'source' : `rung ${s.ladder.play}`) : id);
const fmt = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

function machine(): string[] {
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return [
    `date: ${new Date().toISOString()}`,
    `nproc: ${run('nproc', [])} (${cpus()[0]?.model ?? '?'})`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; free -h: ${run('free', ['-h']).split('\n')[1]?.replace(/\s+/g, ' ') ?? '?'}`,
    `node: ${process.version}; ${run('ffmpeg', ['-hide_banner', '-version']).split('\n')[0]}; ${run(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'])}`,
  ];
}

async function main(): Promise<void> {
  // The stack's own logs and metrics would drown the report; warnings and errors still show.
  process.env.KEYFRAME_LOG_LEVEL ??= 'WARN';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: DEFAULT_SCENARIOS.join(',') },
      seconds: { type: 'string', default: '12' },
      repeat: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '6' },
      out: { type: 'string', default: 'test-artifacts/latency.json' },
      smoke: { type: 'boolean', default: false },
    },
  });
  // --smoke: one short session of the default scenario, to show the harness still works.
  if (values.smoke) Object.assign(values, { scenarios: 's1-g1', repeat: '1', seconds: '3', warmup: '1' });
  const scenarios = values.scenarios.split(',').map((n) => {
    const s = SCENARIOS.find((x) => x.name === n.trim());
    if (!s) throw new Error(`unknown scenario ${n}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
    return s;
  });
  const measureMs = Number(values.seconds) * 1000;
  const repeat = Math.max(1, Number(values.repeat));
  const warmupMs = Number(values.warmup) * 1000;

  const info = machine();
  const loadavgStart = Math.round(loadavg()[0] * 100) / 100;
  info.push(`load average (1 min) at start: ${loadavgStart}`);
  for (const line of info) console.log(line);
  console.log(`each scenario: ${repeat} publish session(s) × ${measureMs / 1000} s measured after ${warmupMs / 1000} s of playback\n`);

  const assets = await buildPlayerAssets();
  const pageJs = await build({
    entryPoints: [join(HERE, 'page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    minify: true,
    logLevel: 'silent',
  });
  const rawRoot = await mkdtemp(join(tmpdir(), 'kf-bench-raw-'));
  const server = await startStaticServer(
    {
      '/': {
        type: 'text/html',
        body: '<!doctype html><meta charset="utf-8"><style>body{margin:0;background:#111;color:#ddd;font:12px sans-serif}#grid{display:flex;gap:4px}figure{margin:0}video{width:470px;height:264px;background:#000}</style><div id="grid"></div><script src="/bench.js"></script>',
      },
      '/bench.js': { type: 'text/javascript', body: pageJs.outputFiles[0].text },
      '/watch/hls.worker.js': { type: 'text/javascript', body: assets.scripts['hls.worker.js'] },
    },
    rawRoot,
  );
  const browser = await launchBrowser({ args: ['--window-size=1300,420'] });
  let stack: LocalStack | undefined;
  let stackShape = '';
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const shape = `${scenario.segmentSeconds}/${scenario.lowLatency === true}/${scenario.partSeconds ?? ''}`;
      if (!stack || stackShape !== shape) {
        await stack?.stop();
        stack = await startLocalStack({
          rtmpPort: 0,
          httpPort: 0,
          segmentSeconds: scenario.segmentSeconds,
          taskEnv: {
            KEYFRAME_END_LINGER_SECONDS: '1',
            KEYFRAME_RECONNECT_GRACE_SECONDS: '1',
            KEYFRAME_LL_HLS: scenario.lowLatency ? 'true' : 'false',
            ...(scenario.partSeconds !== undefined ? { KEYFRAME_PART_SECONDS: String(scenario.partSeconds) } : {}),
          },
        });
        stackShape = shape;
      }
      console.log(`${scenario.name}: ${scenario.note}`);
      const runs: RunData[] = [];
      for (let i = 0; i < repeat; i++) {
        const run = await measureOnce(stack, server.url, rawRoot, browser, scenario, i, warmupMs, measureMs);
        runs.push(run);
        const line = (id: PipelineId) => {
          const g = run[id].samples.map((x) => x.glass);
          const e = run[id].samples.filter((x) => x.edge !== null).map((x) => x.edge as number);
          const t = run[id].samples.filter((x) => x.target !== null).map((x) => x.target as number);
          return `${label(scenario, id)} p50 ${fmt(percentile(g, 50))} p95 ${fmt(percentile(g, 95))} (hls.js edge ${fmt(percentile(e, 50))}, target ${fmt(percentile(t, 50))}, stalls before ${run[id].stallsBefore})`;
        };
        console.log(`  session ${i + 1}: ${line('keyframe')} · ${line('raw')}`);
      }
      const pool = (id: PipelineId) =>
        summarize(
          runs.flatMap((r) => r[id].samples),
          runs.reduce((n, r) => n + r[id].unreadable, 0),
          runs.reduce((n, r) => n + r[id].stalls, 0),
          percentile(runs.map((r) => r[id].startupMs ?? Number.NaN).filter(Number.isFinite), 50),
          runs.map(
            (r) =>
              percentile(
                r[id].samples.map((x) => x.glass),
                50,
              ) ?? Number.NaN,
          ),
        );
      const r: ScenarioResult = { scenario, keyframe: pool('keyframe'), raw: pool('raw'), droppedFrames: runs.reduce((n, x) => n + x.dropped, 0) };
      results.push(r);
      for (const id of ['keyframe', 'raw'] as const) {
        const p = r[id];
        console.log(
          `  ${label(scenario, id).padEnd(8)} glass p50 ${fmt(p.glass.p50)} s  p95 ${fmt(p.glass.p95)} s  (sessions' p50: ${p.sessionP50s.map(fmt).join(', ')})  ` +
            `PDT-only p50 ${fmt(p.pdt.p50)} s  PDT lag p50 ${fmt(p.pdtLag.p50)} s  corrected − glass p50 ${fmt(p.correctedError.p50)} s  ` +
            `frames ${p.samples} (unreadable ${p.unreadable})  stalls ${p.stalls}  startup ${fmt(p.startupMs)} s`,
        );
      }
      if (r.droppedFrames > 0) console.log(`  (the publisher dropped ${r.droppedFrames} frames)`);
      console.log('');
    }
  } finally {
    await browser.close();
    await stack?.stop();
    await server.close();
    await rm(rawRoot, { recursive: true, force: true });
  }

  console.log(
    `| scenario | pipeline | glass p50 | glass p95 | sessions' p50 | PDT-only p50 | PDT lag p50 (p95) | PDT + ${DEFAULT_PDT_OFFSET_SECONDS} s − glass, p50 | stalls | start |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    for (const id of ['keyframe', 'raw'] as const) {
      const p = r[id];
      console.log(
        `| ${r.scenario.name} | ${label(r.scenario, id)} | ${fmt(p.glass.p50)} | ${fmt(p.glass.p95)} | ${p.sessionP50s.map(fmt).join(' / ')} | ${fmt(p.pdt.p50)} | ` +
          `${fmt(p.pdtLag.p50)} (${fmt(p.pdtLag.p95)}) | ${fmt(p.correctedError.p50)} | ${p.stalls} | ${fmt(p.startupMs)} |`,
      );
    }
  }
  const loadavgEnd = Math.round(loadavg()[0] * 100) / 100;
  console.log(`\nload average (1 min): ${loadavgStart} at start, ${loadavgEnd} at end`);
  await mkdir(dirname(resolve(values.out)), { recursive: true });
  await writeFile(
    resolve(values.out),
    JSON.stringify({ machine: info, loadavgStart, loadavgEnd, smoke: values.smoke, repeat, measureSeconds: measureMs / 1000, results }, null, 2),
  );
  console.log(`\nresults: ${values.out}; screenshots: test-artifacts/latency-<scenario>.png`);
}

type PipelineId = 'keyframe' | 'raw';
interface PipelineRun {
  samples: Sample[];
  unreadable: number;
  /** `waiting` events while live, in the measured window. */
  stalls: number;
  /** ... and during the warm-up before it. */
  stallsBefore: number;
  /** From opening the page (or, joining at the start, from the publish) to frames advancing. */
  startupMs?: number;
}
interface RunData {
  keyframe: PipelineRun;
  raw: PipelineRun;
  dropped: number;
}
interface ScenarioResult {
  scenario: Scenario;
  keyframe: PipelineResult;
  raw: PipelineResult;
  droppedFrames: number;
}

/** One publish session: both pipelines fed the same frames, played side by side, measured. */
async function measureOnce(
  stack: LocalStack,
  serverUrl: string,
  rawRoot: string,
  browser: Awaited<ReturnType<typeof launchBrowser>>,
  scenario: Scenario,
  index: number,
  warmupMs: number,
  measureMs: number,
): Promise<RunData> {
  const tag = `${scenario.name}-${index}`;
  const channel = await stack.createChannel(
    `bench-${tag}-${Date.now().toString(36)}`,
    scenario.ladder ? { ladder: scenario.ladder.rungs } : undefined,
  );
  const rendition = (name: string) => channel.playbackUrl.replace(/index\.m3u8$/, `${name}.m3u8`);
  const rawDir = join(rawRoot, tag);
  await mkdir(rawDir, { recursive: true });
  const page = await browser.newPage();
  const specs: BenchPlayerSpec[] = [
    {
      id: 'keyframe',
      src: scenario.ladder ? rendition('source') : channel.playbackUrl,
      tuning: scenario.tuning,
      hlsConfig: scenario.keyframeHlsConfig ? { ...scenario.hlsConfig, ...scenario.keyframeHlsConfig } : scenario.hlsConfig,
      alignReloads: scenario.alignReloads,
      syncMarginSeconds: scenario.syncMarginSeconds,
    },
    {
      id: 'raw',
      src: scenario.ladder ? rendition(scenario.ladder.play) : `${serverUrl}/raw/${tag}/index.m3u8`,
      tuning: scenario.tuning,
      hlsConfig: scenario.ladder && scenario.keyframeHlsConfig ? { ...scenario.hlsConfig, ...scenario.keyframeHlsConfig } : scenario.hlsConfig,
      alignReloads: scenario.alignReloads,
      syncMarginSeconds: scenario.syncMarginSeconds,
    },
  ];
  await page.addInitScript(`window.BENCH_PLAYERS = ${JSON.stringify(specs)};`);
  const joinAt = scenario.join ?? 'mid';
  if (joinAt === 'start') await page.goto(serverUrl);
  const publisher = startClockPublisher({
    rtmpUrl: channel.publishUrl,
    gopSeconds: scenario.gopSeconds,
    rawHlsDir: scenario.ladder ? undefined : rawDir,
    ...(scenario.ladder ? { outputWidth: scenario.ladder.width, outputHeight: scenario.ladder.height, videoBitrate: '2500k' } : {}),
    rawSegmentSeconds: scenario.segmentSeconds,
  });
  let openedAt = Date.now();
  try {
    if (joinAt === 'mid') {
      await sleep(JOIN_AFTER_MS);
      openedAt = Date.now();
      await page.goto(serverUrl);
    }
    const deadline = Date.now() + 40_000;
    for (;;) {
      const live = await page.evaluate(() => window.bench?.liveAt ?? {});
      if (live.keyframe && live.raw) break;
      if (Date.now() > deadline) throw new Error(`${tag}: players not live after 40 s: ${JSON.stringify(live)}`);
      if (publisher.proc.exitCode !== null) throw new Error(`publisher exited: ${(await publisher.exited).stderr}`);
      await sleep(250);
    }
    await sleep(warmupMs);
    const stallsBefore = await page.evaluate(() => ({ ...window.bench!.waiting }));
    await page.evaluate(() => {
      for (const id of Object.keys(window.bench!.samples)) {
        window.bench!.samples[id].length = 0;
        window.bench!.unreadable[id] = 0;
        window.bench!.waiting[id] = 0;
      }
    });
    const from = Date.now();
    await sleep(measureMs);
    const got = await page.evaluate(() => ({
      samples: window.bench!.samples,
      unreadable: window.bench!.unreadable,
      waiting: window.bench!.waiting,
      liveAt: window.bench!.liveAt,
    }));
    // BENCH_DEBUG=1: each player's hls.js view at the end of the session (playlist, edge, age, reloads).
    if (process.env.BENCH_DEBUG) {
      const dbg = await page.evaluate(`(() => {
        const out = {};
        for (const [id, p] of Object.entries(window.bench.players)) {
          const h = p.hls; const d = h.latestLevelDetails; const v = p.video;
          const ranges = (r) => Array.from({ length: r.length }, (_, i) => r.start(i).toFixed(2) + '-' + r.end(i).toFixed(2)).join(',');
          out[id] = { ct: v.currentTime.toFixed(2), buffered: ranges(v.buffered), edge: d.edge.toFixed(2), age: d.age.toFixed(2),
            frags: d.fragments.map((f) => f.sn + ':' + f.start.toFixed(2) + '+' + f.duration.toFixed(2) + '@' + (f.programDateTime ? new Date(f.programDateTime).toISOString().slice(17, 23) : '-')).join(' '),
            now: new Date().toISOString().slice(17, 23), playing: h.playingDate && h.playingDate.toISOString().slice(17, 23), last: window.bench.samples[id].slice(-1)[0], reloads: p.stats().reloads };
        }
        return out;
      })()`);
      console.log(JSON.stringify(dbg, null, 1));
    }
    if (index === 0) await page.screenshot({ path: resolve('test-artifacts', `latency-${scenario.name}.png`) }).catch(() => undefined);
    const pick = (id: PipelineId) => ({
      samples: got.samples[id].filter((x) => x.at >= from),
      unreadable: got.unreadable[id],
      stalls: got.waiting[id],
      startupMs: got.liveAt[id] ? got.liveAt[id]! - openedAt : undefined,
      stallsBefore: stallsBefore[id] ?? 0,
    });
    return { keyframe: pick('keyframe'), raw: pick('raw'), dropped: publisher.framesDropped() };
  } finally {
    await publisher.stop();
    await page.close();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`latency bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
