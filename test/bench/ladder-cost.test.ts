import { describe, expect, it } from 'vitest';
import { FARGATE_PRICES, ladderTaskRows, shareCostPerLadderHour, taskHourPrice, vcpuPerLadder } from '../../bench/lib/ladder-cost';

const measured = { coresPerLadder: 1.5, pssMiBPerLadder: 200, onTimeHere: 1, machineCores: 2 };

describe('ladder cost model (bench/lib/ladder-cost.ts)', () => {
  it('prices a task by vCPU and memory', () => {
    expect(taskHourPrice({ vcpu: 4, memoryGiB: 8 }, FARGATE_PRICES.arm64)).toBeCloseTo(4 * 0.03238 + 8 * 0.00356, 10);
    expect(taskHourPrice({ vcpu: 4, memoryGiB: 8 }, FARGATE_PRICES.x86_64)).toBeCloseTo(0.19748, 5);
  });

  it('counts the ladders a task admits by its budget, by the measurement scaled, and by memory; the smallest wins', () => {
    const rows = ladderTaskRows(measured);
    const x86 = rows.filter((r) => r.arch === 'x86_64');
    const four = x86.find((r) => r.vcpu === 4)!;
    // Budget 3 vCPU / 1.5 per ladder = 2; measured 1 on 2 cores → 2 on 4 vCPU; memory 8192 / 200 = 40.
    expect([four.byBudget, four.byMeasurement, four.byMemory, four.ladders]).toEqual([2, 2, 40, 2]);
    expect(four.perLadderHourPacked).toBeCloseTo(four.taskHour / 2, 10);
    const two = x86.find((r) => r.vcpu === 2)!;
    // 1.5 vCPU of budget holds one 1.5-vCPU ladder exactly (no float shortfall).
    expect(two.byBudget).toBe(1);
    const sixteen = x86.find((r) => r.vcpu === 16)!;
    expect([sixteen.byBudget, sixteen.byMeasurement]).toEqual([8, 8]);
    expect(rows).toHaveLength(8);
  });

  it('without a concurrency measurement the budget and memory decide', () => {
    const four = ladderTaskRows({ ...measured, onTimeHere: Number.POSITIVE_INFINITY }).find((r) => r.arch === 'x86_64' && r.vcpu === 4)!;
    expect(four.byMeasurement).toBe(Number.POSITIVE_INFINITY);
    expect(four.ladders).toBe(2);
  });

  it('a task that holds none costs Infinity per ladder-hour', () => {
    const rows = ladderTaskRows({ ...measured, coresPerLadder: 2 });
    const two = rows.find((r) => r.arch === 'arm64' && r.vcpu === 2)!;
    expect(two.ladders).toBe(0);
    expect(two.perLadderHourPacked).toBe(Number.POSITIVE_INFINITY);
  });

  it('a slower arm64 vCPU needs more of them per ladder', () => {
    expect(vcpuPerLadder(measured, 'arm64', { armSpeed: 0.75 })).toBeCloseTo(2, 10);
    expect(vcpuPerLadder(measured, 'x86_64', { armSpeed: 0.75 })).toBeCloseTo(1.5, 10);
    const arm = ladderTaskRows(measured, { armSpeed: 0.75 }).find((r) => r.arch === 'arm64' && r.vcpu === 8)!;
    expect(arm.byBudget).toBe(3);
    expect(() => vcpuPerLadder(measured, 'arm64', { armSpeed: 0 })).toThrow(RangeError);
  });

  it('the share cost is the ladder’s vCPU and memory at list price', () => {
    expect(shareCostPerLadderHour(measured, 'x86_64')).toBeCloseTo(1.5 * 0.04048 + (200 / 1024) * 0.004445, 10);
    expect(() => ladderTaskRows({ ...measured, coresPerLadder: 0 })).toThrow(RangeError);
  });
});
