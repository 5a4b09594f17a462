import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { benchRunner } from '../support/bench';

/**
 * bench/ladder.ts (issue 14) in its smoke mode, as its own process exactly as documented (`tsx bench/ladder.ts
 * --smoke --json <file>`): a small source (480x270, rungs 240p and 160p), one run of each command, the ingest with
 * a ladder channel, one ladder for the capacity sweep. Not a timing test: nothing here depends on how loaded the
 * machine is; each assertion fails when what it names is broken (a command makes no rung, our rungs' keyframes
 * leave the source's, the ingest's rung segments stop sharing the source's numbers and PDT).
 */
const bench = benchRunner('ladder-smoke');
afterAll(() => bench.cleanup());

interface CommandRun {
  command: string;
  cpuPct: number;
  pssMiB: number;
  speed: number;
  framesPerRung: Record<string, number>;
  alignment: {
    aligned: boolean;
    sourceKeyframes?: number;
    missedInSomeRung?: number;
    extraRungKeyframes?: number;
    segmentsCompared?: number;
  };
}
interface LadderResults {
  outputs: Array<{ name: string; width: number; height: number }>;
  cpu: { runs: CommandRun[]; ratio?: number };
  ingest: {
    runs: Array<{
      cpuPct: number;
      cpuByComm: Record<string, number>;
      commonSegments: number;
      maxPdtDeltaMs: number;
      maxDurationDeltaMs: number;
      delays: number[];
    }>;
  };
  capacity: { runs: Array<{ n: number; minSpeed: number }> };
  cost: { measurement?: { coresPerLadder: number }; rows: Array<{ arch: string; vcpu: number; ladders: number }> };
}

const runLadderSmoke = () => bench.run<LadderResults>('ladder', [], { timeoutMs: 230_000 });

describe('bench/ladder.ts --smoke', () => {
  it('both commands make every rung; ours keeps the source keyframes; the ingest aligns rung segments with the source', {
    timeout: 240_000,
  }, async () => {
    const r = await runLadderSmoke();
    expect(r.bench).toBe('ladder');
    expect(r.smoke).toBe(true);
    const res = r.results;
    expect(res.outputs.map((o) => o.name)).toEqual(['240p', '160p']);

    const ours = res.cpu.runs.find((x) => x.command === 'ours')!;
    const fin = res.cpu.runs.find((x) => x.command === 'finbits')!;
    for (const run of [ours, fin]) {
      expect(run.cpuPct, `${run.command} CPU`).toBeGreaterThan(0);
      expect(run.pssMiB, `${run.command} PSS`).toBeGreaterThan(1);
      for (const o of res.outputs) expect(run.framesPerRung[o.name], `${run.command} ${o.name} frames`).toBeGreaterThan(0);
    }
    // Ours: a keyframe in every rung at every source keyframe it passed, and none elsewhere.
    expect(ours.alignment.sourceKeyframes).toBeGreaterThanOrEqual(2);
    expect(ours.alignment.missedInSomeRung).toBe(0);
    expect(ours.alignment.extraRungKeyframes).toBe(0);
    expect(ours.alignment.aligned).toBe(true);
    // Finbits: its HLS muxers wrote segments of every rung, which were compared.
    expect(fin.alignment.segmentsCompared).toBeGreaterThanOrEqual(2);
    expect(res.cpu.ratio).toBeGreaterThan(0);

    // The ingest: its ffmpeg transcoded (a child), and each rung segment has the source's number, PDT and duration.
    const ingest = res.ingest.runs[0];
    expect(ingest.cpuByComm.ffmpeg, 'the ingest runs one ffmpeg for the ladder').toBeGreaterThan(0);
    expect(ingest.commonSegments).toBeGreaterThanOrEqual(2);
    expect(ingest.maxPdtDeltaMs).toBeLessThanOrEqual(34);
    expect(ingest.maxDurationDeltaMs).toBeLessThanOrEqual(34);
    for (const d of ingest.delays) expect(Number.isFinite(d)).toBe(true);

    expect(res.capacity.runs[0].n).toBe(1);
    expect(res.capacity.runs[0].minSpeed).toBeGreaterThan(0);
    // The cost table exists for both architectures and every task size.
    expect(res.cost.measurement?.coresPerLadder).toBeGreaterThan(0);
    expect(res.cost.rows.filter((x) => x.arch === 'arm64').map((x) => x.vcpu)).toEqual([2, 4, 8, 16]);
  });
});
