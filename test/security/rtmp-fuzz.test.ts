/**
 * The RTMP fuzz harness (bench/fuzz/rtmp.ts) in its quick mode: a few hundred hostile connections of every
 * category at a real ingest process while a real ffmpeg publisher streams through it. The on-demand run
 * (`npx tsx bench/fuzz/rtmp.ts`, 10,000 cases by default) checks the same things at scale.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, runRtmpFuzz } from '../../bench/fuzz/rtmp-harness';
import { CATEGORIES } from '../../bench/fuzz/rtmp-cases';

const CASES = Number(process.env.KEYFRAME_FUZZ_CASES ?? 400);
const SEED = Number(process.env.KEYFRAME_FUZZ_SEED ?? 20260101);

describe('RTMP fuzz (quick)', () => {
  it(`${CASES} hostile connections: no crash, no leak, the honest stream stays on time, every bad session closed and logged once, no key logged`, async () => {
    const report = await runRtmpFuzz({ cases: CASES, seed: SEED, concurrency: 16 });
    console.log(formatReport(report));
    expect(report.findings).toEqual([]);
    expect(report.ingest.alive).toBe(true);
    expect(report.logs.keyMatches).toBe(0);
    expect(report.logs.sessionsWithoutOneClosingLine).toBe(0);
    expect(report.segments.maxGapMs).toBeLessThanOrEqual(report.segments.limitMs);
    for (const c of CATEGORIES) expect(report.categories[c].cases, c).toBeGreaterThan(0);
  }, 90_000);
});
