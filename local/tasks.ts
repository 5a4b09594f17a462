import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { localTaskArn } from './ecs-events';
import { ingestSettings } from '../core/settings/ingest';
import { inheritedEnvironment } from '../core/settings/schema';
import type { LocalDeploymentsMessage, ServiceDeployment } from '../ingest/deployment';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const INGEST_MAIN = fileURLToPath(new URL('../ingest/main.ts', import.meta.url));
const { deploymentPollSeconds: POLL, localDeploymentId: LOCAL_DEPLOYMENT } = ingestSettings.settings;

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
  /** The fleet deployment that started it (the stand-in for ECS's `startedBy`). */
  readonly deploymentId: string;
}

interface MutableTask {
  id: string;
  taskArn: string;
  deploymentId: string;
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
 *
 * Tasks belong to deployments, as an ECS service's do: `beginDeployment` makes later tasks start in a new one, and
 * the fleet tells every task the service's deployments (what DescribeServices would answer) whenever they change.
 */
export class LocalTaskFleet extends EventEmitter {
  private readonly tasks = new Map<string, MutableTask>();
  private seq = 0;
  private deploymentSeq = 1;
  private primary = 'ecs-svc/local-1';
  /** Desired task counts of the deployments begun with a count. */
  private readonly desired = new Map<string, number>();

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

  /** The deployment new tasks start in (the service's primary one). */
  get deploymentId(): string {
    return this.primary;
  }

  /** Starts a new deployment of `desiredCount` tasks: tasks started from now on belong to it. Returns its ID. */
  beginDeployment(desiredCount: number): string {
    this.primary = `ecs-svc/local-${++this.deploymentSeq}`;
    this.desired.set(this.primary, desiredCount);
    this.announce();
    return this.primary;
  }

  /** The service's deployments now, shaped like DescribeServices' (the primary first; older ones while they run). */
  deployments(): ServiceDeployment[] {
    const running = (id: string) => [...this.tasks.values()].filter((t) => t.deploymentId === id && t.status === 'RUNNING').length;
    const older = new Set(
      [...this.tasks.values()].filter((t) => t.status !== 'STOPPED' && t.deploymentId !== this.primary).map((t) => t.deploymentId),
    );
    const primaryRunning = running(this.primary);
    return [
      { id: this.primary, status: 'PRIMARY', desiredCount: this.desired.get(this.primary) ?? primaryRunning, runningCount: primaryRunning },
      ...[...older].map((id) => ({ id, status: 'ACTIVE', desiredCount: 0, runningCount: running(id) })),
    ];
  }

  /** Resolves when the task's process has exited (at once if it has), without signalling it. */
  async whenStopped(id: string): Promise<LocalTask | undefined> {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    await task.exited;
    return this.view(task);
  }

  async start(opts: { readyTimeoutMs?: number } = {}): Promise<LocalTask> {
    const id = `task-${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    const taskArn = localTaskArn(id);
    const deploymentId = this.primary;
    const child = spawn(process.execPath, ['--import', 'tsx', INGEST_MAIN], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...inheritedEnvironment(),
        // The fleet's announcements cost nothing to read: check them often (taskEnv may say otherwise).
        [POLL.env]: POLL.format(0.5),
        ...this.env,
        [LOCAL_DEPLOYMENT.env]: LOCAL_DEPLOYMENT.format(deploymentId),
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
    const task: MutableTask = {
      id,
      taskArn,
      deploymentId,
      child,
      status: 'PENDING',
      draining: false,
      exited: new Promise((r) => (resolveExit = r)),
    };
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
          this.announce();
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
      this.announce();
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

  /** Tells every live task the service's deployments: the local stand-in for each task's DescribeServices poll. */
  private announce(): void {
    const message: LocalDeploymentsMessage = { type: 'deployments', deployments: this.deployments() };
    for (const t of this.tasks.values()) {
      // A task that is exiting may have closed its channel: it has nothing left to learn.
      if (t.status !== 'STOPPED' && t.child.connected) t.child.send(message, () => undefined);
    }
  }

  private view(t: MutableTask): LocalTask {
    return {
      id: t.id,
      taskArn: t.taskArn,
      deploymentId: t.deploymentId,
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
