/**
 * LL-HLS through a real origin (issue 12): the local stack's ingest task with LL-HLS on (0.334 s parts, blocking
 * reloads), the origin in its own process (bench/lib/origin-server.ts: functions/origin composed as build.ts does,
 * behind the function-URL adapter, counting what it asks the task for), and a real ffmpeg publisher pushing a
 * pre-encoded 720p30 ~3 Mbit/s FLV in real time (`-re`, TCP_NODELAY) through a tap that times every frame.
 *
 * 1. First playable: from the arrival of the publisher's first keyframe at the tap to the moment a follower that
 *    polls the playlist through the origin every 20 ms (from before the publish) has the init segment and a part
 *    marked INDEPENDENT=YES. Broken down against the first part's and the first segment's media end (the
 *    arrival of the frame that ends each), and when the task's own playlist first answered (5 ms polls).
 * 2. Part availability: the same follower then makes blocking reloads for the part each preload hint names, fetches
 *    the hinted part while the reload is held (as Safari does) and each part once listed (as hls.js does). Media
 *    end of a part = the arrival at the tap of the video frame that ends it (its span from the playlist: the first
 *    segment starts at the first video frame, each later one where the previous ended, each part where the
 *    previous part of its segment ended). Availability = the first of the two fetches completed − media end; the
 *    hls.js path and the task's own listing (a second follower, blocking reloads on the task's HLS port) apart.
 *    Parts of the first playlist (and the reload right after it) are left out: nobody waited for them.
 * 3. Upstream requests per part: `--viewers` (100) LL viewers in their own process (bench/lib/viewers.ts `ll`)
 *    join a looped publish through the origin for `--viewer-seconds`, make blocking reloads and fetch every part,
 *    half of them the preload hint too. The origin counts its requests to the task: blocking reloads per distinct
 *    `_HLS_msn`/`_HLS_part`, and fetches per distinct part. Coalescing (and the origin's part cache) makes both 1.
 * 4. Delta updates: the playlist bytes per reload (and gzipped, as CloudFront compresses playlists) against the
 *    delta update (`_HLS_skip=YES`, EXT-X-SKIP) a server offering CAN-SKIP-UNTIL = 6 target durations (the
 *    spec's minimum) would send for the same playlist; one reload per run also asks with `_HLS_skip=YES`. For
 *    longer windows the playlist is rendered by the packager's own renderer with the measured part durations.
 *
 *   npx tsx bench/ll-hls.ts [--runs 3] [--gop 2,1] [--seconds 12] [--viewers 100] [--viewer-seconds 10] [--hint-share 0.5]
 *                           [--poll-ms 20] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { gzipSync } from 'node:zlib';
import { renderMediaPlaylist, type PlaylistSegment } from '../ingest/packager/playlist';
import { finish, machineInfo, parseArgs, progress, runBench, sleep, table } from './lib/cli';
import { followLowLatency, frameAt, startBenchStack, type BenchStack, type FollowedPart, type LowLatencyFollower } from './lib/live';
import { deltaUpdate, parseLowLatencyPlaylist } from './lib/ll-playlist';
import { encodeSource, publishFile, SOURCE_720P30, SOURCE_SMOKE } from './lib/media';
import { originEnv, runViewers, startOriginChild, type OriginChild, type UpstreamCounts } from './lib/origin-child';
import { median, percentile, round } from './lib/stats';
import type { ViewerResult } from './lib/viewers';

interface FirstPlayable {
  readonly gopSeconds: number;
  readonly run: number;
  /** First keyframe arrived at the tap → init and an independent part fetched through the origin. */
  readonly totalMs: number;
  /** → the frame that ends the first part arrived: the floor if parts were served before the first segment completes. */
  readonly firstPartMediaEndMs: number;
  /** → the frame that ends the first segment arrived: the floor while the playlist waits for one segment. */
  readonly firstSegmentMediaEndMs: number;
  /** → the task's own playlist first answered 200 (5 ms polls). */
  readonly taskPlaylistMs: number;
  /** → the origin's playlist first answered 200 (20 ms polls). */
  readonly originPlaylistMs: number;
  readonly part: string;
}

