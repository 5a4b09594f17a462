/**
 * Ingest density and cost per stream, side by side with nginx-rtmp.
 *
 * N concurrent passthrough publishers (720p30, ~3 Mbps CBR H.264 + AAC, synthetic lavfi source, 2 s GOP,
 * encoded once to FLV and published with `-re -stream_loop -1 -c copy`, TCP_NODELAY) push to:
 *
 *   keyframe    the ingest as in its container: ingest/main.ts bundled by esbuild, run by plain node, one
 *               in-process packager per stream (CMAF HLS held in memory, 2 s segments, no ffmpeg), routes in
 *               dynalite (in this process);
 *   nginx-rtmp  Debian's nginx with libnginx-mod-rtmp, `live on; hls on;` 2 s fragments, one worker.
 *
 * For each N the two servers run one after the other (order alternating), each a fresh process, on the
 * same input. Only the server's processes are measured (/proc/<pid>/stat utime+stime of the server and its
 * descendants: the node process and any child it starts, of which there should be none; nginx's master and
 * worker), over a steady window after every stream has produced segments. Memory is RSS and PSS
 * (/proc/<pid>/status, smaps_rollup), idle → loaded, per stream; for Keyframe also the media it holds by design
 * (the playlist window plus the 10 s linger of segments per stream, estimated from the bitrate the packager
 * measures), so the rest is the per-stream overhead.
 *
 * Segments are watched every 250 ms: nginx-rtmp's playlists on disk; Keyframe's through the task's own ports, as
 * cheaply as possible (one `GET /streams` on the health port for all streams, then the playlist of each stream
 * whose media sequence grew from the HLS port). They are "late" when one appears more than --late-ms after its
 * stream's best pace (its minimum lag behind the media clock in the window), or a stream produced none.
 *
 * N runs through --n (default 1,8,32,64, then --more 96,128 while a server is still on time; with --n given,
 * --more is empty unless given); a server stops at the first N where its segments come late. --profile adds one
 * more Keyframe run at --profile-n with `node --cpu-prof` and reports where the node process spends its time (not
 * counted in the comparison).
 *
 * The window starts --settle seconds (default: window + linger + one segment) after the last publisher started, so
 * memory is measured with every stream's store full.
 *
 * --servers runs one server alone; --node-args and --ingest-env give the Keyframe ingest node options and environment
 * (experiments).
 *
 *   npx tsx bench/ingest-density.ts [--n 1,8,32,64] [--more 96,128] [--window 20] [--gop 2] [--settle s] [--profile] [--profile-n 32]
 *     [--servers keyframe,nginx-rtmp] [--node-args=--max-semi-space-size=32]
 *     [--ingest-env MALLOC_ARENA_MAX=2] [--ll-hls] [--smoke] [--json out.json]
 *     [--variants passthrough,thumbnails,recording,recording+thumbnails] [--thumbnail-seconds 10]
 *
 * --variants (issue 15) runs the Keyframe ingest once per variant for each N, in the same invocation (the order
 * rotating with N), and only Keyframe unless --servers says otherwise: `passthrough` (KEYFRAME_THUMBNAIL_SECONDS=0,
 * no bucket), `thumbnails` (one keyframe decode per --thumbnail-seconds of media time), `recording` (recorded
 * channels, a recordings bucket on a local s3rver behind a counting proxy, bench/lib/recording-s3.ts; thumbnails
 * off), `recording+thumbnails` (both, as a recorded channel runs by default). With --variants the ingest's ffmpeg
 * is a counting wrapper (bench/lib/recording-procs.ts), and the CPU of its short-lived children (thumbnail
 * decodes) is counted exactly from the node process's cutime/cstime. Without --variants the ingest runs with its
 * defaults (thumbnails on at 10 s, no recording), as before.
 *
 * Standard HLS unless `--ll-hls` (KEYFRAME_LL_HLS=true).
 */
