import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { localTaskArn } from './ecs-events';
import { inheritedEnvironment } from '../core/settings/schema';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const INGEST_MAIN = fileURLToPath(new URL('../ingest/main.ts', import.meta.url));

/** What a local ingest task reports over IPC once its servers listen. */
export interface TaskReady {
  readonly type: 'ready';
  readonly rtmpPort: number;
  readonly hlsPort: number;
  readonly healthPort: number;
}

export type LocalTaskStatus = 'PENDING' | 'RUNNING' | 'STOPPED';

export interface LocalTask {
  readonly id: string;
  readonly taskArn: string;
  readonly pid: number | undefined;
  readonly status: LocalTaskStatus;
  readonly rtmpPort?: number;
  readonly hlsPort?: number;
  readonly healthPort?: number;
  readonly draining: boolean;
  readonly exitCode?: number | null;
  readonly signal?: NodeJS.Signals | null;
}

interface MutableTask {
  id: string;
  taskArn: string;
  child: ChildProcess;
  status: LocalTaskStatus;
  ready?: TaskReady;
  draining: boolean;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  exited: Promise<void>;
}

/**
 * Local ingest "tasks": each one a real `ingest/main.ts` process with its own task ARN-like id and ports.
 * Emits `running` (ready) and `stopped` (process exit, however it died) for the local ECS event feed, and
 * `log` for each line a task prints.
 */
export class LocalTaskFleet extends EventEmitter {
  private readonly tasks = new Map<string, MutableTask>();
  private seq = 0;

  constructor(private readonly env: Record<string, string>) {
    super();
  }

  list(): LocalTask[] {
    return [...this.tasks.values()].map((t) => this.view(t));
  }

  /** Tasks that take publishes: running and not draining. */
  serving(): LocalTask[] {
    return this.list().filter((t) => t.status === 'RUNNING' && !t.draining && t.rtmpPort !== undefined);
  }

  get(id: string): LocalTask | undefined {
    const t = this.tasks.get(id);
    return t && this.view(t);
  }

  async start(opts: { readyTimeoutMs?: number } = {}): Promise<LocalTask> {
    const id = `task-${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    const taskArn = localTaskArn(id);
    const child = spawn(process.execPath, ['--import', 'tsx', INGEST_MAIN], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...inheritedEnvironment(),
        ...this.env,
        KEYFRAME_TASK_ARN: taskArn,
        KEYFRAME_TASK_IP: '127.0.0.1',
        KEYFRAME_RTMP_HOST: '127.0.0.1',
        KEYFRAME_HLS_HOST: '127.0.0.1',
        KEYFRAME_RTMP_PORT: '0',
        KEYFRAME_HLS_PORT: '0',
        KEYFRAME_HEALTH_PORT: '0',
        KEYFRAME_HLS_DIR: `${this.env.KEYFRAME_HLS_DIR ?? '/tmp/keyframe-hls'}/${id}`,
      },
    });
    let resolveExit!: () => void;
    const task: MutableTask = { id, taskArn, child, status: 'PENDING', draining: false, exited: new Promise((r) => (resolveExit = r)) };
    this.tasks.set(id, task);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) this.emit('log', this.view(task), line);
      });
    }
    const ready = new Promise<LocalTask>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ingest task ${id} did not become ready in time`)), opts.readyTimeoutMs ?? 30_000);
      child.on('message', (msg: unknown) => {
        const m = msg as { type?: string };
        if (m?.type === 'ready') {
          clearTimeout(timer);
          task.ready = msg as TaskReady;
          task.status = 'RUNNING';
          this.emit('running', this.view(task));
          resolve(this.view(task));
        } else if (m?.type === 'draining') {
          task.draining = true;
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`ingest task ${id} exited before it was ready (code ${code}, signal ${signal})`));
      });
    });
    child.once('exit', (code, signal) => {
      task.status = 'STOPPED';
      task.exitCode = code;
      task.signal = signal;
      this.emit('stopped', this.view(task));
      resolveExit();
    });
    return ready;
  }

  /** Sends a signal (SIGTERM drains; SIGKILL is a crash). Resolves when the process has exited. */
  async signal(id: string, signal: NodeJS.Signals): Promise<LocalTask | undefined> {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    if (task.status !== 'STOPPED') {
      if (signal === 'SIGTERM') task.draining = true;
      task.child.kill(signal);
    }
    await task.exited;
    return this.view(task);
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    const live = [...this.tasks.values()].filter((t) => t.status !== 'STOPPED');
    for (const t of live) {
      t.draining = true;
      t.child.kill(signal);
    }
    const killer = setTimeout(() => {
      for (const t of live) t.child.kill('SIGKILL');
    }, timeoutMs);
    await Promise.all(live.map((t) => t.exited));
    clearTimeout(killer);
  }

  private view(t: MutableTask): LocalTask {
    return {
      id: t.id,
      taskArn: t.taskArn,
      pid: t.child.pid,
      status: t.status,
      rtmpPort: t.ready?.rtmpPort,
      hlsPort: t.ready?.hlsPort,
      healthPort: t.ready?.healthPort,
      draining: t.draining,
      exitCode: t.exitCode,
      signal: t.signal,
    };
  }
}