interface PartSample {
  readonly gopSeconds: number;
  readonly run: number;
  readonly uri: string;
  readonly duration: number;
  readonly independent: boolean;
  /** The first of the hint's and the listed fetch's completions − media end. */
  readonly availableMs: number;
  readonly hintMs?: number;
  /** Listed through the origin, then fetched (the hls.js path) − media end. */
  readonly hlsjsMs?: number;
  readonly listedAtOriginMs: number;
  readonly listedAtTaskMs?: number;
  /** The first audio frame at or past the part's end arrived − media end (the packager waits for it). */
  readonly audioPastEndMs: number;
  /** The first fetch completed − (PDT of its segment + the part's offset + duration): the playlist's own clock. */
  readonly vsPdtMs?: number;
}

interface PlaylistBytes {
  readonly reloads: number;
  readonly fullBytes: number;
  readonly fullGzipBytes: number;
  readonly deltaBytes: number;
  readonly deltaGzipBytes: number;
  readonly skippedSegments: number;
  /** What the server did with `_HLS_skip=YES` (served a delta or the full playlist), and whether it offers CAN-SKIP-UNTIL. */
  readonly skipAnswer?: { plainBytes: number; skipBytes: number; delta: boolean };
  readonly canSkipUntil?: number;
  /** Blocking reload held, request → last byte (ms), through the origin. */
  readonly reloadHeldMs: { p50: number; p90: number };
}

interface WindowRow {
  readonly segments: number;
  readonly fullBytes: number;
  readonly fullGzipBytes: number;
  readonly deltaBytes: number;
  readonly deltaGzipBytes: number;
  readonly skippedSegments: number;
  /** Playlist bytes per viewer-hour (gzipped, one reload per part) as a share of the media bytes. */
  readonly fullShareOfMediaPct: number;
  readonly deltaShareOfMediaPct: number;
}

interface CoalescingResult {
  readonly viewers: number;
  readonly seconds: number;
  readonly hintShare: number;
  readonly viewerRequests: number;
  readonly viewerBlockingReloads: number;
  readonly viewerPartRequests: number;
  readonly failures: number;
  readonly statuses: Record<string, number>;
  readonly upstream: UpstreamCounts & { distinctQueries: number; distinctParts: number; plainPlaylists: number };
  /** Upstream blocking reloads per distinct `_HLS_msn`/`_HLS_part`: total / distinct, median and max over the queries. */
  /** Upstream blocking reloads for each distinct part, in order. */
  readonly reloadsPerQuery: number[];
  readonly reloadsPerPart: { mean: number; median: number; max: number; afterJoin: { parts: number; mean: number; max: number } };
  /** Upstream fetches per distinct part. */
  readonly fetchesPerPart: { mean: number; max: number };
  readonly viewerBlockingMs: ViewerResult['blockingMs'];
  readonly goal: number;
}

const args = parseArgs();
const smoke = args.smoke;
const runs = Math.max(1, args.number('runs', smoke ? 1 : 3));
const gops = args.list('gop', smoke ? [2] : [2, 1]);
const seconds = args.number('seconds', smoke ? 5 : 12);
const viewers = Math.max(1, args.number('viewers', smoke ? 20 : 100));
const viewerSeconds = args.number('viewer-seconds', smoke ? 4 : 10);
const hintShare = Math.min(1, Math.max(0, args.number('hint-share', 0.5)));
const pollMs = args.number('poll-ms', 20);
const machine = machineInfo();
const cleanups: Array<() => unknown> = [];

