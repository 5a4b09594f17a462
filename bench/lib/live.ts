import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePlaylist } from '../../ingest/playlist';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createFfmpegWrapper, type FfmpegWrapper } from './ffmpeg-wrapper';
import { startDynamoTap, startRtmpTap, type DynamoTap, type RtmpTap } from './taps';

/**
 * The local stack as the latency benchmarks drive it: the whole pipeline (dynalite, an ingest process, the
 * TCP balancer, the origin behind the function-URL adapter), with taps in front of the RTMP port and the
 * ingest's DynamoDB endpoint, and ffmpeg behind a wrapper that notes its start and can switch input flags.
 */
export interface BenchStack {
  readonly stack: LocalStack;
  /** Tap in front of the ingest task's RTMP port (as behind the NLB, which passes TCP through). */
  readonly rtmpTap: RtmpTap;
  /** Tap in front of the local stack's TCP balancer (the NLB's local stand-in, itself a TCP proxy). */
  readonly balancerTap: RtmpTap;
  readonly dynamoTap: DynamoTap;
  readonly wrapper: FfmpegWrapper;
  /** KEYFRAME_HLS_DIR of the ingest (the fleet adds `/<task id>`). */
  readonly hlsDir: string;
  /** The publish URL through the RTMP tap (to the task, or to the local balancer) for a stream key. */
  publishUrl(streamKey: string, opts?: { viaBalancer?: boolean }): string;
  tapFor(opts?: { viaBalancer?: boolean }): RtmpTap;
  stop(): Promise<void>;
}

export async function startBenchStack(opts: { segmentSeconds: number; name: string }): Promise<BenchStack> {
  const root = join(tmpdir(), `keyframe-bench-${opts.name}-${process.pid}-${Date.now().toString(36)}`);
  const hlsDir = join(root, 'hls');
  mkdirSync(hlsDir, { recursive: true });
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
        KEYFRAME_HLS_DIR: hlsDir,
        KEYFRAME_END_LINGER_SECONDS: '0.5',
        KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
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
    hlsDir,
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

/** What the ingest wrote to disk for one publish, and when it was first seen (polled). */
export interface DiskTimes {
  sessionDirAt?: number;
  /** ffmpeg opened its first output file (a `.tmp` segment): probing is over. */
  firstOutputAt?: number;
  /** The first segment was closed (renamed from `.tmp`). */
  firstSegmentAt?: number;
  /** A playlist listing at least one segment is on disk. */
  playlistAt?: number;
}

/** Polls the session directory of `playbackId` under the ingest's HLS dir every `everyMs`. */
export function watchDisk(hlsDir: string, playbackId: string, everyMs = 5): { times: DiskTimes; stop(): void } {
  const times: DiskTimes = {};
  let sessionDir: string | undefined;
  const tick = () => {
    try {
      if (!sessionDir) {
        for (const task of readdirSync(hlsDir)) {
          const dir = join(hlsDir, task, playbackId);
          if (!existsSync(dir)) continue;
          const sessions = readdirSync(dir);
          if (sessions.length) {
            sessionDir = join(dir, sessions[0]);
            times.sessionDirAt = Date.now();
          }
        }
        if (!sessionDir) return;
      }
      if (times.playlistAt) return;
      const files = readdirSync(sessionDir);
      const now = Date.now();
      if (files.length && times.firstOutputAt === undefined) times.firstOutputAt = now;
      if (times.firstSegmentAt === undefined && files.some((f) => /_\d+\.(ts|m4s)$/.test(f))) times.firstSegmentAt = now;
      if (files.includes('index.m3u8')) {
        const text = readFileSync(join(sessionDir, 'index.m3u8'), 'utf8');
        if (parsePlaylist(text).segments > 0) times.playlistAt = now;
      }
    } catch {
      // racing with the writer; next tick
    }
  };
  const timer = setInterval(tick, everyMs);
  return { times, stop: () => clearInterval(timer) };
}

export interface OriginSegment {
  readonly uri: string;
  readonly sequence: number;
  readonly duration: number;
  /** `#EXT-X-PROGRAM-DATE-TIME` of the segment, ms since epoch, if present. */
  readonly pdt?: number;
  /** First time an origin playlist listed it. */
  readonly listedAt: number;
  /** When its fetch through the origin completed with 200. */
  fetchedAt?: number;
  bytes?: number;
}

export interface OriginFollower {
  readonly segments: Map<string, OriginSegment>;
  /** The first origin playlist with a segment whose segment fetch also succeeded. */
  firstPlayableAt?: number;
  /** First 200 of the playlist through the origin. */
  firstPlaylistAt?: number;
  /** Requests answered 404 before the first 200. */
  notFoundBefore: number;
  ended: boolean;
  stop(): void;
}

/** Parses a media playlist into its segments (URI, sequence number, duration, program date time). */
export function playlistSegments(text: string): Array<{ uri: string; sequence: number; duration: number; pdt?: number }> {
  const out: Array<{ uri: string; sequence: number; duration: number; pdt?: number }> = [];
  let seq = 0;
  let duration = 0;
  let pdt: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line && !line.startsWith('#')) {
      out.push({ uri: line, sequence: seq, duration, pdt });
      seq++;
      // Without a new tag, the next segment's PDT follows this one's end.
      pdt = pdt !== undefined ? pdt + duration * 1000 : undefined;
      duration = 0;
    }
  }
  return out;
}

/**
 * A player-like follower of one stream through the origin: polls the playlist every `everyMs` (no wait on
 * the previous answer beyond the poll interval), and fetches every new segment at once, noting when each was
 * first listed and when its fetch completed.
 */
export function followOrigin(playbackUrl: string, opts: { everyMs?: number; fetchSegments?: boolean } = {}): OriginFollower {
  const everyMs = opts.everyMs ?? 20;
  const follower: OriginFollower = {
    segments: new Map(),
    notFoundBefore: 0,
    ended: false,
    stop: () => {
      stopped = true;
    },
  };
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        const res = await fetch(playbackUrl);
        const text = await res.text();
        if (res.status === 404 && follower.firstPlaylistAt === undefined) follower.notFoundBefore++;
        if (res.status === 200) {
          const now = Date.now();
          follower.firstPlaylistAt ??= now;
          if (text.includes('#EXT-X-ENDLIST')) follower.ended = true;
          for (const s of playlistSegments(text)) {
            if (follower.segments.has(s.uri)) continue;
            const seg: OriginSegment = { ...s, listedAt: now };
            follower.segments.set(s.uri, seg);
            if (opts.fetchSegments === false) continue;
            const sres = await fetch(new URL(s.uri, playbackUrl));
            const body = await sres.arrayBuffer();
            if (sres.status === 200 && body.byteLength > 0) {
              seg.fetchedAt = Date.now();
              seg.bytes = body.byteLength;
              follower.firstPlayableAt ??= seg.fetchedAt;
            }
          }
        }
      } catch {
        // the origin is not up yet or the stack is stopping
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  void loop();
  return follower;
}
