import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/**
 * What every benchmark shares: its command line (`--smoke`, `--json <file>`, named numbers), a description
 * of the machine it ran on, and its output (a human report on stdout, the figures as JSON for the smoke test
 * and the docs).
 */

export interface BenchArgs {
  /** Tiny sizes that finish in seconds: what `test/bench/smoke.test.ts` runs. */
  readonly smoke: boolean;
  /** Write the result as JSON here. */
  readonly json?: string;
  /** Raw `--name value` / `--flag` options. */
  readonly options: ReadonlyMap<string, string | true>;
  number(name: string, fallback: number): number;
  string(name: string, fallback: string): string;
  flag(name: string): boolean;
  list(name: string, fallback: readonly number[]): number[];
}

export function parseArgs(argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq !== -1) options.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(a.slice(2), argv[++i]);
    else options.set(a.slice(2), true);
  }
  const get = (name: string) => options.get(name);
  return {
    smoke: get('smoke') === true || get('smoke') === 'true',
    json: typeof get('json') === 'string' ? (get('json') as string) : undefined,
    options,
    number(name, fallback) {
      const v = get(name);
      if (v === undefined || v === true) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
      return n;
    },
    string(name, fallback) {
      const v = get(name);
      return typeof v === 'string' ? v : fallback;
    },
    flag(name) {
      const v = get(name);
      return v === true || v === 'true' || v === '1';
    },
    list(name, fallback) {
      const v = get(name);
      if (typeof v !== 'string') return [...fallback];
      return v
        .split(',')
        .filter((x) => x.trim() !== '')
        .map((x) => {
          const n = Number(x);
          if (!Number.isFinite(n)) throw new Error(`--${name} must be a comma-separated list of numbers, got ${v}`);
          return n;
        });
    },
  };
}

export interface MachineInfo {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memTotalGiB: number;
  /** `free -h` as printed, for the doc. */
  readonly freeH: string;
  /** 1-minute load average when the benchmark started and when it ended (other work on the machine). */
  readonly loadavgStart: number;
  loadavgEnd?: number;
  readonly node: string;
  readonly ffmpeg: string;
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unavailable';
  }
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    nproc: Number(tryRun('nproc', [])) || cpus().length,
    cpuModel,
    memTotalGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeH: tryRun('free', ['-h']),
    loadavgStart: Math.round(loadavg()[0] * 100) / 100,
    node: process.version,
    ffmpeg: tryRun('ffmpeg', ['-version']).split('\n')[0] ?? 'unavailable',
  };
}

/** The whole output of a benchmark run. */
export interface BenchResult<T> {
  readonly bench: string;
  readonly command: string;
  readonly smoke: boolean;
  readonly machine: MachineInfo;
  readonly results: T;
}

/** Prints the human report and writes the JSON file if asked. */
export function finish<T>(args: BenchArgs, bench: string, machine: MachineInfo, results: T, report: string): BenchResult<T> {
  machine.loadavgEnd = Math.round(loadavg()[0] * 100) / 100;
  const out: BenchResult<T> = {
    bench,
    command: `npx tsx bench/${bench}.ts ${process.argv.slice(2).join(' ')}`.trim(),
    smoke: args.smoke,
    machine,
    results,
  };
  const header =
    `## ${bench}${args.smoke ? ' (smoke)' : ''}\n\n` +
    `- command: \`${out.command}\`\n` +
    `- date: ${machine.date}; ${machine.nproc} × ${machine.cpuModel}; ${machine.memTotalGiB} GiB RAM; ` +
    `load average ${machine.loadavgStart} at start, ${machine.loadavgEnd} at end\n` +
    `- ${machine.node}; ${machine.ffmpeg}\n`;
  process.stdout.write(`${header}\n${report.trimEnd()}\n`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

/** A markdown table from a header row and data rows. */
export function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const line = (cells: ReadonlyArray<string | number>) => `| ${cells.map((c) => String(c)).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Log progress to stderr (stdout carries the report). */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `main` with cleanup on SIGINT/SIGTERM and a hard deadline, so a benchmark never outlives its bound.
 * `cleanups` run in reverse order, whatever happens.
 */
export async function runBench(opts: { deadlineMs: number; cleanups: Array<() => unknown> }, main: () => Promise<void>): Promise<void> {
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of [...opts.cleanups].reverse()) {
      try {
        await c();
      } catch {
        // best effort
      }
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    progress(`deadline of ${opts.deadlineMs} ms reached: stopping`);
    void cleanup().then(() => process.exit(2));
  }, opts.deadlineMs);
  deadline.unref();
  try {
    await main();
    await cleanup();
    clearTimeout(deadline);
    process.exit(0);
  } catch (err) {
    progress(`failed: ${(err as Error).stack ?? String(err)}`);
    await cleanup();
    process.exit(1);
  }
}