/** Part spans on the publisher's RTMP clock, from the follower's segment and part durations. */
function partEnds(f: LowLatencyFollower, firstVideoTs: number): Map<string, { startTs: number; endTs: number; segStartTs: number }> {
  const out = new Map<string, { startTs: number; endTs: number; segStartTs: number }>();
  const msns = [...new Set([...f.parts.values()].map((p) => p.msn))].sort((a, b) => a - b);
  const firstMsn = Math.min(...f.segmentSeconds.keys(), ...msns);
  for (const msn of msns) {
    let segStart = firstVideoTs;
    let complete = true;
    for (let m = firstMsn; m < msn; m++) {
      const d = f.segmentSeconds.get(m);
      if (d === undefined) complete = false;
      else segStart += Math.round(d * 1000);
    }
    if (!complete) continue;
    const parts = [...f.parts.values()].filter((p) => p.msn === msn).sort((a, b) => a.index - b.index);
    let t = segStart;
    for (const [i, p] of parts.entries()) {
      if (p.index !== i) break; // a part of this segment was never seen: the rest cannot be placed
      out.set(p.uri, { startTs: t, endTs: t + Math.round(p.duration * 1000), segStartTs: segStart });
      t += Math.round(p.duration * 1000);
    }
  }
  return out;
}

async function oneRun(bs: BenchStack, origin: OriginChild, file: string, gop: number, run: number) {
  const channel = await bs.stack.createChannel(`ll-${gop}s-${run}-${Date.now().toString(36)}`);
  const path = `/${channel.playbackId}/index.m3u8`;
  const tap = bs.rtmpTap;
  const connIndex = tap.connections.length;
  const spawnsBefore = bs.wrapper.spawns().length;
  const thumbnailsBefore = bs.wrapper.thumbnailSpawns().length;
  const atTask = followLowLatency(`${bs.taskHlsUrl}${path}`, { everyMs: 5 });
  const viaOrigin = followLowLatency(`http://127.0.0.1:${origin.port}${path}`, { everyMs: pollMs, fetchParts: true, fetchHints: true });
  const publisher = publishFile({ file, url: bs.publishUrl(channel.streamKey), seconds, outputOptions: ['-tcp_nodelay', '1'] });
  let stoppedAt: number;
  try {
    const result = await publisher.exited;
    stoppedAt = Date.now();
    if (result.code !== 0) throw new Error(`publisher failed: ${result.stderr}`);
    const deadline = Date.now() + 4000;
    while (!viaOrigin.ended && Date.now() < deadline) await sleep(50);
  } finally {
    viaOrigin.stop();
    atTask.stop();
    await publisher.stop();
  }
  const conn = tap.connections[connIndex];
  if (!conn || conn.videoFrames.length < 2 || conn.keyframes.length === 0) throw new Error('the RTMP tap saw no video');
  if (viaOrigin.firstPlayableAt === undefined || viaOrigin.firstPlaylistAt === undefined || atTask.firstPlaylistAt === undefined)
    throw new Error('the stream never became playable through the origin');
  const firstKey = conn.keyframes[0];
  const ends = partEnds(viaOrigin, conn.videoFrames[0].timestamp);
  const parts = [...viaOrigin.parts.values()].sort((a, b) => a.msn - b.msn || a.index - b.index);
  const arrival = (ts: number) => frameAt(conn.videoFrames, ts)?.at;
  const firstPart = parts[0];
  const firstSegment = Math.min(...viaOrigin.segmentSeconds.keys());
  const firstPartEnd = firstPart ? ends.get(firstPart.uri) : undefined;
  const firstSegEnd = arrival(conn.videoFrames[0].timestamp + Math.round((viaOrigin.segmentSeconds.get(firstSegment) ?? Number.NaN) * 1000));
  const fp: FirstPlayable = {
    gopSeconds: gop,
    run,
    totalMs: viaOrigin.firstPlayableAt - firstKey.at,
    firstPartMediaEndMs: firstPartEnd ? (arrival(firstPartEnd.endTs) ?? Number.NaN) - firstKey.at : Number.NaN,
    firstSegmentMediaEndMs: (firstSegEnd ?? Number.NaN) - firstKey.at,
    taskPlaylistMs: atTask.firstPlaylistAt - firstKey.at,
    originPlaylistMs: viaOrigin.firstPlaylistAt - firstKey.at,
    part: viaOrigin.firstPlayablePart ?? '',
  };
  const samples: PartSample[] = [];
  const partTargetMs = Math.round((viaOrigin.partTarget ?? Number.NaN) * 1000);
  let longest = 0;
  for (const p of parts) {
    longest = Math.max(longest, p.duration);
    const span = ends.get(p.uri);
    if (!span || p.inFirstPlaylist || p.listedAt > stoppedAt!) continue;
    const endAt = arrival(span.endTs);
    const got = [p.hintAt, p.fetchedAt].filter((x): x is number => x !== undefined);
    if (endAt === undefined || got.length === 0) continue;
    const first = Math.min(...got);
    const pdt = viaOrigin.pdtByMsn.get(p.msn);
    const audio = conn.audioFrames.find((a) => a.timestamp >= span.endTs);
    const task = atTask.parts.get(p.uri);
    samples.push({
      gopSeconds: gop,
      run,
      uri: p.uri,
      duration: p.duration,
      independent: p.independent,
      availableMs: first - endAt,
      ...(p.hintAt !== undefined ? { hintMs: p.hintAt - endAt } : {}),
      ...(p.fetchedAt !== undefined ? { hlsjsMs: p.fetchedAt - endAt } : {}),
      listedAtOriginMs: p.listedAt - endAt,
      ...(task && !task.inFirstPlaylist ? { listedAtTaskMs: task.listedAt - endAt } : {}),
      audioPastEndMs: audio ? audio.at - endAt : Number.NaN,
      ...(pdt !== undefined ? { vsPdtMs: first - (pdt + (span.endTs - span.segStartTs)) } : {}),
    });
  }
  return {
    firstPlayable: fp,
    samples,
    follower: viaOrigin,
    longestPartSeconds: longest,
    partTargetMs,
    ffmpegSpawns: bs.wrapper.spawns().length - spawnsBefore,
    thumbnailSpawns: bs.wrapper.thumbnailSpawns().length - thumbnailsBefore,
    failedFetches: viaOrigin.failedFetches,
  };
}

