/**
 * LadderCapacity: the cost model, admission by budget and by measured load (process tree CPU from /proc, the load
 * average without it), release, and the load units for the scaling metric.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNGS, rungsBelow } from '../../../core/ladder';
import { loadUnitsOfVcpu } from '../../../core/metrics';
import { LadderCapacity, ladderCostCores, ladderOutputs, processTreeCpuSeconds } from '../../../ingest/ladder/index.js';
import { waitFor } from '../../support/wait';

const hd = { width: 1920, height: 1080, frameRate: 30 };
const defaultLadder = ladderOutputs(rungsBelow(['720p', '480p', '360p'], 1080), hd);
const small = ladderOutputs(
  RUNGS.filter((r) => r.name === '240p'),
  { width: 480, height: 270 },
);

const capacities: LadderCapacity[] = [];
function capacity(o: ConstructorParameters<typeof LadderCapacity>[0]): LadderCapacity {
  const c = new LadderCapacity({ sampleEveryMs: 0, ...o });
  capacities.push(c);
  return c;
}
afterEach(() => {
  for (const c of capacities.splice(0)) c.stop();
});

describe('ladder cost model', () => {
  it('1080p30 → 720p,480p,360p costs 0.92 cores at the default coefficient; it scales with the coefficient and the rungs', () => {
    // 0.01 × (46.9 Mpixel/s out + 62.2 Mpixel/s source × (0.27 + 3 × 0.15))
    expect(ladderCostCores({ rungs: defaultLadder, source: hd })).toBeCloseTo(0.9165, 3);
    expect(ladderCostCores({ rungs: defaultLadder, source: hd }, 0.02)).toBeCloseTo(1.833, 3);
    expect(ladderCostCores({ rungs: defaultLadder.slice(0, 1), source: hd })).toBeCloseTo(0.01 * (27.648 + 62.208 * 0.42), 3);
    // 60 fps costs twice 30; no frame rate is taken as 30.
    expect(ladderCostCores({ rungs: defaultLadder, source: { ...hd, frameRate: 60 } })).toBeCloseTo(1.833, 3);
    expect(ladderCostCores({ rungs: defaultLadder, source: { width: 1920, height: 1080 } })).toBeCloseTo(0.9165, 3);
    expect(ladderCostCores({ rungs: [], source: hd })).toBe(0);
  });
});

describe('LadderCapacity', () => {
  it('admits by budget: two 1080p ladders do not fit 1.5 cores; a release makes room', () => {
    const c = capacity({ cores: 2, cpuSeconds: () => undefined, loadAverage: () => Number.NaN });
    expect(c.load().budgetCores).toBe(1.5); // 2 cores − 0.5 for passthrough
    const a = c.admit(defaultLadder, hd);
    expect('ticket' in a && a.costCores).toBeCloseTo(0.9165, 3);
    const b = c.admit(defaultLadder, hd);
    expect('refused' in b && b.refused).toMatch(/^not enough CPU: the ladder needs 0\.92 cores, 0\.92 of the 1\.50-core ladder budget are in use/);
    // A small ladder still fits beside the first.
    const s = c.admit(small, { width: 480, height: 270 });
    expect('ticket' in s).toBe(true);
    expect(c.load()).toMatchObject({ ladders: 2, budgetCores: 1.5 });
    expect(c.load().units).toBe(loadUnitsOfVcpu(0.9164736) + loadUnitsOfVcpu(s.costCores));
    if ('ticket' in a) c.release(a.ticket);
    expect('ticket' in c.admit(defaultLadder, hd)).toBe(true);
    expect(c.admit([], hd)).toEqual({ refused: 'the ladder has no rungs', costCores: 0 });
  });

  it('an explicit budget, and a coefficient setting', () => {
    const c = capacity({ cores: 8, budgetCores: 1, coresPerMpixel: 0.005, cpuSeconds: () => undefined, loadAverage: () => Number.NaN });
    expect(c.load().budgetCores).toBe(1);
    expect('ticket' in c.admit(defaultLadder, hd)).toBe(true); // 0.46 cores
    expect('ticket' in c.admit(defaultLadder, hd)).toBe(true); // 0.92
    expect('refused' in c.admit(defaultLadder, hd)).toBe(true); // 1.38 > 1
  });

  it('refuses on measured load beyond the passthrough reserve, even with no ladder admitted, and admits when it falls', () => {
    let now = 0;
    let cpu = 0;
    const c = capacity({ cores: 2, now: () => now, cpuSeconds: () => cpu, windowSeconds: 5 });
    expect(c.measuredCores()).toBeUndefined();
    // 1.6 cores busy for 5 s (other work of the task: thumbnails, many passthrough streams…): 1.1 beyond the reserve.
    for (let i = 0; i < 5; i++) {
      now += 1000;
      cpu += 1.6;
      c.sample();
    }
    expect(c.measuredCores()).toBeCloseTo(1.6, 6);
    const refused = c.admit(defaultLadder, hd);
    expect('refused' in refused && refused.refused).toContain(
      '1.10 of the 1.50-core ladder budget are in use (0 ladders admitted, 0.00 cores estimated, 1.60 cores measured)',
    );
    // The load drops to 0.5 cores for a window: the ladder fits.
    for (let i = 0; i < 6; i++) {
      now += 1000;
      cpu += 0.5;
      c.sample();
    }
    expect(c.measuredCores()).toBeCloseTo(0.5, 6);
    const ok = c.admit(defaultLadder, hd);
    expect('ticket' in ok).toBe(true);
    // Measured use below the estimate does not free the estimate: the first ladder may not have ramped up yet.
    expect(c.load().usedCores).toBeCloseTo(0.9165, 3);
    expect('refused' in c.admit(defaultLadder, hd)).toBe(true);
  });

  it('without /proc it falls back to the load average', () => {
    const busy = capacity({ cores: 2, cpuSeconds: () => undefined, loadAverage: () => 1.4 });
    expect(busy.measuredCores()).toBe(1.4);
    expect('refused' in busy.admit(defaultLadder, hd)).toBe(true); // 0.9 beyond the reserve + 0.92 > 1.5
    const idle = capacity({ cores: 2, cpuSeconds: () => undefined, loadAverage: () => 0.2 });
    expect('ticket' in idle.admit(defaultLadder, hd)).toBe(true);
  });

  it("processTreeCpuSeconds counts a running child's CPU (not only reaped children)", async () => {
    const selfOnly = () => {
      const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    };
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 20000; while (Date.now() < end);'], { stdio: 'ignore' });
    try {
      await waitFor('the busy child to show in the tree CPU', () => processTreeCpuSeconds()! - selfOnly() >= 0.2, 15_000);
      expect(child.exitCode).toBeNull(); // still running: counted live, from /proc/<child>/stat
      // And a LadderCapacity over the real /proc measures it.
      const c = capacity({ cores: 2, windowSeconds: 0.3 });
      await waitFor(
        'a measured use above 0.05 cores',
        () => {
          c.sample();
          return (c.measuredCores() ?? 0) > 0.05;
        },
        15_000,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
