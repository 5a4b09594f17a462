import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViewerOptions, ViewerResult } from './viewers';

/**
 * The processes the origin benchmarks start beside the local stack: the origin in its own process
 * (bench/lib/origin-server.ts, which counts what it asks the task for) and a process of player-like viewers
 * (bench/lib/viewers.ts), so neither's CPU lands in the other's.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** What the origin asked the task for (bench/lib/origin-server.ts). */
export interface UpstreamCounts {
  /** Playlist requests, of which `blocking` carried `_HLS_msn` (LL-HLS blocking reloads). */
  playlist: number;
  blocking: number;
  /** Blocking reloads by their canonical query (`_HLS_msn=…&_HLS_part=…`). */
  byPlaylistQuery: Record<string, number>;
  /** Everything but playlists (segments, parts, inits), and by path. */
  segment: number;
  bySegment: Record<string, number>;
}

export interface OriginChild {
  readonly proc: ChildProcess;
  /** Wall clock just before the spawn (to cut a profile to a window). */
  readonly spawnedAt: number;
  /** The handler behind local/function-url.ts. */
  readonly port: number;
  /** The origin core called directly. */
  readonly corePort: number;
  counts(): Promise<UpstreamCounts>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The origin Lambda's environment for the local stack's table, at its production log level (INFO). */
export function originEnv(stack: { tableName: string; dynamoEndpoint: string }, segmentSeconds = 1): Record<string, string> {
  return {
    KEYFRAME_TABLE: stack.tableName,
    KEYFRAME_DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
    KEYFRAME_SEGMENT_SECONDS: String(segmentSeconds),
    KEYFRAME_LOG_LEVEL: 'INFO',
    // The Lambda always checks where it fetches from; the local tasks listen on loopback, random ports.
    KEYFRAME_UPSTREAM_CIDRS: '127.0.0.0/8',
    KEYFRAME_UPSTREAM_PORTS: '1024-65535',
  };
}

export async function startOriginChild(env: Record<string, string>, nodeArgs: string[] = []): Promise<OriginChild> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.POWERTOOLS_METRICS_DISABLED; // metrics on, as in production
  const spawnedAt = Date.now();
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(REPO, 'bench/lib/origin-server.ts')], {
    cwd: REPO,
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let err = '';
  proc.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  const ready = await new Promise<{ port: number; corePort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`origin did not start: ${err}`)), 30_000);
    proc.on('message', (m: { type?: string; port?: number; corePort?: number }) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve({ port: m.port!, corePort: m.corePort! });
      }
    });
    proc.once('exit', (code) => reject(new Error(`origin exited ${code}: ${err}`)));
  });
  const ask = <T>(type: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { type?: string; counts?: T }) => {
        if (m?.type === type) {
          proc.off('message', on);
          resolve((m.counts ?? undefined) as T);
        }
      };
      proc.on('message', on);
      proc.send({ type });
    });
  return {
    proc,
    spawnedAt,
    ...ready,
    counts: () => ask('counts'),
    reset: () => ask<void>('reset'),
    async stop() {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.send({ type: 'exit' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Runs bench/lib/viewers.ts in its own process; resolves with the one JSON line it prints. Killed after `seconds` + 30 s. */
export function runViewers(opts: ViewerOptions): Promise<ViewerResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/lib/viewers.ts'), JSON.stringify(opts)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => p.kill('SIGKILL'), (opts.seconds + 30) * 1000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ViewerResult);
      } catch {
        reject(new Error(`viewers failed (${code}): ${err}`));
      }
    });
  });
}