/** Full vs delta playlist bytes for the playlists a follower got; CAN-SKIP-UNTIL = 6 target durations. */
function playlistBytes(followers: LowLatencyFollower[]): PlaylistBytes {
  // Only playlists with a full window (the stream's first seconds list fewer segments).
  const all = followers.flatMap((f) => f.samples).filter((t) => t.includes('#EXT-X-PART:'));
  const fullWindow = Math.max(0, ...all.map((t) => parseLowLatencyPlaylist(t).segments.length));
  const texts = all.filter((t) => parseLowLatencyPlaylist(t).segments.length === fullWindow);
  const target = parseLowLatencyPlaylist(texts[0] ?? '').targetDuration || 1;
  const rows = texts.map((t) => {
    const d = deltaUpdate(t, 6 * target);
    return {
      full: Buffer.byteLength(t),
      fullGz: gzipSync(t).length,
      delta: Buffer.byteLength(d.text),
      deltaGz: gzipSync(d.text).length,
      skipped: d.skipped,
    };
  });
  const med = (f: (r: (typeof rows)[number]) => number) => Math.round(median(rows.map(f)));
  const held = followers.flatMap((f) => f.reloads.map((r) => r.ms));
  const skip = followers.find((f) => f.skip)?.skip;
  return {
    reloads: followers.reduce((n, f) => n + f.reloads.length, 0),
    fullBytes: med((r) => r.full),
    fullGzipBytes: med((r) => r.fullGz),
    deltaBytes: med((r) => r.delta),
    deltaGzipBytes: med((r) => r.deltaGz),
    skippedSegments: med((r) => r.skipped),
    ...(skip ? { skipAnswer: skip } : {}),
    canSkipUntil: followers.find((f) => f.canSkipUntil !== undefined)?.canSkipUntil,
    reloadHeldMs: { p50: round(percentile(held, 50), 1), p90: round(percentile(held, 90), 1) },
  };
}

/**
 * Playlists with longer windows, rendered by the packager's own renderer (3 segments with parts listed, the open
 * segment's parts, the hint), with the measured part durations: what delta updates would save as the window grows.
 */
