import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createFfmpegWrapper, type FfmpegWrapper } from './ffmpeg-wrapper';
import { blockingUrl, type ListedPart, parseLowLatencyPlaylist } from './ll-playlist';
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

/** A part as an LL-HLS follower saw it. */
export interface FollowedPart extends ListedPart {
  /** The first playlist that listed it came at (a blocking reload's answer, unless `inFirstPlaylist`). */
  readonly listedAt: number;
  /** Listed by the first playlist the follower got or the first reload after it (so perhaps never waited for). */
  readonly inFirstPlaylist: boolean;
  /** Its fetch as the preload hint (sent while the reload was held) completed with 200. */
  hintAt?: number;
  /** Its fetch after the playlist listed it (as hls.js does) completed with 200. */
  fetchedAt?: number;
  bytes?: number;
}

export interface LowLatencyFollower {
  readonly parts: Map<string, FollowedPart>;
  /** EXTINF of every complete segment seen, by msn. */
  readonly segmentSeconds: Map<number, number>;
  readonly pdtByMsn: Map<number, number>;
  /** Body sizes of the blocking reloads' answers, and how long each was held (request → last byte), ms. */
  readonly reloads: Array<{ bytes: number; ms: number }>;
  /** Some of the playlists as served, about one a segment (for the delta-update arithmetic). */
  readonly samples: string[];
  /** One reload sent with `_HLS_skip=YES` beside a plain one for the same part: both answers' sizes, and whether it was a delta. */
  skip?: { plainBytes: number; skipBytes: number; delta: boolean };
  firstPlaylistAt?: number;
  /** Init and a part marked INDEPENDENT=YES fetched (with `fetchParts`). */
  firstPlayableAt?: number;
  firstPlayablePart?: string;
  partTarget?: number;
  canSkipUntil?: number;
  notFoundBefore: number;
  failedFetches: number;
  ended: boolean;
  stop(): void;
}

/**
 * An LL-HLS player-like follower of one media playlist (through the origin, or straight from the task): polls the
 * plain playlist every `everyMs` until it exists, then makes blocking reloads for the part the preload hint names,
 * one after the other. With `fetchParts` it fetches the init and the newest independent part of the first playlist
 * (first playable), then every part newly listed; with `fetchHints` it also fetches the hinted part while the
 * reload is held (as Safari does), noting when each answer came.
 */
export function followLowLatency(
  playlistUrl: string,
  opts: { everyMs?: number; fetchParts?: boolean; fetchHints?: boolean } = {},
): LowLatencyFollower {
  const everyMs = opts.everyMs ?? 20;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let stopped = false;
  const f: LowLatencyFollower = {
    parts: new Map(),
    segmentSeconds: new Map(),
    pdtByMsn: new Map(),
    reloads: [],
    samples: [],
    notFoundBefore: 0,
    failedFetches: 0,
    ended: false,
    stop: () => {
      stopped = true;
      agent.destroy();
    },
  };
  const note = (text: string, at: number, first: boolean) => {
    const pl = parseLowLatencyPlaylist(text);
    f.partTarget ??= pl.partTarget;
    f.canSkipUntil ??= pl.canSkipUntil;
    if (pl.ended) f.ended = true;
    for (const s of pl.segments) f.segmentSeconds.set(s.msn, s.duration);
    for (const [m, t] of pl.pdtByMsn) f.pdtByMsn.set(m, t);
    const fresh: FollowedPart[] = [];
    for (const p of pl.parts) {
      if (f.parts.has(p.uri)) continue;
      const part: FollowedPart = { ...p, listedAt: at, inFirstPlaylist: first };
      f.parts.set(p.uri, part);
      fresh.push(part);
    }
    // Every 3rd playlist (about one a segment), up to 40: the window fills after the first few.
    if (f.samples.length < 40 && !pl.ended && f.reloads.length % 3 === 0) f.samples.push(text);
    return { pl, fresh };
  };
  const fetchInto = async (uri: string, set: (at: number, bytes: number) => void) => {
    const r = await httpGet(agent, new URL(uri, playlistUrl));
    if (r.status === 200 && r.body.length > 0) set(Date.now(), r.body.length);
    else f.failedFetches++;
    return r.status === 200;
  };
  const loop = async () => {
    let text: string | undefined;
    while (!stopped && text === undefined) {
      const started = Date.now();
      const res = await httpGet(agent, playlistUrl);
      if (res.status === 200) text = res.body.toString('utf8');
      else {
        if (res.status === 404) f.notFoundBefore++;
        const wait = everyMs - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    if (stopped || text === undefined) return;
    f.firstPlaylistAt = Date.now();
    let { pl } = note(text, f.firstPlaylistAt, true);
    if (opts.fetchParts) {
      const start = [...pl.parts].reverse().find((p) => p.independent);
      const initOk = pl.map === undefined || (await fetchInto(pl.map, () => undefined));
      if (start && (await fetchInto(start.uri, (at, bytes) => Object.assign(f.parts.get(start.uri)!, { fetchedAt: at, bytes }))) && initOk) {
        f.firstPlayableAt = f.parts.get(start.uri)!.fetchedAt;
        f.firstPlayablePart = start.uri;
      }
    }
    const hints: Array<Promise<unknown>> = [];
    while (!stopped && pl.preloadHint && !pl.ended) {
      const hint = pl.preloadHint;
      if (opts.fetchHints)
        hints.push(
          fetchInto(hint.uri, (at, bytes) => {
            const p = f.parts.get(hint.uri);
            // Usually the reload lists the part first; if the hint's answer comes first, it is noted when the part is listed.
            if (p) Object.assign(p, { hintAt: p.hintAt ?? at, bytes });
            else early.set(hint.uri, at);
          }),
        );
      const sent = Date.now();
      const withSkip = f.reloads.length === 5 && !f.skip;
      const [res, skipRes] = await Promise.all([
        httpGet(agent, blockingUrl(playlistUrl, hint.msn, hint.index)),
        withSkip ? httpGet(agent, blockingUrl(playlistUrl, hint.msn, hint.index, 'YES')) : undefined,
      ]);
      if (stopped) break;
      const at = Date.now();
      if (res.status !== 200) {
        f.failedFetches++;
        break;
      }
      const body = res.body.toString('utf8');
      f.reloads.push({ bytes: res.body.length, ms: at - sent });
      if (skipRes?.status === 200)
        f.skip = { plainBytes: res.body.length, skipBytes: skipRes.body.length, delta: skipRes.body.includes('#EXT-X-SKIP:') };
      const got = note(body, at, f.reloads.length === 1);
      pl = got.pl;
      for (const p of got.fresh) {
        const e = early.get(p.uri);
        if (e !== undefined) p.hintAt = e;
      }
      if (opts.fetchParts)
        for (const p of got.fresh)
          if (p.fetchedAt === undefined) await fetchInto(p.uri, (t, bytes) => Object.assign(p, { fetchedAt: t, bytes: p.bytes ?? bytes }));
    }
    await Promise.all(hints);
  };
  const early = new Map<string, number>();
  void loop();
  return f;
}
