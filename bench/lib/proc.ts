import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process accounting from /proc (Linux): CPU time (utime + stime) and memory (RSS, PSS) of a process and
 * all its descendants, so a benchmark can count exactly the server's processes and nothing else.
 */

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, in clock ticks. */
  readonly ticks: number;
  /** Of which in the kernel (stime): system calls, page faults, socket and file I/O. */
  readonly systemTicks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]), systemTicks: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

export function listProcs(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** The process and all its descendants, from one scan of /proc. */
export function processTree(rootPid: number, procs: readonly ProcStat[] = listProcs()): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const root = procs.find((p) => p.pid === rootPid);
  if (!root) return [];
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(byParent.get(p.pid) ?? []));
  }
  return out;
}

function statusKiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const rssKiB = (pid: number) => statusKiB(pid, 'VmRSS');

/** Proportional set size: shared pages (ffmpeg's libraries) split among the processes that map them. */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeSample {
  readonly at: number;
  /** Per process: ticks so far (and of them in the kernel) and its command name. */
  readonly procs: ReadonlyMap<number, { comm: string; ticks: number; systemTicks: number }>;
}

export function sampleTree(rootPid: number): TreeSample {
  const procs = new Map<number, { comm: string; ticks: number; systemTicks: number }>();
  for (const p of processTree(rootPid)) procs.set(p.pid, { comm: p.comm, ticks: p.ticks, systemTicks: p.systemTicks });
  return { at: performance.now(), procs };
}

/**
 * CPU used between two samples, as % of one core, in total (and of it in the kernel) and by command name. A
 * process present only in the later sample counts from zero (it started within the window).
 */
export function cpuBetween(a: TreeSample, b: TreeSample): { total: number; system: number; byComm: Record<string, number>; processes: number } {
  const seconds = (b.at - a.at) / 1000;
  const byComm: Record<string, number> = {};
  let total = 0;
  let system = 0;
  for (const [pid, after] of b.procs) {
    const before = a.procs.get(pid);
    const pct = ((after.ticks - (before?.ticks ?? 0)) / CLK_TCK / seconds) * 100;
    total += pct;
    system += ((after.systemTicks - (before?.systemTicks ?? 0)) / CLK_TCK / seconds) * 100;
    byComm[after.comm] = (byComm[after.comm] ?? 0) + pct;
  }
  return { total, system, byComm, processes: b.procs.size };
}

export function memoryOfTree(rootPid: number): {
  rssKiB: number;
  pssKiB: number;
  processes: number;
  byComm: Record<string, { rssKiB: number; pssKiB: number }>;
} {
  let rss = 0;
  let pss = 0;
  const byComm: Record<string, { rssKiB: number; pssKiB: number }> = {};
  const tree = processTree(rootPid);
  for (const p of tree) {
    const r = rssKiB(p.pid);
    const s = pssKiB(p.pid);
    rss += r;
    pss += s;
    const c = (byComm[p.comm] ??= { rssKiB: 0, pssKiB: 0 });
    c.rssKiB += r;
    c.pssKiB += s;
  }
  return { rssKiB: rss, pssKiB: pss, processes: tree.length, byComm };
}

/** Whole-machine CPU busy time (all cores), for the load the run saw. */
export function systemCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Busy % of the whole machine (100 % = all cores) between two systemCpu() samples. */
export function busyPercent(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : 0;
}
