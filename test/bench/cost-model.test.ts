import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ASSUMPTIONS,
  estimate,
  GiB,
  HOURS_PER_MONTH,
  perStreamHour,
  PRICES,
  streamsPerTask,
  tieredCost,
  type CostInput,
} from '../../bench/lib/cost';

const base: CostInput = { streams: 10, hours: 100, viewers: 1000, originShield: false };

describe('cost model arithmetic', () => {
  it('does not change origin invocations when viewers grow tenfold, once every regional cache has viewers', () => {
    for (const originShield of [false, true]) {
      const a = estimate({ ...base, originShield, viewers: 1000 });
      const b = estimate({ ...base, originShield, viewers: 10_000 });
      expect(b.usage.originInvocations).toBe(a.usage.originInvocations);
      expect(b.lines.lambdaRequests).toBe(a.lines.lambdaRequests);
      expect(b.lines.lambdaDuration).toBe(a.lines.lambdaDuration);
      expect(b.usage.routeReads).toBe(a.usage.routeReads);
    }
  });

  it('grows origin invocations with streams × caches: per stream, per regional cache, one playlist per TTL and one fetch per segment', () => {
    const a = DEFAULT_ASSUMPTIONS;
    const e = estimate(base);
    const perCachePerSecond = 1 / a.playlistTtlSeconds + 1 / a.segmentSeconds;
    expect(e.usage.recsPerStream).toBe(a.regionalEdgeCaches);
    expect(e.usage.originInvocations).toBeCloseTo(base.streams * a.regionalEdgeCaches * perCachePerSecond * base.hours * 3600, 6);
    expect(estimate({ ...base, streams: 20, viewers: 2000 }).usage.originInvocations).toBeCloseTo(2 * e.usage.originInvocations, 6);
  });

  it('with Origin Shield only one cache per stream asks the origin, and the regional caches ask the shield instead', () => {
    const off = estimate(base);
    const on = estimate({ ...base, originShield: true });
    expect(off.usage.originInvocations / on.usage.originInvocations).toBeCloseTo(DEFAULT_ASSUMPTIONS.regionalEdgeCaches, 9);
    expect(on.usage.originShieldRequests).toBeCloseTo(off.usage.originInvocations, 6);
    expect(off.usage.originShieldRequests).toBe(0);
    expect(on.lines.originShield).toBeCloseTo(on.usage.originShieldRequests * PRICES.originShieldRequests.usd, 9);
  });

  it('reaches only as many regional caches as a stream has viewers', () => {
    const one = estimate({ ...base, streams: 1, viewers: 1 });
    expect(one.usage.recsPerStream).toBe(1);
    const two = estimate({ ...base, streams: 1, viewers: 2 });
    expect(two.usage.originInvocations).toBeCloseTo(2 * one.usage.originInvocations, 6);
    expect(estimate({ ...base, viewers: 0 }).usage.originInvocations).toBe(0);
  });

  it('scales egress and viewer requests linearly with viewers and hours', () => {
    const a = estimate(base);
    const b = estimate({ ...base, viewers: base.viewers * 10 });
    const c = estimate({ ...base, hours: base.hours * 3 });
    expect(b.usage.egressGiB).toBeCloseTo(10 * a.usage.egressGiB, 6);
    expect(b.usage.viewerRequests).toBeCloseTo(10 * a.usage.viewerRequests, 6);
    expect(b.lines.cloudfrontRequests).toBeCloseTo(10 * a.lines.cloudfrontRequests, 6);
    expect(c.usage.egressGiB).toBeCloseTo(3 * a.usage.egressGiB, 6);
    // 1000 viewers × 3.3 Mbit/s × 100 h, and a 210 B playlist per second each.
    expect(a.usage.playlistEgressGiB).toBeCloseTo((1000 * 210 * 100 * 3600) / GiB, 6);
    expect(a.usage.egressGiB).toBeCloseTo((1000 * 3.3e6 * 100 * 3600) / 8 / GiB + a.usage.playlistEgressGiB, 6);
  });

  it('prices egress by tier: each tier’s rate applies to the volume inside it', () => {
    const tiers = PRICES.cloudfrontEgressTiers.tiers;
    expect(tieredCost(0, tiers)).toBe(0);
    expect(tieredCost(1024, tiers)).toBeCloseTo(1024 * 0.085, 9);
    expect(tieredCost(10 * 1024, tiers)).toBeCloseTo(10 * 1024 * 0.085, 9);
    expect(tieredCost(60 * 1024, tiers)).toBeCloseTo(10 * 1024 * 0.085 + 40 * 1024 * 0.08 + 10 * 1024 * 0.06, 9);
    // Tiering makes egress cost grow less than linearly at volume, never more.
    const a = estimate(base).lines.cloudfrontEgress;
    const b = estimate({ ...base, viewers: 100_000 }).lines.cloudfrontEgress;
    expect(b).toBeLessThan(100 * a);
    expect(b).toBeGreaterThan(20 * a);
  });

  it('sizes the ingest from CPU and memory per stream, with the minimum task running all month', () => {
    const a = { ...DEFAULT_ASSUMPTIONS, cpuPercentPerStream: 3, memoryMiBPerStream: 20, targetUtilization: 0.6, taskVcpu: 1, taskMemoryGiB: 2 };
    expect(streamsPerTask(a)).toBe(20); // CPU: 60 / 3 = 20; memory: 1228.8 / 20 = 61
    expect(streamsPerTask({ ...a, memoryMiBPerStream: 100 })).toBe(12); // memory binds
    const e = estimate({ ...base, streams: 45 }, a);
    expect(e.usage.tasksWhileLive).toBe(3);
    expect(e.usage.taskHours).toBe(HOURS_PER_MONTH + 2 * base.hours);
    expect(e.lines.fargate).toBeCloseTo(e.usage.taskHours * (PRICES.fargateArmVcpuHour.usd + 2 * PRICES.fargateArmGbHour.usd), 9);
    expect(estimate({ ...base, streams: 1 }, a).usage.tasksWhileLive).toBe(1);
  });

  it('counts a heartbeat every 5 s per live stream at 2 WRU, and NLB capacity from the ingest bytes', () => {
    const e = estimate(base);
    expect(e.usage.heartbeatWrites).toBe((base.streams * base.hours * 3600) / 5);
    const writes = e.usage.heartbeatWrites * 2 * PRICES.dynamoWriteRequestUnit.usd;
    const reads = e.usage.routeReads * 0.5 * PRICES.dynamoReadRequestUnit.usd;
    expect(e.lines.dynamodb).toBeCloseTo(writes + reads, 12);
    expect(e.usage.nlcuHours).toBeCloseTo(((base.streams * 3.2e6 * 3600) / 8 / 1e9) * base.hours, 9);
    expect(e.lines.nlb).toBeCloseTo(HOURS_PER_MONTH * PRICES.nlbHour.usd + e.usage.nlcuHours * PRICES.nlcuHour.usd, 9);
  });

  it('reads each route at most once per second per warm origin instance', () => {
    const e = estimate({ ...base, streams: 1, viewers: 100 });
    const perStreamOriginRate = e.usage.originInvocations / (base.hours * 3600);
    expect(e.usage.routeReads / (base.hours * 3600)).toBeLessThanOrEqual(Math.min(perStreamOriginRate, e.usage.warmInstances) + 1e-9);
  });

  it('adds up its lines, and subtracts the free tiers only when asked', () => {
    const e = estimate(base);
    expect(e.total).toBeCloseTo(
      Object.values(e.lines).reduce((s, x) => s + x, 0),
      9,
    );
    const free = estimate(base, { ...DEFAULT_ASSUMPTIONS, freeTier: true });
    expect(free.total).toBeLessThan(e.total);
    expect(free.lines.cloudfrontEgress).toBeCloseTo(tieredCost(e.usage.egressGiB - 1024, PRICES.cloudfrontEgressTiers.tiers), 6);
    expect(e.perViewerHour).toBeCloseTo(e.total / (base.viewers * base.hours), 12);
  });
});

