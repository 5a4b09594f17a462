/**
 * The task's CPU admission for ladders (docs/ladder.md, "Capacity"): a ladder is admitted only when its estimated
 * cost fits in the budget beside what the task already uses, taken as the larger of what it has admitted
 * (estimates) and what it measurably uses (its own CPU and its children's, beyond the passthrough reserve). A
 * refusal means the publish stays passthrough (the caller warns).
 *
 * Cost model, calibrated with test/ingest/ladder/calibrate.ts (docs/ladder.md has the numbers): in cores,
 *   coresPerMpixel × (Σ rung output Mpixel/s + source Mpixel/s × (DECODE_WEIGHT + SCALE_WEIGHT × rungs))
 * i.e. x264 cost per output pixel, plus decoding the source once and one scaler per rung reading every source pixel.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { loadUnitsOfVcpu } from '../../core/metrics';

/** Decoding the source, in encoded-output pixel equivalents per source pixel (measured: 0.106 cores at 62 Mpixel/s). */
export const DECODE_WEIGHT = 0.27;
/** One `scale` (bicubic, to yuv420p) per rung, per source pixel (measured: 0.059 cores per rung for a 1080p30 source). */
export const SCALE_WEIGHT = 0.15;
/** Default `coresPerMpixel` (veryfast, zerolatency; grainy 1080p30 content, 2-core Xeon under load). */
export const DEFAULT_CORES_PER_MPIXEL = 0.01;
/** Default cores kept for the passthrough path (RTMP, packager, HTTP) when no budget is set. */
export const DEFAULT_PASSTHROUGH_CORES = 0.5;

export interface LadderCostInput {
  /** Rung output sizes. */
  readonly rungs: ReadonlyArray<{ readonly width: number; readonly height: number }>;
  readonly source: { readonly width: number; readonly height: number; readonly frameRate?: number };
}

/** A ladder's estimated cost in cores. */
export function ladderCostCores(input: LadderCostInput, coresPerMpixel = DEFAULT_CORES_PER_MPIXEL): number {
  if (input.rungs.length === 0) return 0;
  const fps = input.source.frameRate && input.source.frameRate > 0 && input.source.frameRate <= 240 ? input.source.frameRate : 30;
  const out = input.rungs.reduce((s, r) => s + r.width * r.height, 0) * fps;
  const src = input.source.width * input.source.height * fps;
  return (coresPerMpixel * (out + src * (DECODE_WEIGHT + SCALE_WEIGHT * input.rungs.length))) / 1e6;
}

/** Cumulative CPU seconds of this process and all its descendants, or undefined when /proc is not there. */
export function processTreeCpuSeconds(pid = process.pid): number | undefined {
  const ticks = 100; // USER_HZ on Linux
  const read = (p: number): { ppid: number; cpu: number } | undefined => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields after the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17)
      return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticks };
    } catch {
      return undefined;
    }
  };
  const self = read(pid);
  if (!self) return undefined;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return self.cpu;
  }
  const children = new Map<number, { pid: number; cpu: number }[]>();
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const p = Number(n);
    if (p === pid) continue;
    const s = read(p);
    if (!s) continue;
    let list = children.get(s.ppid);
    if (!list) children.set(s.ppid, (list = []));
    list.push({ pid: p, cpu: s.cpu });
  }
  let total = self.cpu;
  const stack = [pid];
  const seen = new Set<number>([pid]);
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (seen.has(c.pid)) continue;
      seen.add(c.pid);
      total += c.cpu;
      stack.push(c.pid);
    }
  }
  return total;
}

