import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createFfmpegWrapper, type FfmpegWrapper } from './ffmpeg-wrapper';
import { startDynamoTap, startRtmpTap, type DynamoTap, type RtmpTap } from './taps';

/**
 * The local stack as the latency benchmarks drive it: the whole pipeline (dynalite, an ingest process with its
 * in-process packager, the TCP balancer, the origin behind the function-URL adapter), with taps in front of the
 * RTMP port and the ingest's DynamoDB endpoint. The ingest serves its HLS objects from memory on its HLS port
 * (nothing on disk), so what the task has is read there, as the origin reads it.
 */
export interface BenchStack {
  readonly stack: LocalStack;
  /** Tap in front of the ingest task's RTMP port (as behind the NLB, which passes TCP through). */
  readonly rtmpTap: RtmpTap;
  /** Tap in front of the local stack's TCP balancer (the NLB's local stand-in, itself a TCP proxy). */
  readonly balancerTap: RtmpTap;
  readonly dynamoTap: DynamoTap;
  /**
   * Given to the ingest as KEYFRAME_FFMPEG_PATH: it notes every ffmpeg the ingest starts, then execs ffmpeg. The
   * passthrough path starts none, and the benchmarks report how many it did.
   */
  readonly wrapper: FfmpegWrapper;
  /** The task's HLS server, as the origin fetches from it: `http://127.0.0.1:<port>`. */
  readonly taskHlsUrl: string;
  /** The task's health port (`GET /streams`: what the packager measures per stream). */
  readonly taskHealthUrl: string;
  /** The publish URL through the RTMP tap (to the task, or to the local balancer) for a stream key. */
  publishUrl(streamKey: string, opts?: { viaBalancer?: boolean }): string;
  tapFor(opts?: { viaBalancer?: boolean }): RtmpTap;
  stop(): Promise<void>;
}

/**
 * Starts the local stack with one task. `lowLatency` (KEYFRAME_LL_HLS) is off unless asked: the benchmarks measure
 * standard HLS (issue 11) unless they say otherwise.
 */
export async function startBenchStack(opts: { segmentSeconds: number; name: string; lowLatency?: boolean }): Promise<BenchStack> {
  const root = join(tmpdir(), `keyframe-bench-${opts.name}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(root, { recursive: true });
  const wrapper = createFfmpegWrapper(join(root, 'ffmpeg'));
  const dynamoTap = await startDynamoTap();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 1,
      segmentSeconds: opts.segmentSeconds,
      replaceDeadTasks: false,
      taskEnv: {
        KEYFRAME_FFMPEG_PATH: wrapper.path,
        KEYFRAME_DYNAMODB_ENDPOINT: dynamoTap.endpoint,
        KEYFRAME_END_LINGER_SECONDS: '0.5',
        KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
        KEYFRAME_LL_HLS: opts.lowLatency ? 'true' : 'false',
        KEYFRAME_LOG_LEVEL: 'SILENT',
      },
    });
  } catch (err) {
    await dynamoTap.close();
    throw err;
  }
  dynamoTap.setTarget(stack.dynamoEndpoint);
  const rtmp = new URL(stack.rtmpUrl);
  const task = stack.fleet.list()[0];
  const rtmpTap = await startRtmpTap({ host: '127.0.0.1', port: task.rtmpPort! });
  const balancerTap = await startRtmpTap({ host: rtmp.hostname, port: Number(rtmp.port) });
  const tapFor = (o?: { viaBalancer?: boolean }) => (o?.viaBalancer ? balancerTap : rtmpTap);
  return {
    stack,
    rtmpTap,
    balancerTap,
    dynamoTap,
    wrapper,
    taskHlsUrl: `http://127.0.0.1:${task.hlsPort}`,
    taskHealthUrl: `http://127.0.0.1:${task.healthPort}`,
    tapFor,
    publishUrl: (key, o) => `rtmp://127.0.0.1:${tapFor(o).port}/live/${key}`,
    async stop() {
      await rtmpTap.close().catch(() => undefined);
      await balancerTap.close().catch(() => undefined);
      await stack.stop().catch(() => undefined);
      await dynamoTap.close().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** One segment of a media playlist. */
export interface PlaylistEntry {
  readonly uri: string;
  readonly sequence: number;
  readonly duration: number;
  /** `#EXT-X-PROGRAM-DATE-TIME` of the segment, ms since epoch, if present. */
  readonly pdt?: number;
  /** The `#EXT-X-MAP` URI (fMP4 init segment) in force for this segment, if any. */
  readonly map?: string;
}

/** Parses a media playlist into its segments (URI, sequence number, duration, program date time, init segment). */
export function playlistSegments(text: string): PlaylistEntry[] {
  const out: PlaylistEntry[] = [];
  let seq = 0;
  let duration = 0;
  let pdt: number | undefined;
  let map: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1];
    else if (line && !line.startsWith('#')) {
      out.push({ uri: line, sequence: seq, duration, pdt, ...(map !== undefined ? { map } : {}) });
      seq++;
      // Without a new tag, the next segment's PDT follows this one's end.
      pdt = pdt !== undefined ? pdt + duration * 1000 : undefined;
      duration = 0;
    }
  }
  return out;
}

/** The sequence number in a segment name (`<session>_<msn>.m4s`, or ffmpeg's and nginx-rtmp's `…<n>.ts`). */
export function segmentNumber(name: string): number {
  return Number(/(\d+)\.(?:m4s|ts)$/.exec(name)?.[1] ?? -1);
}

export interface FollowedSegment extends PlaylistEntry {
  /** First time a playlist listed it. */
  readonly listedAt: number;
  /** When its fetch completed with 200 (and, for fMP4, its init segment had been fetched too). */
  fetchedAt?: number;
  bytes?: number;
}

export interface PlaylistFollower {
  readonly segments: Map<string, FollowedSegment>;
  /** Init segments (EXT-X-MAP) fetched: URI → when the fetch completed with 200, and its size. */
  readonly inits: Map<string, { fetchedAt: number; bytes: number }>;
  /** The first playlist with a segment whose fetch (and its init's) also succeeded. */
  firstPlayableAt?: number;
  /** First 200 of the playlist. */
  firstPlaylistAt?: number;
  /** Requests answered 404 before the first 200. */
  notFoundBefore: number;
  /** Segment or init fetches answered with anything but 200. */
  failedFetches: number;
  ended: boolean;
  stop(): void;
}

/** GET over a kept-alive agent, the whole body read; status 0 on a network error. */
export function httpGet(agent: http.Agent, url: string | URL): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
  });
}

