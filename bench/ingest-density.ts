/**
 * Ingest density and cost per stream, side by side with nginx-rtmp.
 *
 * N concurrent passthrough publishers (720p30, ~3 Mbps CBR H.264 + AAC, synthetic lavfi source, 2 s GOP,
 * encoded once to FLV and published with `-re -stream_loop -1 -c copy`, TCP_NODELAY) push to:
 *
 *   keyframe    the ingest as in its container: ingest/main.ts bundled by esbuild, run by plain node, one
 *               ffmpeg per stream (passthrough HLS, 2 s segments), routes in dynalite (in this process);
 *   nginx-rtmp  Debian's nginx with libnginx-mod-rtmp, `live on; hls on;` 2 s fragments, one worker.
 *
 * For each N the two servers run one after the other (order alternating), each a fresh process, on the
 * same input. Only the server's processes are measured (/proc/<pid>/stat utime+stime of the server and its
 * descendants: the node process and its ffmpeg children; nginx's master and worker), over a steady window
 * after every stream has produced segments. Memory is RSS and PSS (/proc/<pid>/status, smaps_rollup),
 * idle → loaded, per stream. Segments are "late" when one appears more than --late-ms after its stream's
 * best pace (its minimum lag behind the media clock in the window), or a stream produced none.
 *
 * N grows through --n (default 1,8,32,64) and then --more (96,128) while a server is still on time; a server
 * stops at the first N where its segments come late. --profile adds one more Keyframe run at --profile-n with
 * `node --cpu-prof` and reports where the node process spends its time (not counted in the comparison).
 *
 *   npx tsx bench/ingest-density.ts [--n 1,8,32,64] [--more 96,128] [--window 20] [--profile] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../core/channels';
import { createDynamoClient, createDynamoStore } from '../core/dynamo-store';
import { ensureTable, startLocalDynamo } from '../local/dynamo';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile';
import { bundleIngest, bundleModuleMap, startIngestProcess } from './lib/ingest-process';
import { playlistSegments } from './lib/live';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE, type FilePublisher } from './lib/media';
import { freePort, nginxVersion, rtmpHlsConfig, rtmpModulePath, startNginx } from './lib/nginx';
import { busyPercent, cpuBetween, memoryOfTree, readStat, sampleTree, systemCpu, CLK_TCK } from './lib/proc';
import { median, percentile, round } from './lib/stats';

type ServerKind = 'keyframe' | 'nginx-rtmp';

interface RunningServer {
  readonly kind: ServerKind;
  readonly pid: number;
  /** Wall clock just before the server process was spawned. */
  readonly spawnedAt: number;
  publishUrl(i: number): string;
  playlistPath(i: number): string | undefined;
  stop(): Promise<void>;
}

interface SegmentsVerdict {
  readonly streams: number;
  /** Streams that produced no segment in the window. */
  readonly silentStreams: number;
  readonly segmentsInWindow: number;
  readonly expectedInWindow: number;
  /** How much later than its stream's best pace a segment appeared, ms (max, p95 over all segments). */
  readonly maxLatenessMs: number;
  readonly p95LatenessMs: number;
  readonly lateSegments: number;
  /** Median over segments of (first seen − (publisher start + media end)); includes publisher start-up. */
  readonly medianAgeMs: number;
  readonly late: boolean;
}

interface PhaseResult {
  readonly server: ServerKind;
  /** The measurement window, ms from the server's spawn (to cut a profile to it). */
  readonly windowFromSpawnMs: { fromMs: number; toMs: number };
  readonly n: number;
  readonly windowSeconds: number;
  readonly idleCpuPct: number;
  /** Server processes over the window, % of one core. */
  readonly cpuPct: number;
  readonly cpuPctPerStream: number;
  /** By process name (node / ffmpeg / nginx), % of one core per stream. */
  readonly cpuPerStreamByComm: Record<string, number>;
  readonly processes: number;
  readonly rssIdleMiB: number;
  readonly rssMiB: number;
  readonly rssPerStreamMiB: number;
  readonly pssIdleMiB: number;
  readonly pssMiB: number;
  readonly pssPerStreamMiB: number;
  readonly publishersCpuPct: number;
  /** The whole machine over the window, % of all cores (other engineers' work included). */
  readonly machineBusyPct: number;
  readonly segments: SegmentsVerdict;
}

