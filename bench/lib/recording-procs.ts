import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLK_TCK, type TreeSample } from './proc';

/**
 * Accounting for the short processes an ingest starts (thumbnail decodes: one ffmpeg of ~0.1 s per keyframe):
 * a sampled process tree misses most of them, so their CPU is read from the parent's cutime + cstime (the CPU
 * of its children that it has waited for), and their starts are counted by a one-line wrapper given to the
 * ingest as KEYFRAME_FFMPEG_PATH (dash, one printf, then exec: the same PID; its own start costs about 1 ms).
 */

/** cutime + cstime of a process (fields 16 and 17 of /proc/<pid>/stat), clock ticks; undefined once gone. */
export function reapedChildTicks(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): cutime is field 16, cstime 17.
    return Number(fields[13]) + Number(fields[14]);
  } catch {
    return undefined;
  }
}

/**
 * The CPU (% of one core) of a root's descendants over a window, exactly, from two tree samples and the root's
 * reaped-children ticks at each end: children alive at the end count from their ticks at the start (or zero), the
 * reaped ones through cutime/cstime, less what those that were alive at the start had used before it.
 */
export function childrenCpuBetween(
  rootPid: number,
  a: TreeSample,
  b: TreeSample,
  reapedA: number,
  reapedB: number,
): { pct: number; byComm: Record<string, number> } {
  const seconds = (b.at - a.at) / 1000;
  let ticks = reapedB - reapedA;
  const byComm: Record<string, number> = {};
  for (const [pid, after] of b.procs) {
    if (pid === rootPid) continue;
    const d = after.ticks - (a.procs.get(pid)?.ticks ?? 0);
    ticks += d;
    byComm[after.comm] = (byComm[after.comm] ?? 0) + d;
  }
  for (const [pid, before] of a.procs) {
    if (pid === rootPid || b.procs.has(pid)) continue;
    ticks -= before.ticks;
  }
  const pct = (t: number) => (t / CLK_TCK / seconds) * 100;
  return { pct: pct(ticks), byComm: Object.fromEntries(Object.entries(byComm).map(([c, t]) => [c, pct(t)])) };
}

export interface SpawnCounter {
  /** Give to the ingest as KEYFRAME_FFMPEG_PATH. */
  readonly path: string;
  /** ffmpeg starts so far (read it at both ends of a window for the starts in between). */
  count(): number;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function createSpawnCounter(dir: string, real = 'ffmpeg'): SpawnCounter {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'ffmpeg-count.sh');
  const log = join(dir, 'ffmpeg-starts.log');
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$$" >> ${shellQuote(log)}\nexec ${shellQuote(real)} "$@"\n`);
  chmodSync(path, 0o755);
  return {
    path,
    count: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0),
  };
}