function windowRows(samples: FollowedPart[], mediaBytesPerSecond: number, partTarget: number): WindowRow[] {
  const durations = samples.map((p) => p.duration);
  const perSegment = Math.max(1, Math.round(1 / partTarget));
  const partDur = median(durations) || partTarget;
  const session = 'abcdefghij';
  const now = Date.UTC(2026, 11, 1, 15, 0, 0);
  const reloadsPerSecond = 1 / partTarget;
  return [6, 30, 120].map((n) => {
    const seg = (msn: number): PlaylistSegment => ({
      msn,
      uri: `${session}_${msn}.m4s`,
      duration: perSegment * partDur,
      programDateTimeMs: now + msn * perSegment * partDur * 1000,
      discontinuity: false,
      discontinuitySequence: 1,
      initUri: `${session}_init.mp4`,
      independent: msn % 2 === 0,
      parts: Array.from({ length: perSegment }, (_, i) => ({ duration: partDur, independent: i === 0 && msn % 2 === 0, offset: 0, length: 0 })),
    });
    const base = 176_000_000_000;
    const segments = Array.from({ length: n }, (_, i) => seg(base + i));
    const open = seg(base + n);
    const text = renderMediaPlaylist({
      targetDuration: 1,
      segments,
      ended: false,
      independentSegments: false,
      lowLatency: {
        partTarget,
        open: { ...open, parts: open.parts.slice(0, 1) },
        preloadHint: `${session}_${base + n}.1.m4s`,
      },
    });
    const d = deltaUpdate(text, 6);
    const fullGz = gzipSync(text).length;
    const deltaGz = gzipSync(d.text).length;
    return {
      segments: n,
      fullBytes: Buffer.byteLength(text),
      fullGzipBytes: fullGz,
      deltaBytes: Buffer.byteLength(d.text),
      deltaGzipBytes: deltaGz,
      skippedSegments: d.skipped,
      fullShareOfMediaPct: round(((fullGz * reloadsPerSecond) / mediaBytesPerSecond) * 100, 2),
      deltaShareOfMediaPct: round(((deltaGz * reloadsPerSecond) / mediaBytesPerSecond) * 100, 2),
    };
  });
}