import './lib/quiet';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../core/channels';
import { createDynamoClient, createDynamoStore } from '../core/dynamo-store';
import { ensureTable, startLocalDynamo } from '../local/dynamo';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile';
import { bundleIngest, bundleModuleMap, startIngestProcess } from './lib/ingest-process';
import { httpGet, playlistSegments } from './lib/live';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE, type FilePublisher } from './lib/media';
import { freePort, nginxVersion, rtmpHlsConfig, rtmpModulePath, startNginx } from './lib/nginx';
import { busyPercent, cpuBetween, memoryOfTree, readStat, sampleTree, systemCpu, CLK_TCK } from './lib/proc';
import { childrenCpuBetween, createSpawnCounter, reapedChildTicks, type SpawnCounter } from './lib/recording-procs';
import { type BenchBucket, recordingEnv, startBenchBucket } from './lib/recording-s3';
import { median, percentile, round } from './lib/stats';

type ServerKind = 'keyframe' | 'nginx-rtmp';
/** What the Keyframe ingest does beside packaging (--variants, issue 15). */
type Variant = 'passthrough' | 'thumbnails' | 'recording' | 'recording+thumbnails';
const VARIANTS: readonly Variant[] = ['passthrough', 'thumbnails', 'recording', 'recording+thumbnails'];

/** Segments of one stream seen so far: sequence → when first seen and its duration (s). */
type Seen = Map<number, { seenAt: number; duration: number }>;

/** One stream as the ingest's `GET /streams` shows it (ingest/streams.ts StreamStatus), the parts used here. */
interface StreamStatusLike {
  readonly playbackId: string;
  readonly mediaSequence?: number;
  readonly health: { readonly segments: number; readonly video?: { bitrateBps?: number }; readonly audio?: { bitrateBps?: number } };
}

interface RunningServer {
  readonly kind: ServerKind;
  readonly pid: number;
  /** Wall clock just before the server process was spawned. */
  readonly spawnedAt: number;
  publishUrl(i: number): string;
  /** Notes the segments that appeared since the last call, for every stream (called every 250 ms, never overlapping). */
  observe(seen: Seen[]): Promise<void>;
  /** The sequence number of stream i's first segment, once known (nginx-rtmp counts from 0). */
  firstSequence(i: number): number | undefined;
  /** What the packager measured per stream at the last observation (Keyframe only). */
  lastStatuses(): readonly StreamStatusLike[];
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
  /** Of it in the kernel (stime: socket and file I/O, page faults), % of one core per stream. */
  readonly systemCpuPctPerStream: number;
  /** By process name (node / ffmpeg / nginx), % of one core per stream. */
  readonly cpuPerStreamByComm: Record<string, number>;
  readonly processes: number;
  readonly rssIdleMiB: number;
  readonly rssMiB: number;
  readonly rssPerStreamMiB: number;
  readonly pssIdleMiB: number;
  readonly pssMiB: number;
  readonly pssPerStreamMiB: number;
  /**
   * Keyframe: the media the ingest holds per stream by design (playlist window + segment linger, at the bitrate the
   * packager measured), MiB, and the PSS per stream beyond it. Undefined for nginx-rtmp (its segments are on disk).
   */
  readonly retainedMediaPerStreamMiB?: number;
  readonly pssOverheadPerStreamMiB?: number;
  readonly publishersCpuPct: number;
  /** The whole machine over the window, % of all cores (other engineers' work included). */
  readonly machineBusyPct: number;
  readonly segments: SegmentsVerdict;
  /** With --variants (Keyframe only): the variant, and what the ingest's children did in the window. */
  readonly variant?: Variant;
  /** CPU of the ingest's child processes (thumbnail decodes), reaped or not, % of one core per stream (in cpuPct). */
  readonly childCpuPctPerStream?: number;
  /** ffmpeg processes the ingest started in the window, and per stream per minute. */
  readonly ffmpegStarts?: number;
  readonly ffmpegStartsPerStreamMinute?: number;
  /** S3 PUTs the recorder made in the window (the bucket's proxy counts them), per stream per second. */
  readonly s3PutsPerStreamSecond?: number;
  /** Child CPU per ffmpeg start, ms (one thumbnail decode, with the wrapper's sh). */
  readonly cpuMsPerFfmpegStart?: number;
}

