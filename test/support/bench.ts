import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs a benchmark in its smoke mode as its own process, exactly as documented
 * (`tsx bench/<name>.ts --smoke --json <file>`), and returns the JSON it wrote. Checks the header every benchmark
 * writes (its name, smoke mode, its command, the machine) before handing the results to the test.
 */
export interface BenchResult<T> {
  readonly bench: string;
  readonly command: string;
  readonly smoke: boolean;
  readonly machine: { readonly nproc: number; readonly cpuModel?: string; readonly date?: string; readonly loadavgStart: number };
  readonly results: T;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A temporary directory for the JSON files; `cleanup()` removes it (call it in afterAll). */
export function benchRunner(label: string): {
  run<T>(name: string, extra?: readonly string[], opts?: { timeoutMs?: number }): Promise<BenchResult<T>>;
  cleanup(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), `kf-bench-${label}-`));
  return {
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    run<T>(name: string, extra: readonly string[] = [], opts: { timeoutMs?: number } = {}): Promise<BenchResult<T>> {
      const out = join(dir, `${name}.json`);
      return new Promise((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench', `${name}.ts`), '--smoke', '--json', out, ...extra], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let log = '';
        p.stdout.on('data', (d) => (log = (log + d).slice(-6000)));
        p.stderr.on('data', (d) => (log = (log + d).slice(-6000)));
        const timer = setTimeout(() => p.kill('SIGTERM'), opts.timeoutMs ?? 110_000);
        p.once('exit', (code) => {
          clearTimeout(timer);
          if (code !== 0) return reject(new Error(`bench/${name}.ts --smoke exited ${code}:\n${log}`));
          try {
            const r = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<T>;
            const problems = [
              r.bench !== name && `bench is ${JSON.stringify(r.bench)}, not ${JSON.stringify(name)}`,
              r.smoke !== true && 'smoke is not true',
              !String(r.command).includes(`bench/${name}.ts`) && `command ${JSON.stringify(r.command)} does not name bench/${name}.ts`,
              !(r.machine?.nproc > 0) && 'machine.nproc missing',
            ].filter(Boolean);
            if (problems.length) return reject(new Error(`bench/${name}.ts --smoke wrote an unexpected header: ${problems.join('; ')}`));
            resolve(r);
          } catch (err) {
            reject(err);
          }
        });
      });
    },
  };
}
