import { readFileSync } from 'node:fs';

/** Self time of a V8 `.cpuprofile` (from `node --cpu-prof`), by function and by source module. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time covered by the profile, ms. */
  readonly wallMs: number;
  /** Time not idle (everything but `(idle)`), ms. */
  readonly busyMs: number;
  /** Share of busy time by where it was spent: source module, `node:` internals, GC, `(program)`. */
  readonly byModule: Array<{ module: string; ms: number; share: number }>;
  readonly topFunctions: Array<{ fn: string; module: string; ms: number; share: number }>;
}

/**
 * `window`: only samples taken between these offsets (ms) from the start of the profile, e.g. a steady
 * measurement window without the process's start-up.
 */
export function summarizeProfile(
  path: string,
  moduleOf: (url: string, line0: number) => string,
  top = 15,
  window?: { fromMs: number; toMs: number },
): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = 0;
  let covered = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    t += dt;
    if (window && (t < window.fromMs || t > window.toMs)) continue;
    covered += dt;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const fnTime = new Map<string, { fn: string; module: string; ms: number }>();
  const modTime = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    busy += ms;
    let module: string;
    if (functionName === '(garbage collector)' || functionName === '(program)' || functionName === '(root)') module = functionName;
    else if (!url) module = '(native)';
    else if (url.startsWith('node:')) module = url;
    else module = moduleOf(url, lineNumber);
    const fn = `${functionName || '(anonymous)'}`;
    const key = `${fn}@${module}:${lineNumber}`;
    const e = fnTime.get(key) ?? { fn, module, ms: 0 };
    e.ms += ms;
    fnTime.set(key, e);
    modTime.set(module, (modTime.get(module) ?? 0) + ms);
  }
  const share = (ms: number) => Math.round((ms / busy) * 1000) / 10;
  return {
    wallMs: Math.round(window ? covered : (p.endTime - p.startTime) / 1000),
    busyMs: Math.round(busy),
    byModule: [...modTime.entries()].map(([module, ms]) => ({ module, ms: Math.round(ms), share: share(ms) })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...fnTime.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, module: f.module, ms: Math.round(f.ms), share: share(f.ms) })),
  };
}
