import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The ingest as it runs in its container: `ingest/main.ts` bundled by esbuild to one ESM file (the
 * Dockerfile's build, `--bundle --platform=node --format=esm` with a `require` banner), run by plain `node`,
 * configured from the environment, reporting readiness over IPC.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export async function bundleIngest(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'main.mjs');
  await build({
    entryPoints: [join(REPO, 'ingest/main.ts')],
    bundle: true,
    platform: 'node',
    // The Dockerfile targets node22 (its runtime); this machine may run Node 20, which runs the same code.
    target: 'node20',
    format: 'esm',
    outfile,
    banner: { js: REQUIRE_BANNER },
    logLevel: 'error',
  });
  return outfile;
}

export interface IngestProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly rtmpPort: number;
  readonly hlsPort: number;
  /** The health port: `GET /healthz`, and `GET /streams` with what the packager measures per stream. */
  readonly healthPort: number;
  stderr(): string;
  /** SIGTERM (drain), then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startIngestProcess(opts: {
  bundle: string;
  env: Record<string, string>;
  nodeArgs?: readonly string[];
}): Promise<IngestProcess> {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bundle], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      KEYFRAME_RTMP_PORT: '0',
      KEYFRAME_HLS_PORT: '0',
      KEYFRAME_HEALTH_PORT: '0',
      KEYFRAME_RTMP_HOST: '127.0.0.1',
      KEYFRAME_HLS_HOST: '127.0.0.1',
      KEYFRAME_TASK_IP: '127.0.0.1',
      ...opts.env,
    },
  });
  let err = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (err = (err + d).slice(-8000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<{ rtmpPort: number; hlsPort: number; healthPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ingest did not become ready: ${err}`)), 30_000);
    proc.on('message', (m: { type?: string; rtmpPort?: number; hlsPort?: number; healthPort?: number }) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve({ rtmpPort: m.rtmpPort!, hlsPort: m.hlsPort!, healthPort: m.healthPort! });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ingest exited (${code}) before it was ready: ${err}`));
    });
  });
  return {
    proc,
    pid: proc.pid!,
    ...ready,
    stderr: () => err,
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Maps a line of an esbuild bundle (not minified) to the source module, from esbuild's `// path` markers. */
export function bundleModuleMap(bundlePath: string): (line0: number) => string {
  const lines = readFileSync(bundlePath, 'utf8').split('\n');
  const marks: Array<{ line: number; module: string }> = [];
  lines.forEach((l, i) => {
    const m = /^\/\/ ((?:node_modules|ingest|functions|local)\/\S+)$/.exec(l);
    if (m) marks.push({ line: i, module: m[1] });
  });
  return (line0) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = '(bundle prelude)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid].line <= line0) {
        found = marks[mid].module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}
