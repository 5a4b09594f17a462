import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { benchRunner } from '../support/bench';

/**
 * The recording benchmarks of issue 15 in their smoke mode, each as its own process exactly as documented
 * (`tsx bench/<name>.ts --smoke --json <file>`): the JSON must have the expected shape and sane values. Not a
 * timing test: every bound holds on a loaded 2-core machine, and each fails when the thing it names is broken.
 */
const bench = benchRunner('recording-smoke');
afterAll(() => bench.cleanup());
const runBench = <T>(name: string, extra: string[] = []) => bench.run<T>(name, extra, { timeoutMs: 150000 });

interface ReadyResults {
  groups: Array<{ s3DelayMs: number; samples: number; ready: number; p50Ms: number; maxMs: number; serverP50Ms: number }>;
  samples: Array<{
    state: string;
    exitCode: number | null;
    gaps: number;
    segmentCount: number;
    durationSeconds: number;
    puts: Record<string, number>;
  }>;
  bytesByBitrate: Array<{ nominalBps: number; recordedBps: number; overheadVsNominal: number; posterBytes: number }>;
  putsPerSegment: { segmentPutsPerListedSegment: number; livePlaylistPutsPerSegment: number; initPutsPerRecording: number };
  requestsPerStreamHour: { segmentPuts: number; puts: number };
  costs: Array<{ usd: { puts: number; storage: number; recording: number } }>;
}

interface DensityPhase {
  variant?: string;
  n: number;
  cpuPctPerStream: number;
  childCpuPctPerStream?: number;
  ffmpegStarts?: number;
  cpuMsPerFfmpegStart?: number;
  s3PutsPerStreamSecond?: number;
  pssPerStreamMiB: number;
  segments: { silentStreams: number; segmentsInWindow: number };
}

describe('recording benchmarks (smoke)', () => {
  it('ingest-density --variants: passthrough starts no ffmpeg, thumbnails do and their CPU is counted, recording PUTs to S3', async () => {
    const r = await runBench<{ phases: DensityPhase[]; variants: string[]; thumbnailSeconds: number }>('ingest-density', [
      '--variants',
      'passthrough,thumbnails,recording',
    ]);
    const x = r.results;
    expect(x.variants).toEqual(['passthrough', 'thumbnails', 'recording']);
    const by = (v: string) => x.phases.find((p) => p.variant === v)!;
    for (const v of x.variants) {
      const p = by(v);
      expect(p, v).toBeDefined();
      expect(p.segments.silentStreams, v).toBe(0);
      expect(p.segments.segmentsInWindow, v).toBeGreaterThan(0);
      expect(p.cpuPctPerStream, v).toBeGreaterThan(0);
    }
    // No thumbnails, no recording: no ffmpeg at all, no child CPU.
    expect(by('passthrough').ffmpegStarts).toBe(0);
    expect(by('passthrough').childCpuPctPerStream).toBe(0);
    expect(by('recording').ffmpegStarts).toBe(0);
    // Thumbnails every second of a 1 s GOP over a 5 s window, 2 streams: decodes start, and each costs CPU
    // that is counted (a decode of ffmpeg takes tens of ms; under 1 ms would mean the children were missed).
    const t = by('thumbnails');
    expect(t.ffmpegStarts).toBeGreaterThanOrEqual(2);
    expect(t.childCpuPctPerStream).toBeGreaterThan(0);
    expect(t.cpuMsPerFfmpegStart).toBeGreaterThan(1);
    expect(t.cpuMsPerFfmpegStart).toBeLessThan(5000);
    // Recording: a segment and a playlist PUT per 1 s segment per stream, give or take the window's edges.
    expect(by('recording').s3PutsPerStreamSecond).toBeGreaterThan(0.5);
    expect(by('recording').s3PutsPerStreamSecond).toBeLessThan(5);
    expect(by('passthrough').s3PutsPerStreamSecond).toBe(0);
  }, 170_000);

  it('recording-ready: every publish ends ready, whole, with its PUTs counted, and a slow S3 delays it', async () => {
    const r = await runBench<ReadyResults>('recording-ready');
    const x = r.results;
    expect(x.samples.length).toBeGreaterThanOrEqual(4);
    for (const s of x.samples) {
      expect(s.exitCode).toBe(0);
      expect(s.state).toBe('ready');
      expect(s.gaps).toBe(0);
      // A 4 s publish at 1 s segments: 3 to 5 segments, each one PUT.
      expect(s.segmentCount).toBeGreaterThanOrEqual(3);
      expect(s.segmentCount).toBeLessThanOrEqual(5);
      expect(s.puts.segment).toBe(s.segmentCount);
      expect(s.puts.init).toBe(1);
    }
    const fast = x.groups.find((g) => g.s3DelayMs === 0)!;
    const slow = x.groups.find((g) => g.s3DelayMs > 0)!;
    for (const g of [fast, slow]) {
      expect(g.ready).toBe(g.samples);
      expect(g.maxMs).toBeGreaterThan(0);
      // Bounded by the poll deadline (30 s), so finite means seen ready.
      expect(Number.isFinite(g.maxMs)).toBe(true);
    }
    // The final playlist and item write go after the last segment's PUT: at least two delayed requests in a row.
    expect(slow.serverP50Ms).toBeGreaterThanOrEqual(2 * slow.s3DelayMs);
    expect(slow.p50Ms).toBeGreaterThan(fast.p50Ms);
    // One live playlist PUT per segment when S3 keeps up (fewer only when uploads batch).
    expect(x.putsPerSegment.segmentPutsPerListedSegment).toBe(1);
    expect(x.putsPerSegment.livePlaylistPutsPerSegment).toBeGreaterThan(0.5);
    expect(x.putsPerSegment.livePlaylistPutsPerSegment).toBeLessThanOrEqual(1);
    // The bucket holds about the published bitrate: the container adds some, never halves or doubles it.
    const b = x.bytesByBitrate[0];
    expect(b.overheadVsNominal).toBeGreaterThan(0.8);
    expect(b.overheadVsNominal).toBeLessThan(1.5);
    expect(b.posterBytes).toBeGreaterThan(1000);
    expect(x.requestsPerStreamHour.segmentPuts).toBe(3600);
    expect(x.costs[0].usd.puts).toBeGreaterThan(0.03);
    expect(x.costs[0].usd.recording).toBeGreaterThan(x.costs[0].usd.puts);
  }, 170_000);
});
