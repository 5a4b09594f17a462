/**
 * Ladders per Fargate task size and the cost per ladder-hour (issue 14), from what bench/ladder.ts measures on
 * this machine. Pure arithmetic, unit-tested (test/bench/ladder-cost.test.ts), so a wrong sum fails a test.
 *
 * The scaling assumption, stated once: one Fargate vCPU does the work of one core of the measuring machine
 * (`coresPerVcpu`, 1 by default; an x86 Fargate vCPU is a hyperthread, as this machine's cores are vCPUs of a
 * VM). Graviton (arm64) runs x264 at a different speed per vCPU; that factor (`armSpeed`, work of one arm64 vCPU
 * relative to one x86 vCPU) was not measured here and defaults to 1, so the arm64 rows are an assumption.
 */

/** Fargate list prices used, per hour. */
export interface FargatePrices {
  readonly vcpuHour: number;
  readonly gbHour: number;
}

/**
 * AWS Fargate on-demand list prices, Linux, us-east-1, as docs/deploy.md ("Cost") states them (the author's 2025
 * figures, not re-checked against the live price page on 2026-12-01, when these benchmarks were run).
 */
export const FARGATE_PRICES = {
  region: 'us-east-1',
  asOf: '2025 list prices (docs/deploy.md), not re-checked 2026-12-01',
  arm64: { vcpuHour: 0.03238, gbHour: 0.00356 } satisfies FargatePrices,
  x86_64: { vcpuHour: 0.04048, gbHour: 0.004445 } satisfies FargatePrices,
} as const;

/** A task size from docs/deploy.md ("Quality ladders"): vCPU and the smallest memory Fargate allows with it. */
export interface TaskSize {
  readonly vcpu: number;
  readonly memoryGiB: number;
}

/** The ladder task sizes worth considering (2 vCPU up; 4 vCPU / 8 GiB is `keyframe:ladderTaskCpu`'s default). */
export const LADDER_TASK_SIZES: readonly TaskSize[] = [
  { vcpu: 2, memoryGiB: 4 },
  { vcpu: 4, memoryGiB: 8 },
  { vcpu: 8, memoryGiB: 16 },
  { vcpu: 16, memoryGiB: 32 },
];

/** `KEYFRAME_LADDER_CPU_BUDGET`: the share of a task's vCPU its transcoders may use (docs/deploy.md). */
export const LADDER_BUDGET_SHARE = 0.75;

export interface LadderMeasurement {
  /** CPU of one ladder (transcoder and the ingest's share of packaging its rungs), cores of this machine. */
  readonly coresPerLadder: number;
  /** Memory of one ladder (PSS), MiB. */
  readonly pssMiBPerLadder: number;
  /** Ladders this machine ran at once on time (0: not even one; Infinity: not measured, the budget and memory decide). */
  readonly onTimeHere: number;
  /** Cores of this machine. */
  readonly machineCores: number;
}

export interface CostAssumptions {
  /** Cores of this machine one Fargate vCPU is worth. @default 1 */
  readonly coresPerVcpu?: number;
  /** Work of one arm64 vCPU relative to one x86 vCPU, for x264. @default 1 (unmeasured) */
  readonly armSpeed?: number;
  /** @default LADDER_BUDGET_SHARE */
  readonly budgetShare?: number;
}

export interface TaskRow {
  readonly arch: 'arm64' | 'x86_64';
  readonly vcpu: number;
  readonly memoryGiB: number;
  /** The task's price per hour. */
  readonly taskHour: number;
  /** Ladders the budget admits: floor(budget vCPU / vCPU per ladder). */
  readonly byBudget: number;
  /** Ladders by the on-time count measured here, scaled by vCPU: floor(onTimeHere × vCPU-worth / machine cores). */
  readonly byMeasurement: number;
  /** Ladders by memory: floor(memory / PSS per ladder). */
  readonly byMemory: number;
  /** The task holds: the smallest of the three. */
  readonly ladders: number;
  /** Task price per hour / ladders (the task packed with ladders); Infinity when it holds none. */
  readonly perLadderHourPacked: number;
}

/** vCPU one ladder needs on an architecture. */
export function vcpuPerLadder(m: LadderMeasurement, arch: 'arm64' | 'x86_64', a: CostAssumptions = {}): number {
  const perVcpu = (a.coresPerVcpu ?? 1) * (arch === 'arm64' ? (a.armSpeed ?? 1) : 1);
  if (!(perVcpu > 0)) throw new RangeError('coresPerVcpu and armSpeed must be positive');
  return m.coresPerLadder / perVcpu;
}

export function taskHourPrice(size: TaskSize, prices: FargatePrices): number {
  return size.vcpu * prices.vcpuHour + size.memoryGiB * prices.gbHour;
}

/**
 * What one ladder costs while live if the task's price is shared by what each publish uses (its vCPU at the vCPU
 * price, its memory at the GB price): the marginal cost when tasks are busy.
 */
export function shareCostPerLadderHour(m: LadderMeasurement, arch: 'arm64' | 'x86_64', a: CostAssumptions = {}): number {
  const prices = FARGATE_PRICES[arch];
  return vcpuPerLadder(m, arch, a) * prices.vcpuHour + (m.pssMiBPerLadder / 1024) * prices.gbHour;
}

/** Ladders per task size and the cost per ladder-hour, for both architectures. */
export function ladderTaskRows(m: LadderMeasurement, a: CostAssumptions = {}, sizes: readonly TaskSize[] = LADDER_TASK_SIZES): TaskRow[] {
  if (!(m.coresPerLadder > 0)) throw new RangeError('coresPerLadder must be positive');
  if (!(m.machineCores > 0)) throw new RangeError('machineCores must be positive');
  const share = a.budgetShare ?? LADDER_BUDGET_SHARE;
  const rows: TaskRow[] = [];
  for (const arch of ['arm64', 'x86_64'] as const) {
    const perLadder = vcpuPerLadder(m, arch, a);
    const speed = (a.coresPerVcpu ?? 1) * (arch === 'arm64' ? (a.armSpeed ?? 1) : 1);
    for (const size of sizes) {
      // A small epsilon so 3.0 / 1.5 is 2, not 1.9999999.
      const byBudget = Math.floor((size.vcpu * share) / perLadder + 1e-9);
      const byMeasurement = Math.floor((m.onTimeHere * size.vcpu * speed) / m.machineCores + 1e-9);
      const byMemory = m.pssMiBPerLadder > 0 ? Math.floor((size.memoryGiB * 1024) / m.pssMiBPerLadder + 1e-9) : Number.POSITIVE_INFINITY;
      const ladders = Math.min(byBudget, byMeasurement, byMemory);
      const taskHour = taskHourPrice(size, FARGATE_PRICES[arch]);
      rows.push({
        arch,
        vcpu: size.vcpu,
        memoryGiB: size.memoryGiB,
        taskHour,
        byBudget,
        byMeasurement,
        byMemory,
        ladders,
        perLadderHourPacked: ladders > 0 ? taskHour / ladders : Number.POSITIVE_INFINITY,
      });
    }
  }
  return rows;
}