const args = parseArgs();
const smoke = args.smoke;
const gopSeconds = args.number('gop', smoke ? 1 : 2);
const windowSeconds = args.number('window', smoke ? 3 : 20);
const lateMs = args.number('late-ms', 1000);
const nList = args.list('n', smoke ? [2] : [1, 8, 32, 64]);
const moreList = args.list('more', smoke ? [] : [96, 128]);
const staggerMs = args.number('stagger-ms', 25);
const profile = args.flag('profile');
const profileN = args.number('profile-n', 32);
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];
const root = join(tmpdir(), `keyframe-bench-density-${process.pid}`);

function kib2mib(k: number): number {
  return round(k / 1024, 1);
}

await runBench({ deadlineMs: smoke ? 120_000 : 60 * 60_000, cleanups }, async () => {
  mkdirSync(root, { recursive: true });
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const module = rtmpModulePath();
  if (!module) throw new Error('libnginx-mod-rtmp is not installed (dpkg -L libnginx-mod-rtmp)');
  const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds, seconds: 20 });
  progress(`source ${file}`);
  const bundle = await bundleIngest(join(root, 'bundle'));
  const moduleOf = bundleModuleMap(bundle);

  const dynamo = await startLocalDynamo();
  cleanups.push(() => dynamo.close());
  const client = createDynamoClient({ endpoint: dynamo.endpoint });
  cleanups.push(() => client.destroy());
  const tableName = 'keyframe-bench';
  await ensureTable(client, tableName);
  const store = createDynamoStore({ tableName, client });
  let phaseSeq = 0;

  async function startServer(kind: ServerKind, n: number, nodeArgs: string[] = []): Promise<RunningServer> {
    const dir = join(root, `${kind}-${++phaseSeq}`);
    const hlsDir = join(dir, 'hls');
    mkdirSync(hlsDir, { recursive: true });
    if (kind === 'keyframe') {
      const keys: Array<{ key: string; playbackId: string }> = [];
      const urls = { rtmpUrl: 'rtmp://127.0.0.1/live', playbackBaseUrl: 'http://127.0.0.1' };
      for (let i = 0; i < n; i++) {
        const c = await createKey(store, urls, `density-${phaseSeq}-${i}`);
        keys.push({ key: c.streamKey, playbackId: c.playbackId });
      }
      const spawnedAt = Date.now();
      const ingest = await startIngestProcess({
        bundle,
        nodeArgs,
        env: {
          KEYFRAME_TABLE: tableName,
          KEYFRAME_DYNAMODB_ENDPOINT: dynamo.endpoint,
          KEYFRAME_TASK_ARN: `arn:aws:ecs:local:000000000000:task/keyframe-local/bench-${phaseSeq}`,
          KEYFRAME_HLS_DIR: hlsDir,
          KEYFRAME_SEGMENT_SECONDS: String(gopSeconds),
          KEYFRAME_PLAYLIST_SIZE: '6',
          KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
          KEYFRAME_END_LINGER_SECONDS: '0',
          KEYFRAME_DRAIN_SECONDS: '1',
          KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: 'Infinity',
          KEYFRAME_LOG_LEVEL: 'INFO',
        },
      });
      const sessionDirs = new Map<number, string>();
      return {
        kind,
        pid: ingest.pid,
        spawnedAt,
        publishUrl: (i) => `rtmp://127.0.0.1:${ingest.rtmpPort}/live/${keys[i].key}`,
        playlistPath(i) {
          let d = sessionDirs.get(i);
          if (!d) {
            try {
              const base = join(hlsDir, keys[i].playbackId);
              const sessions = readdirSync(base);
              if (!sessions.length) return undefined;
              d = join(base, sessions[0]);
              sessionDirs.set(i, d);
            } catch {
              return undefined;
            }
          }
          return join(d, 'index.m3u8');
        },
        stop: () => ingest.stop(),
      };
    }
    const port = await freePort();
    const spawnedAt = Date.now();
    const nginx = await startNginx({
      dir,
      port,
      modules: [module!],
      config: rtmpHlsConfig({ dir, port, hlsDir, fragmentSeconds: gopSeconds, playlistSeconds: gopSeconds * 6 }),
    });
    return {
      kind,
      pid: nginx.pid,
      spawnedAt,
      publishUrl: (i) => `rtmp://127.0.0.1:${port}/live/s${i}`,
      playlistPath: (i) => join(hlsDir, `s${i}`, 'index.m3u8'),
      stop: () => nginx.stop(),
    };
  }

  async function phase(kind: ServerKind, n: number, opts: { nodeArgs?: string[] } = {}): Promise<PhaseResult> {
    const server = await startServer(kind, n, opts.nodeArgs);
    const publishers: FilePublisher[] = [];
    const seen: Array<Map<number, { seenAt: number; duration: number }>> = Array.from({ length: n }, () => new Map());
    let watcher: NodeJS.Timeout | undefined;
    try {
      await sleep(smoke ? 500 : 1000);
      const idleMem = memoryOfTree(server.pid);
      const idleA = sampleTree(server.pid);
      await sleep(smoke ? 500 : 2000);
      const idleCpu = cpuBetween(idleA, sampleTree(server.pid)).total;

      const warmupMaxMs = 15_000 + n * 150 + gopSeconds * 2000;
      const publishSeconds = Math.ceil((warmupMaxMs + n * staggerMs) / 1000 + windowSeconds + 15);
      for (let i = 0; i < n; i++) {
        publishers.push(publishFile({ file, url: server.publishUrl(i), seconds: publishSeconds, loop: true, outputOptions: ['-tcp_nodelay', '1'] }));
        if (staggerMs) await sleep(staggerMs);
      }
      // Each stream's playlist is read every 500 ms (a slice of the streams every 100 ms).
      let cursor = 0;
      const slice = Math.max(1, Math.ceil(n / 5));
      watcher = setInterval(() => {
        for (let k = 0; k < slice; k++) {
          const i = cursor++ % n;
          const path = server.playlistPath(i);
          if (!path) continue;
          let text: string;
          try {
            text = readFileSync(path, 'utf8');
          } catch {
            continue;
          }
          const now = Date.now();
          for (const s of playlistSegments(text)) if (!seen[i].has(s.sequence)) seen[i].set(s.sequence, { seenAt: now, duration: s.duration });
        }
      }, 100);

      const warmDeadline = Date.now() + warmupMaxMs;
      while (Date.now() < warmDeadline && seen.some((m) => m.size < 2)) await sleep(200);
      const warm = seen.filter((m) => m.size >= 2).length;
      progress(`${kind} N=${n}: ${warm}/${n} streams producing; measuring ${windowSeconds} s`);
      await sleep(1000);

      const windowStart = Date.now();
      const sysA = systemCpu();
      const a = sampleTree(server.pid);
      const pubTicks = () => publishers.reduce((t, p) => t + (p.proc.pid ? (readStat(p.proc.pid)?.ticks ?? 0) : 0), 0);
      const pubA = pubTicks();
      const mem: Array<{ rss: number; pss: number }> = [];
      const memEvery = (windowSeconds * 1000) / 4;
      for (let k = 0; k < 4; k++) {
        await sleep(memEvery / 2);
        const m = memoryOfTree(server.pid);
        mem.push({ rss: m.rssKiB, pss: m.pssKiB });
        await sleep(memEvery / 2);
      }
      const b = sampleTree(server.pid);
      const sysB = systemCpu();
      const pubB = pubTicks();
      const windowEnd = Date.now();
      const cpu = cpuBetween(a, b);
      const seconds = (windowEnd - windowStart) / 1000;

      // Segments: lag behind the media clock, relative to each stream's best pace in the window.
      const lateness: number[] = [];
      const ages: number[] = [];
      let silent = 0;
      let inWindow = 0;
      for (let i = 0; i < n; i++) {
        const segs = [...seen[i].entries()].sort((x, y) => x[0] - y[0]);
        const lags: number[] = [];
        let cum = 0;
        const startedAt = publishers[i].spawnedAt;
        const fromZero = segs.length > 0 && segs[0][0] === 0;
        for (const [, s] of segs) {
          cum += s.duration * 1000;
          if (s.seenAt <= windowStart || s.seenAt > windowEnd) continue;
          lags.push(s.seenAt - cum);
          if (fromZero) ages.push(s.seenAt - (startedAt + cum));
        }
        inWindow += lags.length;
        if (lags.length === 0) {
          silent++;
          continue;
        }
        const best = Math.min(...lags);
        for (const l of lags) lateness.push(l - best);
      }
      const maxLate = lateness.length ? Math.max(...lateness) : Number.POSITIVE_INFINITY;
      const segments: SegmentsVerdict = {
        streams: n,
        silentStreams: silent,
        segmentsInWindow: inWindow,
        expectedInWindow: Math.round((n * seconds) / gopSeconds),
        maxLatenessMs: round(maxLate, 0),
        p95LatenessMs: round(percentile(lateness, 95), 0),
        lateSegments: lateness.filter((l) => l > lateMs).length,
        medianAgeMs: round(median(ages), 0),
        late: silent > 0 || maxLate > lateMs,
      };
      const perStream = (x: number) => round(x / n, 3);
      const byComm: Record<string, number> = {};
      for (const [c, v] of Object.entries(cpu.byComm)) byComm[c] = perStream(v);
      const rss = median(mem.map((m) => m.rss));
      const pss = median(mem.map((m) => m.pss));
      return {
        server: kind,
        windowFromSpawnMs: { fromMs: windowStart - server.spawnedAt, toMs: windowEnd - server.spawnedAt },
        n,
        windowSeconds: round(seconds, 1),
        idleCpuPct: round(idleCpu, 2),
        cpuPct: round(cpu.total, 2),
        cpuPctPerStream: perStream(cpu.total),
        cpuPerStreamByComm: byComm,
        processes: cpu.processes,
        rssIdleMiB: kib2mib(idleMem.rssKiB),
        rssMiB: kib2mib(rss),
        rssPerStreamMiB: round((rss - idleMem.rssKiB) / 1024 / n, 2),
        pssIdleMiB: kib2mib(idleMem.pssKiB),
        pssMiB: kib2mib(pss),
        pssPerStreamMiB: round((pss - idleMem.pssKiB) / 1024 / n, 2),
        publishersCpuPct: round(((pubB - pubA) / CLK_TCK / seconds) * 100, 1),
        machineBusyPct: round(busyPercent(sysA, sysB), 1),
        segments,
      };
    } finally {
      if (watcher) clearInterval(watcher);
      for (const p of publishers) p.proc.kill('SIGKILL');
      await Promise.all(publishers.map((p) => p.exited));
      await server.stop();
      await sleep(smoke ? 300 : 2000);
    }
  }

  const results: PhaseResult[] = [];
  const lateAt: Partial<Record<ServerKind, number>> = {};
  const sweep = [...nList];
  for (let k = 0; k < sweep.length; k++) {
    const n = sweep[k];
    const order: ServerKind[] = k % 2 ? ['nginx-rtmp', 'keyframe'] : ['keyframe', 'nginx-rtmp'];
    for (const kind of order) {
      if (lateAt[kind] !== undefined) continue;
      const r = await phase(kind, n);
      results.push(r);
      progress(
        `${kind} N=${n}: ${r.cpuPct}% of a core (${r.cpuPctPerStream}%/stream ${JSON.stringify(r.cpuPerStreamByComm)}), ` +
          `PSS ${r.pssMiB} MiB (+${r.pssPerStreamMiB}/stream), machine ${r.machineBusyPct}% busy, ` +
          `segments ${r.segments.segmentsInWindow}/${r.segments.expectedInWindow}, max lateness ${r.segments.maxLatenessMs} ms${r.segments.late ? ' LATE' : ''}`,
      );
      if (r.segments.late) lateAt[kind] = n;
    }
    const anyOnTime = (['keyframe', 'nginx-rtmp'] as ServerKind[]).some((s) => lateAt[s] === undefined);
    if (k === sweep.length - 1 && anyOnTime && moreList.length) sweep.push(moreList.shift()!);
  }

  let profiled: (ProfileSummary & { n: number; cpuPctPerStream: number }) | undefined;
  if (profile) {
    const dir = join(root, 'cpuprof');
    mkdirSync(dir, { recursive: true });
    const r = await phase('keyframe', profileN, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length) {
      const s = summarizeProfile(join(dir, files[0]), (url, line) => (url.endsWith('main.mjs') ? moduleOf(line) : url), 15, r.windowFromSpawnMs);
      profiled = { ...s, n: profileN, cpuPctPerStream: r.cpuPctPerStream };
    }
  }

  // Side by side: the same N for both servers.
  const pairs = nList.concat(results.map((r) => r.n)).filter((n, i, all) => all.indexOf(n) === i).sort((x, y) => x - y);
  const rows = pairs.flatMap((n) => {
    const kf = results.find((r) => r.n === n && r.server === 'keyframe');
    const ng = results.find((r) => r.n === n && r.server === 'nginx-rtmp');
    const row = (r: PhaseResult | undefined, kind: ServerKind) =>
      r
        ? [
            n,
            kind,
            `**${r.cpuPctPerStream}**`,
            Object.entries(r.cpuPerStreamByComm).map(([c, v]) => `${c} ${v}`).join(', '),
            r.cpuPct,
            r.pssPerStreamMiB,
            r.rssPerStreamMiB,
            `${r.pssIdleMiB} → ${r.pssMiB}`,
            `${r.segments.segmentsInWindow}/${r.segments.expectedInWindow}`,
            r.segments.maxLatenessMs,
            r.segments.late ? '**late**' : 'on time',
            r.machineBusyPct,
            r.publishersCpuPct,
          ]
        : [n, kind, '—', '', '', '', '', '', '', '', 'not run (late at a smaller N)', '', ''];
    return [row(kf, 'keyframe'), row(ng, 'nginx-rtmp')];
  });
  const ratios = pairs
    .map((n) => {
      const kf = results.find((r) => r.n === n && r.server === 'keyframe');
      const ng = results.find((r) => r.n === n && r.server === 'nginx-rtmp');
      return kf && ng ? { n, cpu: round(kf.cpuPctPerStream / ng.cpuPctPerStream, 2), pss: round(kf.pssPerStreamMiB / ng.pssPerStreamMiB, 2) } : undefined;
    })
    .filter((x): x is { n: number; cpu: number; pss: number } => x !== undefined);
  const medianRatio = round(median(ratios.filter((r) => r.n >= 8 || ratios.length === 1).map((r) => r.cpu)), 2);
  const report = [
    `Server processes only, over a ${windowSeconds} s window; CPU in % of one core. nginx: ${nginxVersion()} with ${module}.`,
    '',
    table(
      ['N', 'server', 'CPU %/stream', 'by process (%/stream)', 'CPU % total', 'PSS MiB/stream', 'RSS MiB/stream', 'PSS MiB idle → loaded', 'segments seen/expected', 'max lateness ms', 'verdict', 'machine busy % (all cores)', 'publishers CPU %'],
      rows,
    ),
    '',
    `Keyframe / nginx-rtmp, CPU per stream: ${ratios.map((r) => `N=${r.n}: ${r.cpu}×`).join(', ')} (median over N ≥ 8: ${medianRatio}×).`,
    `PSS per stream: ${ratios.map((r) => `N=${r.n}: ${r.pss}×`).join(', ')}.`,
    `Segments came late: keyframe ${lateAt.keyframe !== undefined ? `at N=${lateAt.keyframe}` : `not up to N=${Math.max(...results.filter((r) => r.server === 'keyframe').map((r) => r.n))}`}; ` +
      `nginx-rtmp ${lateAt['nginx-rtmp'] !== undefined ? `at N=${lateAt['nginx-rtmp']}` : `not up to N=${Math.max(...results.filter((r) => r.server === 'nginx-rtmp').map((r) => r.n))}`}.`,
    ...(profiled
      ? [
          '',
          `Profile of the Keyframe node process at N=${profiled.n} over the measurement window (node --cpu-prof; ${profiled.busyMs} ms busy of ${profiled.wallMs} ms; a separate run, not in the table), self time by module:`,
          '',
          table(['module', 'ms', '% of busy'], profiled.byModule.slice(0, 12).map((m) => [m.module, m.ms, m.share])),
          '',
          'Top functions (self time):',
          '',
          table(['function', 'module', 'ms', '% of busy'], profiled.topFunctions.map((f) => [f.fn, f.module, f.ms, f.share])),
        ]
      : []),
  ].join('\n');
  finish(args, 'ingest-density', machine, { gopSeconds, windowSeconds, lateMs, nginx: nginxVersion(), rtmpModule: module, phases: results, ratios, medianCpuRatio: medianRatio, lateAt, profile: profiled }, report);
});