/**
 * A player-like follower of one media playlist (through the origin, or straight from the task): polls it every
 * `everyMs` (no wait on the previous answer beyond the poll interval) and, unless `fetchSegments` is false,
 * fetches every new segment at once, and its init segment first if not fetched yet, as a player must, noting
 * when each was first listed and when its fetch completed.
 */
export function followPlaylist(playlistUrl: string, opts: { everyMs?: number; fetchSegments?: boolean } = {}): PlaylistFollower {
  const everyMs = opts.everyMs ?? 20;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let stopped = false;
  const follower: PlaylistFollower = {
    segments: new Map(),
    inits: new Map(),
    notFoundBefore: 0,
    failedFetches: 0,
    ended: false,
    stop: () => {
      stopped = true;
      agent.destroy();
    },
  };
  const fetchInit = async (uri: string): Promise<boolean> => {
    if (follower.inits.has(uri)) return true;
    const r = await httpGet(agent, new URL(uri, playlistUrl));
    if (r.status !== 200 || r.body.length === 0) {
      follower.failedFetches++;
      return false;
    }
    follower.inits.set(uri, { fetchedAt: Date.now(), bytes: r.body.length });
    return true;
  };
  const loop = async () => {
    while (!stopped) {
      const started = Date.now();
      const res = await httpGet(agent, playlistUrl);
      if (res.status === 404 && follower.firstPlaylistAt === undefined) follower.notFoundBefore++;
      if (res.status === 200) {
        const now = Date.now();
        follower.firstPlaylistAt ??= now;
        const text = res.body.toString('utf8');
        if (text.includes('#EXT-X-ENDLIST')) follower.ended = true;
        for (const s of playlistSegments(text)) {
          if (stopped || follower.segments.has(s.uri)) continue;
          const seg: FollowedSegment = { ...s, listedAt: now };
          follower.segments.set(s.uri, seg);
          if (opts.fetchSegments === false) continue;
          const initOk = s.map === undefined || (await fetchInit(s.map));
          const sres = await httpGet(agent, new URL(s.uri, playlistUrl));
          if (sres.status === 200 && sres.body.length > 0) {
            seg.fetchedAt = Date.now();
            seg.bytes = sres.body.length;
            if (initOk) follower.firstPlayableAt ??= seg.fetchedAt;
          } else follower.failedFetches++;
        }
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0 && !stopped) await new Promise((r) => setTimeout(r, wait));
    }
  };
  void loop();
  return follower;
}

/** A video frame that arrived at the tap: its RTMP timestamp and arrival time. */
export interface FrameArrival {
  readonly timestamp: number;
  readonly at: number;
}

/** The frame whose RTMP timestamp is nearest `ts`, if within `toleranceMs` (segments end on a frame). */
export function frameAt(frames: readonly FrameArrival[], ts: number, toleranceMs = 50): FrameArrival | undefined {
  let best: FrameArrival | undefined;
  for (const f of frames) if (!best || Math.abs(f.timestamp - ts) < Math.abs(best.timestamp - ts)) best = f;
  return best && Math.abs(best.timestamp - ts) <= toleranceMs ? best : undefined;
}

/**
 * Where each followed segment starts and ends on the publisher's RTMP clock: the first segment of a session
 * starts at its first video frame (the packager's grid starts at the first sample), each later one where the
 * previous ended (cumulative EXTINF). Needs the follower to have seen the session from its first segment.
 */
export function segmentMediaSpans(
  segments: readonly FollowedSegment[],
  firstVideoTs: number,
): Array<{ segment: FollowedSegment; startTs: number; endTs: number }> {
  const sorted = [...segments].sort((a, b) => a.sequence - b.sequence);
  const out: Array<{ segment: FollowedSegment; startTs: number; endTs: number }> = [];
  let cum = 0;
  for (const s of sorted) {
    const startTs = firstVideoTs + cum;
    cum += Math.round(s.duration * 1000);
    out.push({ segment: s, startTs, endTs: firstVideoTs + cum });
  }
  return out;
}