async function coalescing(bs: BenchStack, origin: OriginChild, file: string): Promise<CoalescingResult> {
  const channel = await bs.stack.createChannel(`ll-viewers-${Date.now().toString(36)}`);
  const url = `http://127.0.0.1:${origin.port}/${channel.playbackId}/index.m3u8`;
  const publisher = publishFile({
    file,
    url: bs.publishUrl(channel.streamKey),
    seconds: viewerSeconds + 20,
    loop: true,
    outputOptions: ['-tcp_nodelay', '1'],
  });
  try {
    // The stream is up through the origin, with parts and a preload hint.
    const probe = followLowLatency(url, { everyMs: 50 });
    const deadline = Date.now() + 20_000;
    while (probe.parts.size < 3) {
      if (Date.now() > deadline) throw new Error('the stream did not come up through the origin');
      if (publisher.proc.exitCode !== null) throw new Error(`publisher exited: ${(await publisher.exited).stderr}`);
      await sleep(50);
    }
    probe.stop();
    await origin.reset();
    const v = await runViewers({ url, viewers, seconds: viewerSeconds, pollMs: 334, ll: true, hintShare });
    const c = await origin.counts();
    const perQuery = Object.values(c.byPlaylistQuery);
    // After the join: each viewer fetches the init and 3 parts before its first reload, which may then ask for a part
    // already written (answered at once, so not coalesced with the others'). Counted apart: the parts up to the newest
    // any viewer asked for in its first reload.
    const key = (q: string) => q.split('&').map((kv) => Number(kv.split('=')[1]));
    const ordered = Object.entries(c.byPlaylistQuery).sort(([a], [b]) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
    const j = v.joinedBy;
    const steady = ordered.filter(([q]) => !j || key(q)[0] > j.msn || (key(q)[0] === j.msn && key(q)[1] > j.index)).map(([, n]) => n);
    const partPaths = Object.entries(c.bySegment).filter(([p]) => /_\d+\.\d+\.m4s$/.test(p));
    const failures = Object.entries(v.statuses)
      .filter(([k]) => !k.endsWith(' 200'))
      .reduce((n, [, x]) => n + x, 0);
    return {
      viewers,
      seconds: viewerSeconds,
      hintShare,
      viewerRequests: v.playlistRequests + v.partRequests + v.initRequests + v.segmentRequests,
      viewerBlockingReloads: v.blockingRequests,
      viewerPartRequests: v.partRequests,
      failures,
      statuses: v.statuses,
      upstream: { ...c, distinctQueries: perQuery.length, distinctParts: partPaths.length, plainPlaylists: c.playlist - c.blocking },
      reloadsPerQuery: ordered.map(([, n]) => n),
      reloadsPerPart: {
        mean: round(c.blocking / Math.max(1, perQuery.length), 3),
        median: median(perQuery),
        max: Math.max(0, ...perQuery),
        afterJoin: {
          parts: steady.length,
          mean: round(steady.reduce((n, x) => n + x, 0) / Math.max(1, steady.length), 3),
          max: Math.max(0, ...steady),
        },
      },
      fetchesPerPart: {
        mean: round(partPaths.reduce((n, [, x]) => n + x, 0) / Math.max(1, partPaths.length), 3),
        max: Math.max(0, ...partPaths.map(([, x]) => x)),
      },
      viewerBlockingMs: { p50: round(v.blockingMs.p50, 1), p90: round(v.blockingMs.p90, 1), p99: round(v.blockingMs.p99, 1) },
      goal: 1,
    };
  } finally {
    await publisher.stop();
  }
}

const stat = (xs: number[]) => ({
  n: xs.length,
  p50: round(percentile(xs, 50), 1),
  p90: round(percentile(xs, 90), 1),
  max: round(Math.max(...xs), 1),
});

await runBench({ deadlineMs: smoke ? 100_000 : 20 * 60_000, cleanups }, async () => {
  progress('starting the local stack (LL-HLS on) and the origin');
  const bs = await startBenchStack({ segmentSeconds: 1, name: 'll-hls', lowLatency: true });
  cleanups.push(() => bs.stop());
  const origin = await startOriginChild(originEnv(bs.stack));
  cleanups.push(() => origin.stop());
  const firstPlayable: FirstPlayable[] = [];
  const samples: PartSample[] = [];
  const followers: LowLatencyFollower[] = [];
  let longestPart = 0;
  let partTargetMs = Number.NaN;
  let ffmpegSpawns = 0;
  let thumbnailSpawns = 0;
  let failedFetches = 0;
  for (const gop of gops) {
    const file = await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: gop, seconds: 20 });
    for (let r = 0; r < runs; r++) {
      const got = await oneRun(bs, origin, file, gop, r);
      firstPlayable.push(got.firstPlayable);
      samples.push(...got.samples);
      followers.push(got.follower);
      longestPart = Math.max(longestPart, got.longestPartSeconds);
      partTargetMs = got.partTargetMs;
      ffmpegSpawns += got.ffmpegSpawns;
      thumbnailSpawns += got.thumbnailSpawns;
      failedFetches += got.failedFetches;
      progress(
        `GOP ${gop} s, run ${r + 1}/${runs}: first playable ${got.firstPlayable.totalMs} ms; ${got.samples.length} parts, ` +
          `median ${round(median(got.samples.map((s) => s.availableMs)), 1)} ms after their media end`,
      );
      await sleep(1000); // the previous stream ends (linger 0.5 s) before the next publish
    }
  }
  if (samples.length === 0) throw new Error('no part samples');
  const bytes = playlistBytes(followers);
  const partsSeen = followers.flatMap((f) => [...f.parts.values()]).filter((p) => p.bytes !== undefined);
  const mediaBytesPerSecond =
    partsSeen.reduce((n, p) => n + (p.bytes ?? 0), 0) /
    Math.max(
      1e-9,
      partsSeen.reduce((n, p) => n + p.duration, 0),
    );
  const windows = windowRows(partsSeen, mediaBytesPerSecond, partTargetMs / 1000);
  progress(`${viewers} LL viewers for ${viewerSeconds} s`);
  const co = await coalescing(bs, origin, await encodeSource({ ...(smoke ? SOURCE_SMOKE : SOURCE_720P30), gopSeconds: gops[0], seconds: 20 }));

  const byGop = gops.map((gop) => {
    const s = samples.filter((x) => x.gopSeconds === gop);
    const fp = firstPlayable.filter((x) => x.gopSeconds === gop);
    const m = (f: (x: FirstPlayable) => number) => round(median(fp.map(f).filter(Number.isFinite)), 1);
    const nums = (f: (x: PartSample) => number | undefined) => s.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
    return {
      gopSeconds: gop,
      firstPlayable: {
        runs: fp.length,
        medianMs: m((x) => x.totalMs),
        minMs: Math.min(...fp.map((x) => x.totalMs)),
        maxMs: Math.max(...fp.map((x) => x.totalMs)),
        firstPartMediaEndMs: m((x) => x.firstPartMediaEndMs),
        firstSegmentMediaEndMs: m((x) => x.firstSegmentMediaEndMs),
        taskPlaylistMs: m((x) => x.taskPlaylistMs),
        originPlaylistMs: m((x) => x.originPlaylistMs),
        goalMs: 500,
      },
      availability: {
        ...stat(nums((x) => x.availableMs)),
        hint: stat(nums((x) => x.hintMs)),
        hlsjs: stat(nums((x) => x.hlsjsMs)),
        listedAtOriginP50: round(
          percentile(
            nums((x) => x.listedAtOriginMs),
            50,
          ),
          1,
        ),
        listedAtTaskP50: round(
          percentile(
            nums((x) => x.listedAtTaskMs),
            50,
          ),
          1,
        ),
        audioPastEndP50: round(
          percentile(
            nums((x) => x.audioPastEndMs),
            50,
          ),
          1,
        ),
        vsPdtP50: round(
          percentile(
            nums((x) => x.vsPdtMs),
            50,
          ),
          1,
        ),
        goalP50Ms: 20,
      },
    };
  });

  const report = [
    `LL-HLS on (KEYFRAME_LL_HLS=true, 0.334 s parts, 1 s segments), ${smoke ? '240p30 ~0.46' : '720p30 ~3'} Mbit/s source, GOP ${gops.join(' and ')} s, ${runs} publish(es) of ${seconds} s each; origin: functions/origin in its own process (function-URL adapter).`,
    '',
    'Publisher’s first keyframe → first playable part through the origin (ms, medians):',
    '',
    table(
      [
        'GOP',
        'runs',
        'total',
        'range',
        'first part’s media end',
        'first segment’s media end',
        'task playlist first 200',
        'origin playlist first 200',
        'goal',
      ],
      byGop.map((g) => [
        `${g.gopSeconds} s`,
        g.firstPlayable.runs,
        `**${g.firstPlayable.medianMs}**`,
        `${g.firstPlayable.minMs}–${g.firstPlayable.maxMs}`,
        g.firstPlayable.firstPartMediaEndMs,
        g.firstPlayable.firstSegmentMediaEndMs,
        g.firstPlayable.taskPlaylistMs,
        g.firstPlayable.originPlaylistMs,
        '≤ 500',
      ]),
    ),
    '',
    'Part availability after its media end (ms; media end = arrival at the tap of the video frame that ends the part):',
    '',
    table(
      [
        'GOP',
        'parts',
        'available: p50',
        'p90',
        'max',
        'preload hint p50',
        'hls.js path (listed, then fetched) p50',
        'p90',
        'listed by the origin p50',
        'listed by the task p50',
        'audio past the end p50',
        'vs PDT + offset + duration p50',
      ],
      byGop.map((g) => [
        `${g.gopSeconds} s`,
        g.availability.n,
        `**${g.availability.p50}**`,
        g.availability.p90,
        g.availability.max,
        g.availability.hint.p50,
        g.availability.hlsjs.p50,
        g.availability.hlsjs.p90,
        g.availability.listedAtOriginP50,
        g.availability.listedAtTaskP50,
        g.availability.audioPastEndP50,
        g.availability.vsPdtP50,
      ]),
    ),
    '',
    `Longest part ${longestPart} s against PART-TARGET ${partTargetMs / 1000} s; blocking reloads held ${bytes.reloadHeldMs.p50} ms p50 (p90 ${bytes.reloadHeldMs.p90}) through the origin; ffmpeg started by the ingest on the media path: ${ffmpegSpawns} (thumbnail decodes: ${thumbnailSpawns}); failed fetches: ${failedFetches}.`,
    '',
    `Upstream requests per part, ${co.viewers} LL viewers (${Math.round(co.hintShare * 100)} % fetching the preload hint) for ${co.seconds} s:`,
    '',
    table(
      [
        'viewer requests',
        'of them blocking reloads',
        'part fetches',
        'failures',
        'upstream blocking reloads',
        'distinct _HLS_msn/_HLS_part',
        'reloads per part (mean / median / max)',
        '**after every viewer joined** (mean / max, parts)',
        'upstream part fetches',
        'distinct parts',
        '**fetches per part** (mean / max)',
        'plain playlists upstream (joins)',
        'viewers’ reloads held p50 / p90 ms',
      ],
      [
        [
          co.viewerRequests,
          co.viewerBlockingReloads,
          co.viewerPartRequests,
          co.failures,
          co.upstream.blocking,
          co.upstream.distinctQueries,
          `${co.reloadsPerPart.mean} / ${co.reloadsPerPart.median} / ${co.reloadsPerPart.max}`,
          `**${co.reloadsPerPart.afterJoin.mean}** / ${co.reloadsPerPart.afterJoin.max}, ${co.reloadsPerPart.afterJoin.parts}`,
          co.upstream.segment,
          co.upstream.distinctParts,
          `**${co.fetchesPerPart.mean}** / ${co.fetchesPerPart.max}`,
          co.upstream.plainPlaylists,
          `${co.viewerBlockingMs.p50} / ${co.viewerBlockingMs.p90}`,
        ],
      ],
    ),
    '',
    `Upstream blocking reloads for each part, in order: ${co.reloadsPerQuery.join(' ')}.`,
    '',
    `Playlist bytes per reload (medians over the sampled playlists with a full window, of ${bytes.reloads} reloads), full vs the delta update for CAN-SKIP-UNTIL = 6 target durations: ` +
      `full ${bytes.fullBytes} B (${bytes.fullGzipBytes} B gzipped), delta ${bytes.deltaBytes} B (${bytes.deltaGzipBytes} B gzipped), ${bytes.skippedSegments} segment(s) skipped. ` +
      `The server ${bytes.canSkipUntil !== undefined ? `offers CAN-SKIP-UNTIL=${bytes.canSkipUntil}` : 'offers no CAN-SKIP-UNTIL'}; ` +
      (bytes.skipAnswer
        ? `a reload with _HLS_skip=YES got ${bytes.skipAnswer.delta ? 'a delta update' : 'the full playlist'} (${bytes.skipAnswer.skipBytes} B against ${bytes.skipAnswer.plainBytes} B).`
        : 'no _HLS_skip answer was recorded.'),
    '',
    `The same with longer windows (rendered by ingest/packager/playlist.ts with the measured part durations; media ${Math.round(mediaBytesPerSecond / 1000)} kB/s; one reload per part):`,
    '',
    table(
      [
        'window (segments)',
        'full B',
        'gzipped',
        'delta B',
        'gzipped',
        'segments skipped',
        'full playlists / media bytes (gzipped)',
        'delta playlists / media bytes',
      ],
      windows.map((w) => [
        w.segments,
        w.fullBytes,
        w.fullGzipBytes,
        w.deltaBytes,
        w.deltaGzipBytes,
        w.skippedSegments,
        `${w.fullShareOfMediaPct} %`,
        `${w.deltaShareOfMediaPct} %`,
      ]),
    ),
  ].join('\n');
  finish(
    args,
    'll-hls',
    machine,
    {
      gops,
      runs,
      seconds,
      partTargetMs,
      longestPartSeconds: longestPart,
      ffmpegSpawns,
      thumbnailSpawns,
      failedFetches,
      byGop,
      playlistBytes: bytes,
      windows,
      mediaBytesPerSecond: Math.round(mediaBytesPerSecond),
      coalescing: co,
      firstPlayable,
      samples,
    },
    report,
  );
});