describe('cost model, LL-HLS beside standard HLS', () => {
  const a = DEFAULT_ASSUMPTIONS;
  const ll: CostInput = { ...base, lowLatency: true };

  it('asks the origin twice per part per asking cache (a blocking reload and the part), however many viewers', () => {
    for (const originShield of [false, true]) {
      const one = estimate({ ...ll, originShield, viewers: 1000 });
      const ten = estimate({ ...ll, originShield, viewers: 10_000 });
      expect(ten.usage.originInvocations).toBe(one.usage.originInvocations);
      expect(ten.lines.lambdaDuration).toBe(one.lines.lambdaDuration);
      const caches = originShield ? 1 : a.regionalEdgeCaches;
      expect(one.usage.originInvocationsPerMediaUnit).toBeCloseTo(2 * caches, 9);
      expect(one.usage.originInvocations).toBeCloseTo(base.streams * caches * (2 / a.partSeconds) * base.hours * 3600, 3);
    }
    // Standard HLS: a playlist per TTL and a segment, per segment.
    expect(estimate(base).usage.originInvocationsPerMediaUnit).toBeCloseTo(2 * a.regionalEdgeCaches, 9);
  });

  it('bills a blocking reload for as long as it is held, and a preload-hint part fetch like one', () => {
    const e = estimate(ll);
    const reload = Math.ceil(a.llReloadInvocationMs);
    const part = a.llPartHeldShare * reload + (1 - a.llPartHeldShare) * Math.ceil(a.llPartInvocationMs);
    expect(e.usage.lambdaGbSeconds).toBeCloseTo(e.usage.originInvocations * ((reload + part) / 2 / 1000) * (a.lambdaMemoryMiB / 1024), 3);
    const longer = estimate(ll, { ...a, llReloadInvocationMs: 2 * a.llReloadInvocationMs });
    expect(longer.lines.lambdaDuration).toBeGreaterThan(1.5 * e.lines.lambdaDuration);
    expect(longer.usage.originInvocations).toBe(e.usage.originInvocations);
    expect(estimate(ll, { ...a, llPartHeldShare: 0 }).lines.lambdaDuration).toBeLessThan(e.lines.lambdaDuration);
    // Held requests occupy instances: concurrency is the request rate times the billed time.
    expect(e.usage.lambdaConcurrency).toBeCloseTo((e.usage.originInvocations / (base.hours * 3600)) * ((reload + part) / 2 / 1000), 9);
    expect(e.usage.lambdaConcurrency).toBeGreaterThan(10 * estimate(base).usage.lambdaConcurrency);
  });

  it('has every viewer make 2 requests per part and fetch a playlist per part, for the same media bytes', () => {
    const std = estimate(base);
    const low = estimate(ll);
    expect(low.usage.viewerRequests / std.usage.viewerRequests).toBeCloseTo(a.segmentSeconds / a.partSeconds, 9);
    expect(low.usage.playlistEgressGiB).toBeCloseTo((base.viewers * a.llPlaylistGzipBytes * (base.hours * 3600)) / a.partSeconds / GiB, 6);
    expect(low.usage.egressGiB - low.usage.playlistEgressGiB).toBeCloseTo(std.usage.egressGiB - std.usage.playlistEgressGiB, 6);
  });

  it('sizes the ingest from the LL-HLS figures per stream (each part held beside its segment)', () => {
    expect(streamsPerTask(a, true)).toBe(Math.floor((a.taskMemoryGiB * 1024 * a.targetUtilization) / a.llMemoryMiBPerStream));
    expect(streamsPerTask(a, true)).toBeLessThan(streamsPerTask(a));
    expect(estimate({ ...ll, streams: 100 }).usage.tasksWhileLive).toBe(Math.ceil(100 / streamsPerTask(a, true)));
  });

  it('per stream-hour: the lines estimate adds over an idle month, divided by the hours; the ingest as a share of a task', () => {
    for (const lowLatency of [false, true])
      for (const originShield of [false, true]) {
        const c = perStreamHour(1000, { lowLatency, originShield, hours: 120 });
        const live = estimate({ streams: 1, viewers: 1000, hours: 120, originShield, lowLatency });
        const idle = estimate({ streams: 1, viewers: 0, hours: 0, originShield, lowLatency });
        for (const k of Object.keys(c.lines) as Array<keyof typeof c.lines>) {
          if (k === 'fargate') continue;
          expect(c.lines[k] * 120 + idle.lines[k]).toBeCloseTo(live.lines[k], 6);
        }
        const taskHour = a.taskVcpu * PRICES.fargateArmVcpuHour.usd + a.taskMemoryGiB * PRICES.fargateArmGbHour.usd;
        expect(c.lines.fargate).toBeCloseTo(taskHour / streamsPerTask(a, lowLatency), 12);
        expect(c.total).toBeCloseTo(
          Object.values(c.lines).reduce((x, y) => x + y, 0),
          9,
        );
        expect(c.perViewerHour).toBeCloseTo(c.total / 1000, 12);
      }
  });

  it('per stream-hour, LL-HLS costs more than standard at every size, and its origin invocations do not grow with viewers', () => {
    for (const v of [10, 100, 1000, 10_000, 100_000]) {
      expect(perStreamHour(v, { lowLatency: true, originShield: false }).total).toBeGreaterThan(
        perStreamHour(v, { lowLatency: false, originShield: false }).total,
      );
    }
    const inv = [10, 100, 1000, 10_000, 100_000].map((v) => perStreamHour(v, { lowLatency: true, originShield: false }).originInvocations);
    expect(new Set(inv).size).toBe(1);
    expect(perStreamHour(100_000, { lowLatency: true, originShield: true }).originInvocationsPerMediaUnit).toBeCloseTo(2, 9);
  });
});