const args = parseArgs();
const smoke = args.smoke;
const gopSeconds = args.number('gop', smoke ? 1 : 2);
// Smoke: 5 s, so a loaded machine (CI beside other work) still sees several 1 s segments of every stream in the window.
const windowSeconds = args.number('window', smoke ? 5 : 20);
const lateMs = args.number('late-ms', 1000);
const nList = args.list('n', smoke ? [2] : [1, 8, 32, 64]);
const moreList = args.list('more', smoke || args.options.has('n') ? [] : [96, 128]);
const playlistSize = 6;
/** ingest/streams.ts keeps the playlist window plus 10 s of segments that left it (segmentLingerSeconds). */
const SEGMENT_LINGER_SECONDS = 10;
const keptSeconds = (playlistSize + Math.ceil(SEGMENT_LINGER_SECONDS / gopSeconds)) * gopSeconds;
/** Measure once the streams are this old (seconds from the last publisher's start): the store is full by then. */
const settleSeconds = args.number('settle', smoke ? 0 : keptSeconds + gopSeconds);
const staggerMs = args.number('stagger-ms', 25);
const profile = args.flag('profile');
const profileN = args.number('profile-n', 32);
/** LL-HLS on the ingest (parts kept in memory with their segments, playlists rendered per part); off: standard HLS. */
const lowLatency = args.flag('ll-hls');
/** Which servers to run (both by default; one alone for experiments, e.g. with --node-args). */
/** Keyframe variants to run side by side (issue 15); empty: the ingest as configured, once. */
const variants = args.string('variants', '').split(',').filter(Boolean) as Variant[];
for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: unknown variant ${v} (${VARIANTS.join(', ')})`);
const thumbnailSeconds = args.number('thumbnail-seconds', smoke ? 1 : 10);
const servers = args.string('servers', variants.length ? 'keyframe' : 'keyframe,nginx-rtmp').split(',') as ServerKind[];
for (const k of servers) if (k !== 'keyframe' && k !== 'nginx-rtmp') throw new Error(`--servers: unknown server ${k}`);
/** Extra node options for the Keyframe ingest (space-separated), e.g. `--node-args=--max-semi-space-size=32`. */
const keyframeNodeArgs = args.string('node-args', '').split(' ').filter(Boolean);
/** Extra environment for the Keyframe ingest (comma-separated NAME=value), e.g. glibc malloc tunables for experiments. */
const keyframeEnv = Object.fromEntries(
  args
    .string('ingest-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
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
  // Only nginx-rtmp needs it (--servers keyframe, e.g. with --variants, runs without).
  if (!module && servers.includes('nginx-rtmp')) throw new Error('libnginx-mod-rtmp is not installed (dpkg -L libnginx-mod-rtmp)');
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
  let bucket: BenchBucket | undefined;
  let spawnCounter: SpawnCounter | undefined;

  /** The ingest's environment for a variant (and a counting ffmpeg wrapper, with --variants). */
  async function variantEnv(variant: Variant | undefined, dir: string): Promise<Record<string, string>> {
    // Without --variants: passthrough as the figures of issue 11 were measured (thumbnail decodes would be extra
    // processes and CPU; `--variants thumbnails` measures them).
    if (!variant) return { KEYFRAME_THUMBNAIL_SECONDS: '0' };
    spawnCounter ??= createSpawnCounter(join(root, 'ffmpeg-count'));
    const env: Record<string, string> = {
      KEYFRAME_FFMPEG_PATH: spawnCounter.path,
      KEYFRAME_THUMBNAIL_SECONDS: variant === 'thumbnails' || variant === 'recording+thumbnails' ? String(thumbnailSeconds) : '0',
    };
    if (variant === 'recording' || variant === 'recording+thumbnails') {
      if (!bucket) {
        bucket = await startBenchBucket();
        cleanups.push(() => bucket?.close());
      }
      Object.assign(env, recordingEnv(bucket, join(dir, 'spool')));
    }
    return env;
  }

  /** PUTs the recordings bucket has seen so far (all recordings). */
  function s3Puts(): number {
    let t = 0;
    for (const c of bucket?.counts().values() ?? []) for (const [kind, v] of Object.entries(c)) if (!kind.includes(' ')) t += v;
    return t;
  }

  async function startServer(kind: ServerKind, n: number, nodeArgs: string[] = [], variant?: Variant): Promise<RunningServer> {
    const dir = join(root, `${kind}-${++phaseSeq}`);
    mkdirSync(dir, { recursive: true });
    if (kind === 'keyframe') {
      const keys: Array<{ key: string; playbackId: string }> = [];
      const urls = { rtmpUrl: 'rtmp://127.0.0.1/live', playbackBaseUrl: 'http://127.0.0.1' };
      const record = variant === 'recording' || variant === 'recording+thumbnails';
      const extraEnv = await variantEnv(variant, dir);
      for (let i = 0; i < n; i++) {
        const c = await createKey(store, urls, `density-${phaseSeq}-${i}`, record ? { record: true } : {});
        keys.push({ key: c.streamKey, playbackId: c.playbackId });
      }
      const indexOf = new Map(keys.map((k, i) => [k.playbackId, i]));
      const spawnedAt = Date.now();
      const ingest = await startIngestProcess({
        bundle,
        nodeArgs,
        env: {
          KEYFRAME_TABLE: tableName,
          KEYFRAME_DYNAMODB_ENDPOINT: dynamo.endpoint,
          KEYFRAME_TASK_ARN: `arn:aws:ecs:local:000000000000:task/keyframe-local/bench-${phaseSeq}`,
          KEYFRAME_SEGMENT_SECONDS: String(gopSeconds),
          KEYFRAME_PLAYLIST_SIZE: String(playlistSize),
          KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
          KEYFRAME_END_LINGER_SECONDS: '0',
          KEYFRAME_DRAIN_SECONDS: '1',
          KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: 'Infinity',
          KEYFRAME_LOG_LEVEL: 'INFO',
          KEYFRAME_LL_HLS: lowLatency ? 'true' : 'false',
          ...extraEnv,
          ...keyframeEnv,
        },
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const lastMsn = new Map<number, number>();
      const firstSeq = new Map<number, number>();
      let statuses: StreamStatusLike[] = [];
      return {
        kind,
        pid: ingest.pid,
        spawnedAt,
        publishUrl: (i) => `rtmp://127.0.0.1:${ingest.rtmpPort}/live/${keys[i].key}`,
        async observe(seen) {
          // One request for every stream's newest media sequence; playlists only of the streams that moved.
          const r = await httpGet(agent, `http://127.0.0.1:${ingest.healthPort}/streams`);
          if (r.status !== 200) return;
          const at = Date.now();
          statuses = (JSON.parse(r.body.toString('utf8')) as { streams: StreamStatusLike[] }).streams;
          await Promise.all(
            statuses.map(async (st) => {
              const i = indexOf.get(st.playbackId);
              if (i === undefined || st.mediaSequence === undefined || st.mediaSequence <= (lastMsn.get(i) ?? -1)) return;
              if (!firstSeq.has(i)) firstSeq.set(i, st.mediaSequence - st.health.segments + 1);
              const pl = await httpGet(agent, `http://127.0.0.1:${ingest.hlsPort}/${st.playbackId}/index.m3u8`);
              if (pl.status !== 200) return;
              lastMsn.set(i, st.mediaSequence);
              for (const s of playlistSegments(pl.body.toString('utf8')))
                if (!seen[i].has(s.sequence)) seen[i].set(s.sequence, { seenAt: at, duration: s.duration });
            }),
          );
        },
        firstSequence: (i) => firstSeq.get(i),
        lastStatuses: () => statuses,
        async stop() {
          agent.destroy();
          await ingest.stop();
        },
      };
    }
    const hlsDir = join(dir, 'hls');
    mkdirSync(hlsDir, { recursive: true });
    const port = await freePort();
    const spawnedAt = Date.now();
    const nginx = await startNginx({
      dir,
      port,
      modules: [module!],
      config: rtmpHlsConfig({ dir, port, hlsDir, fragmentSeconds: gopSeconds, playlistSeconds: gopSeconds * playlistSize }),
    });
    return {
      kind,
      pid: nginx.pid,
      spawnedAt,
      publishUrl: (i) => `rtmp://127.0.0.1:${port}/live/s${i}`,
      async observe(seen) {
        const now = Date.now();
        for (let i = 0; i < seen.length; i++) {
          let text: string;
          try {
            text = readFileSync(join(hlsDir, `s${i}`, 'index.m3u8'), 'utf8');
          } catch {
            continue;
          }
          for (const s of playlistSegments(text)) if (!seen[i].has(s.sequence)) seen[i].set(s.sequence, { seenAt: now, duration: s.duration });
        }
      },
      firstSequence: () => 0,
      lastStatuses: () => [],
      stop: () => nginx.stop(),
    };
  }

  async function phase(kind: ServerKind, n: number, opts: { nodeArgs?: string[]; variant?: Variant } = {}): Promise<PhaseResult> {
    const variant = kind === 'keyframe' ? opts.variant : undefined;
    const server = await startServer(kind, n, opts.nodeArgs, variant);
    const publishers: FilePublisher[] = [];
    const seen: Seen[] = Array.from({ length: n }, () => new Map());
    let watcher: NodeJS.Timeout | undefined;
    try {
      await sleep(smoke ? 500 : 1000);
      const idleMem = memoryOfTree(server.pid);
      const idleA = sampleTree(server.pid);
      await sleep(smoke ? 500 : 2000);
      const idleCpu = cpuBetween(idleA, sampleTree(server.pid)).total;

      const warmupMaxMs = 15_000 + n * 150 + gopSeconds * 2000;
      const publishSeconds = Math.ceil((warmupMaxMs + n * staggerMs) / 1000 + settleSeconds + windowSeconds + 15);
      for (let i = 0; i < n; i++) {
        publishers.push(publishFile({ file, url: server.publishUrl(i), seconds: publishSeconds, loop: true, outputOptions: ['-tcp_nodelay', '1'] }));
        if (staggerMs) await sleep(staggerMs);
      }
      // Every stream's new segments, every 250 ms (the next observation starts when the previous one is over).
      let observing = false;
      watcher = setInterval(() => {
        if (observing) return;
        observing = true;
        void server
          .observe(seen)
          .catch(() => undefined)
          .finally(() => {
            observing = false;
          });
      }, 250);

      const warmDeadline = Date.now() + warmupMaxMs;
      while (Date.now() < warmDeadline && seen.some((m) => m.size < 2)) await sleep(200);
      const warm = seen.filter((m) => m.size >= 2).length;
      progress(`${kind} N=${n}: ${warm}/${n} streams producing; measuring ${windowSeconds} s`);
      await sleep(1000);
      // Memory in a steady state: every stream old enough for the ingest's store to be full (window + linger).
      const settledAt = publishers[publishers.length - 1].spawnedAt + settleSeconds * 1000;
      if (Date.now() < settledAt) {
        progress(`${kind} N=${n}: waiting ${round((settledAt - Date.now()) / 1000, 1)} s for a steady state`);
        await sleep(settledAt - Date.now());
      }

      const windowStart = Date.now();
      const sysA = systemCpu();
      const a = sampleTree(server.pid);
      const reapedA = reapedChildTicks(server.pid) ?? 0;
      const startsA = spawnCounter?.count() ?? 0;
      const putsA = s3Puts();
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
      const reapedB = reapedChildTicks(server.pid) ?? reapedA;
      const startsB = spawnCounter?.count() ?? 0;
      const putsB = s3Puts();
      const sysB = systemCpu();
      const pubB = pubTicks();
      const windowEnd = Date.now();
      const cpu = cpuBetween(a, b);
      const seconds = (windowEnd - windowStart) / 1000;
      // Children that started and ended within the window (thumbnail decodes) are in no sample: add their CPU.
      const children = childrenCpuBetween(server.pid, a, b, reapedA, reapedB);
      const liveChildren = Object.values(children.byComm).reduce((t, v) => t + v, 0);
      const reapedPct = children.pct - liveChildren;
      if (variant) {
        cpu.total += reapedPct;
        cpu.byComm['children (reaped)'] = (cpu.byComm['children (reaped)'] ?? 0) + reapedPct;
      }
      const ffmpegStarts = startsB - startsA;

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
        const fromZero = segs.length > 0 && segs[0][0] === server.firstSequence(i);
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
      const pssPerStreamMiB = (pss - idleMem.pssKiB) / 1024 / n;
      // The media held per stream by design: window + linger segments at the measured bitrate.
      const statuses = server.lastStatuses();
      const bitrates = statuses.map((st) => (st.health.video?.bitrateBps ?? 0) + (st.health.audio?.bitrateBps ?? 0)).filter((b) => b > 0);
      // (Only as much as the streams have produced: the smoke run measures before the store is full.)
      const ageSeconds = (windowStart + windowEnd) / 2000 - median(publishers.map((p) => p.spawnedAt)) / 1000;
      const heldSeconds = Math.min(keptSeconds, Math.max(0, ageSeconds));
      // With LL-HLS the parts of those segments are held too, the same bytes again (ingest/streams.ts).
      const copies = lowLatency ? 2 : 1;
      const retained = bitrates.length ? ((median(bitrates) / 8) * heldSeconds * copies) / 2 ** 20 : undefined;
      return {
        server: kind,
        windowFromSpawnMs: { fromMs: windowStart - server.spawnedAt, toMs: windowEnd - server.spawnedAt },
        n,
        windowSeconds: round(seconds, 1),
        idleCpuPct: round(idleCpu, 2),
        cpuPct: round(cpu.total, 2),
        cpuPctPerStream: perStream(cpu.total),
        systemCpuPctPerStream: perStream(cpu.system),
        cpuPerStreamByComm: byComm,
        processes: cpu.processes,
        rssIdleMiB: kib2mib(idleMem.rssKiB),
        rssMiB: kib2mib(rss),
        rssPerStreamMiB: round((rss - idleMem.rssKiB) / 1024 / n, 2),
        pssIdleMiB: kib2mib(idleMem.pssKiB),
        pssMiB: kib2mib(pss),
        pssPerStreamMiB: round(pssPerStreamMiB, 3),
        ...(retained !== undefined
          ? { retainedMediaPerStreamMiB: round(retained, 2), pssOverheadPerStreamMiB: round(pssPerStreamMiB - retained, 2) }
          : {}),
        publishersCpuPct: round(((pubB - pubA) / CLK_TCK / seconds) * 100, 1),
        machineBusyPct: round(busyPercent(sysA, sysB), 1),
        segments,
        ...(variant
          ? {
              variant,
              childCpuPctPerStream: perStream(children.pct),
              ffmpegStarts,
              ffmpegStartsPerStreamMinute: round(ffmpegStarts / n / (seconds / 60), 2),
              s3PutsPerStreamSecond: round((putsB - putsA) / n / seconds, 3),
              cpuMsPerFfmpegStart: ffmpegStarts ? round(((children.pct / 100) * seconds * 1000) / ffmpegStarts, 1) : 0,
            }
          : {}),
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
  const lateAtVariant: Partial<Record<Variant, number>> = {};
  const sweep = [...nList];
  for (let k = 0; k < sweep.length; k++) {
    const n = sweep[k];
    const order = (k % 2 ? ['nginx-rtmp', 'keyframe'] : ['keyframe', 'nginx-rtmp']).filter((x) => servers.includes(x as ServerKind)) as ServerKind[];
    const runs = order.flatMap((kind) =>
      kind === 'keyframe' && variants.length
        ? variants.map((_, j) => ({ kind, variant: variants[(j + k) % variants.length] as Variant | undefined }))
        : [{ kind, variant: undefined as Variant | undefined }],
    );
    for (const { kind, variant } of runs) {
      if (lateAt[kind] !== undefined) continue;
      if (variant && lateAtVariant[variant] !== undefined) continue;
      const r = await phase(kind, n, { nodeArgs: kind === 'keyframe' ? keyframeNodeArgs : [], variant });
      results.push(r);
      progress(
        `${kind}${variant ? ` (${variant})` : ''} N=${n}: ${r.cpuPct}% of a core (${r.cpuPctPerStream}%/stream ${JSON.stringify(r.cpuPerStreamByComm)}), ` +
          `PSS ${r.pssMiB} MiB (+${r.pssPerStreamMiB}/stream), machine ${r.machineBusyPct}% busy, ` +
          `segments ${r.segments.segmentsInWindow}/${r.segments.expectedInWindow}, max lateness ${r.segments.maxLatenessMs} ms${r.segments.late ? ' LATE' : ''}`,
      );
      if (r.segments.late && variant) {
        lateAtVariant[variant] = n;
        if (variants.every((v) => lateAtVariant[v] !== undefined)) lateAt[kind] = n;
      } else if (r.segments.late) lateAt[kind] = n;
    }
    const anyOnTime = servers.some((x) => lateAt[x] === undefined);
    if (k === sweep.length - 1 && anyOnTime && moreList.length) sweep.push(moreList.shift()!);
  }

  let profiled: (ProfileSummary & { n: number; cpuPctPerStream: number }) | undefined;
  if (profile) {
    const dir = join(root, 'cpuprof');
    mkdirSync(dir, { recursive: true });
    const r = await phase('keyframe', profileN, { nodeArgs: [...keyframeNodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`] });
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length) {
      const s = summarizeProfile(join(dir, files[0]), (url, line) => (url.endsWith('main.mjs') ? moduleOf(line) : url), 15, r.windowFromSpawnMs);
      profiled = { ...s, n: profileN, cpuPctPerStream: r.cpuPctPerStream };
    }
  }

  // Side by side: the same N for both servers.
  const pairs = nList
    .concat(results.map((r) => r.n))
    .filter((n, i, all) => all.indexOf(n) === i)
    .sort((x, y) => x - y);
  const rows = pairs.flatMap((n) => {
    const kf =
      results.find((r) => r.n === n && r.server === 'keyframe' && (r.variant ?? 'passthrough') === 'passthrough') ??
      results.find((r) => r.n === n && r.server === 'keyframe');
    const ng = results.find((r) => r.n === n && r.server === 'nginx-rtmp');
    const row = (r: PhaseResult | undefined, kind: ServerKind) =>
      r
        ? [
            n,
            r.variant ? `${kind} (${r.variant})` : kind,
            `**${r.cpuPctPerStream}**`,
            `${Object.entries(r.cpuPerStreamByComm)
              .map(([c, v]) => `${c} ${v}`)
              .join(', ')} (kernel ${r.systemCpuPctPerStream})`,
            r.cpuPct,
            r.pssPerStreamMiB,
            r.retainedMediaPerStreamMiB !== undefined ? `${r.retainedMediaPerStreamMiB} + ${r.pssOverheadPerStreamMiB}` : '—',
            r.rssPerStreamMiB,
            `${r.pssIdleMiB} → ${r.pssMiB}`,
            `${r.segments.segmentsInWindow}/${r.segments.expectedInWindow}`,
            r.segments.maxLatenessMs,
            r.segments.late ? '**late**' : 'on time',
            r.machineBusyPct,
            r.publishersCpuPct,
          ]
        : [n, kind, '—', '', '', '', '', '', '', '', '', servers.includes(kind) ? 'not run (late at a smaller N)' : 'not run (--servers)', '', ''];
    return [row(kf, 'keyframe'), row(ng, 'nginx-rtmp')];
  });
  const ratios = pairs
    .map((n) => {
      const kf =
        results.find((r) => r.n === n && r.server === 'keyframe' && (r.variant ?? 'passthrough') === 'passthrough') ??
        results.find((r) => r.n === n && r.server === 'keyframe');
      const ng = results.find((r) => r.n === n && r.server === 'nginx-rtmp');
      return kf && ng
        ? { n, cpu: round(kf.cpuPctPerStream / ng.cpuPctPerStream, 2), pss: round(kf.pssPerStreamMiB / ng.pssPerStreamMiB, 2) }
        : undefined;
    })
    .filter((x): x is { n: number; cpu: number; pss: number } => x !== undefined);
  const medianRatio = round(median(ratios.filter((r) => r.n >= 8 || ratios.length === 1).map((r) => r.cpu)), 2);
  function variantRows(): Array<Array<string | number>> {
    const rows: Array<Array<string | number>> = [];
    for (const n of pairs) {
      const base = results.find((r) => r.n === n && r.variant === 'passthrough');
      for (const v of variants) {
        const r = results.find((x) => x.n === n && x.variant === v);
        if (!r) {
          rows.push([n, v, '—', '', '', '', '', '', '', '', '', 'not run (late at a smaller N)', '']);
          continue;
        }
        const d = (x: number | undefined, y: number | undefined, digits: number) =>
          x !== undefined && y !== undefined && r !== base ? `${x - y >= 0 ? '+' : ''}${round(x - y, digits)}` : '—';
        rows.push([
          n,
          v,
          `**${r.cpuPctPerStream}**`,
          d(r.cpuPctPerStream, base?.cpuPctPerStream, 3),
          r.childCpuPctPerStream ?? '',
          `${r.ffmpegStarts ?? ''} (${r.ffmpegStartsPerStreamMinute ?? ''})`,
          r.cpuMsPerFfmpegStart ?? '',
          r.s3PutsPerStreamSecond ?? '',
          r.pssPerStreamMiB,
          d(r.pssPerStreamMiB, base?.pssPerStreamMiB, 2),
          `${r.segments.segmentsInWindow}/${r.segments.expectedInWindow}`,
          r.segments.late ? '**late**' : 'on time',
          r.machineBusyPct,
        ]);
      }
    }
    return rows;
  }
  const report = [
    `Keyframe with ${lowLatency ? 'LL-HLS on (KEYFRAME_LL_HLS=true: parts held with their segments)' : 'standard HLS (KEYFRAME_LL_HLS=false)'}. ` +
      `Server processes only, over a ${windowSeconds} s window; CPU in % of one core. nginx: ${nginxVersion()} with ${module}.`,
    '',
    table(
      [
        'N',
        'server',
        'CPU %/stream',
        'by process (%/stream)',
        'CPU % total',
        'PSS MiB/stream',
        'of which: media held + the rest',
        'RSS MiB/stream',
        'PSS MiB idle → loaded',
        'segments seen/expected',
        'max lateness ms',
        'verdict',
        'machine busy % (all cores)',
        'publishers CPU %',
      ],
      rows,
    ),
    '',
    `Keyframe / nginx-rtmp, CPU per stream: ${ratios.map((r) => `N=${r.n}: ${r.cpu}×`).join(', ')} (median over N ≥ 8: ${medianRatio}×).`,
    `PSS per stream: ${ratios.map((r) => `N=${r.n}: ${Number.isFinite(r.pss) ? `${r.pss}×` : '— (nginx-rtmp ~0)'}`).join(', ')}.`,
    `Media held (Keyframe): the ingest keeps the playlist window (${playlistSize}) plus ${SEGMENT_LINGER_SECONDS} s of segments per stream in memory` +
      `${lowLatency ? ' (and, with LL-HLS, their parts: the same bytes twice)' : ''}, ` +
      `${keptSeconds} s of media at ${gopSeconds} s segments, estimated at the bitrate the packager measures (GET /streams); ` +
      `the window started ${settleSeconds} s after the last publisher, when the store is full.`,
    `Segments came late: keyframe ${lateAt.keyframe !== undefined ? `at N=${lateAt.keyframe}` : `not up to N=${Math.max(...results.filter((r) => r.server === 'keyframe').map((r) => r.n))}`}; ` +
      `nginx-rtmp ${lateAt['nginx-rtmp'] !== undefined ? `at N=${lateAt['nginx-rtmp']}` : `not up to N=${Math.max(...results.filter((r) => r.server === 'nginx-rtmp').map((r) => r.n))}`}.`,
    ...(variants.length
      ? [
          '',
          `Variants (issue 15), each a fresh ingest at the same N in this run; thumbnails every ${thumbnailSeconds} s of media time; ` +
            "Δ against passthrough at the same N. CPU includes the ingest's children (thumbnail ffmpegs), reaped ones from cutime/cstime.",
          '',
          table(
            [
              'N',
              'variant',
              'CPU %/stream',
              'Δ CPU %/stream',
              'of it children %/stream',
              'ffmpeg starts (per stream-minute)',
              'CPU ms per ffmpeg',
              'S3 PUTs per stream-second',
              'PSS MiB/stream',
              'Δ PSS MiB/stream',
              'segments seen/expected',
              'verdict',
              'machine busy %',
            ],
            variantRows(),
          ),
        ]
      : []),
    ...(profiled
      ? [
          '',
          `Profile of the Keyframe node process at N=${profiled.n} over the measurement window (node --cpu-prof; ${profiled.busyMs} ms busy of ${profiled.wallMs} ms; a separate run, not in the table), self time by module:`,
          '',
          table(
            ['module', 'ms', '% of busy'],
            profiled.byModule.slice(0, 12).map((m) => [m.module, m.ms, m.share]),
          ),
          '',
          'Top functions (self time):',
          '',
          table(
            ['function', 'module', 'ms', '% of busy'],
            profiled.topFunctions.map((f) => [f.fn, f.module, f.ms, f.share]),
          ),
        ]
      : []),
  ].join('\n');
  finish(
    args,
    'ingest-density',
    machine,
    {
      gopSeconds,
      playlistSize,
      windowSeconds,
      lateMs,
      nginx: nginxVersion(),
      rtmpModule: module,
      phases: results,
      ratios,
      medianCpuRatio: medianRatio,
      lateAt,
      ...(variants.length ? { variants, thumbnailSeconds, lateAtVariant } : {}),
      profile: profiled,
    },
    report,
  );
});