export interface LadderCapacityOptions {
  /** Cores ladders may use. @default the machine's cores − `passthroughCores` */
  readonly budgetCores?: number;
  /** Cores kept for everything else when the budget is derived. @default 0.5 */
  readonly passthroughCores?: number;
  /** The machine's cores. @default os.availableParallelism() */
  readonly cores?: number;
  /** @default 0.01 */
  readonly coresPerMpixel?: number;
  /** Cumulative CPU seconds of the task (process and children). @default `processTreeCpuSeconds`, else none */
  readonly cpuSeconds?: () => number | undefined;
  /** Fallback when `cpuSeconds` has nothing: busy cores now. @default os.loadavg()[0] */
  readonly loadAverage?: () => number;
  /** The measured use is over this window, s. @default 5 */
  readonly windowSeconds?: number;
  /** Sample every this many ms (an unref'd timer; `stop()` clears it). 0: only when asked. @default 1000 */
  readonly sampleEveryMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export type Admission = { readonly ticket: number; readonly costCores: number } | { readonly refused: string; readonly costCores: number };

export interface LadderLoad {
  /** Ladders admitted and not released. */
  readonly ladders: number;
  /** Their estimated cost, cores. */
  readonly costCores: number;
  /** Measured CPU of the task (process and children) over the window, cores; undefined before two samples. */
  readonly measuredCores?: number;
  /** What admission counts as used by ladders: max(cost, measured − reserve). */
  readonly usedCores: number;
  readonly budgetCores: number;
  /** For the scaling metric (core/metrics.ts): Σ loadUnitsOfVcpu(cost) over the admitted ladders. */
  readonly units: number;
}

/** One per task. */
export class LadderCapacity {
  private readonly cores: number;
  private readonly budget: number;
  private readonly reserve: number;
  private readonly k: number;
  private readonly cpuSeconds: () => number | undefined;
  private readonly loadAverage: () => number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly samples: { at: number; cpu: number }[] = [];
  private readonly tickets = new Map<number, number>();
  private nextTicket = 1;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: LadderCapacityOptions = {}) {
    this.cores = o.cores ?? availableParallelism();
    this.budget = o.budgetCores ?? Math.max(0, this.cores - (o.passthroughCores ?? DEFAULT_PASSTHROUGH_CORES));
    this.reserve = Math.max(0, this.cores - this.budget);
    this.k = o.coresPerMpixel ?? DEFAULT_CORES_PER_MPIXEL;
    this.cpuSeconds = o.cpuSeconds ?? (() => processTreeCpuSeconds());
    this.loadAverage = o.loadAverage ?? (() => loadavg()[0]);
    this.windowMs = (o.windowSeconds ?? 5) * 1000;
    this.now = o.now ?? Date.now;
    const every = o.sampleEveryMs ?? 1000;
    this.sample();
    if (every > 0) {
      this.timer = setInterval(() => this.sample(), every);
      this.timer.unref();
    }
  }

  /** Stops the sampler. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A ladder's estimated cost, cores. */
  cost(input: LadderCostInput): number {
    return ladderCostCores(input, this.k);
  }

  /** Takes a CPU sample now (the timer does this every second). */
  sample(): void {
    const cpu = this.cpuSeconds();
    if (cpu === undefined) return;
    const at = this.now();
    this.samples.push({ at, cpu });
    while (this.samples.length > 2 && at - this.samples[1].at >= this.windowMs) this.samples.shift();
  }

  /** The task's measured CPU use over the window, cores (the load average without /proc); undefined before it is known. */
  measuredCores(): number | undefined {
    if (this.samples.length === 0) {
      const la = this.loadAverage();
      return Number.isFinite(la) ? la : undefined;
    }
    if (this.samples.length < 2) return undefined;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    if (b.at <= a.at) return undefined;
    return Math.max(0, (b.cpu - a.cpu) / ((b.at - a.at) / 1000));
  }

  /** Admits a ladder (`ticket`, to `release` when it stops) or refuses it with the reason. */
  admit(rungs: LadderCostInput['rungs'], source: LadderCostInput['source']): Admission {
    const costCores = this.cost({ rungs, source });
    if (rungs.length === 0) return { refused: 'the ladder has no rungs', costCores };
    const used = this.usedCores();
    if (used + costCores > this.budget + 1e-9) {
      const measured = this.measuredCores();
      return {
        refused:
          `not enough CPU: the ladder needs ${costCores.toFixed(2)} cores, ${used.toFixed(2)} of the ${this.budget.toFixed(2)}-core ladder budget are in use` +
          ` (${this.tickets.size} ladder${this.tickets.size === 1 ? '' : 's'} admitted, ${this.committed().toFixed(2)} cores estimated` +
          `${measured === undefined ? '' : `, ${measured.toFixed(2)} cores measured`})`,
        costCores,
      };
    }
    const ticket = this.nextTicket++;
    this.tickets.set(ticket, costCores);
    return { ticket, costCores };
  }

  /** The ladder stopped (ended, failed, or never started). Unknown tickets are ignored. */
  release(ticket: number): void {
    this.tickets.delete(ticket);
  }

  load(): LadderLoad {
    const measured = this.measuredCores();
    let units = 0;
    for (const c of this.tickets.values()) units += loadUnitsOfVcpu(c);
    return {
      ladders: this.tickets.size,
      costCores: this.committed(),
      ...(measured !== undefined ? { measuredCores: measured } : {}),
      usedCores: this.usedCores(),
      budgetCores: this.budget,
      units,
    };
  }

  private committed(): number {
    let s = 0;
    for (const c of this.tickets.values()) s += c;
    return s;
  }

  private usedCores(): number {
    const measured = this.measuredCores();
    return Math.max(this.committed(), measured === undefined ? 0 : measured - this.reserve);
  }
}
