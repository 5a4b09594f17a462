import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey, type CreatedChannel, type StackUrls } from '../core/channels';
import { createDynamoClient, createDynamoStore } from '../core/dynamo-store';
import type { Logger } from '../core/logger';
import type { RoutingStore } from '../core/store';
import { startTcpBalancer } from './balancer';
import { ensureTable, startLocalDynamo, type LocalDynamo } from './dynamo';
import { localTaskEvent, LOCAL_CLUSTER_ARN } from './ecs-events';
import { startFunctionUrlServer, type FunctionUrlHandler } from './function-url';
import { loadLocalFunction } from './lambda-runtime';
import { memoryMetrics, type MemoryMetrics } from '../core/metrics';
import type { TaskEventResult } from '../core/lambdas';
import type { LogLevel } from '../core/settings/common';
import { ingestSettings } from '../core/settings/ingest';
import { localSettings } from '../core/settings/local';
import { originSettings } from '../core/settings/origin';
import { taskEventsSettings } from '../core/settings/task-events';
import { type LocalS3, startLocalS3 } from './s3';
import { stateDir } from './state';
import { LocalTaskFleet, type LocalTask } from './tasks';

export interface LocalStackOptions {
  /** RTMP balancer port (the NLB's 1935). 0 picks a free port. */
  readonly rtmpPort?: number;
  /** Origin (function URL) port. 0 picks a free port. */
  readonly httpPort?: number;
  readonly host?: string;
  /** How many ingest tasks run behind the balancer. */
  readonly tasks?: number;
  readonly segmentSeconds?: number;
  readonly playlistSize?: number;
  /** Directory for the embedded DynamoDB's data; in memory when unset. */
  readonly dynamoPath?: string;
  readonly tableName?: string;
  /** Start a replacement when a task dies, as the ECS service would. */
  readonly replaceDeadTasks?: boolean;
  /**
   * Extra environment for the ingest tasks (KEYFRAME_DRAIN_SECONDS, KEYFRAME_RECONNECT_GRACE_SECONDS, ...): names
   * from the ingest settings schema only (core/settings/ingest.ts); anything else is refused.
   */
  readonly taskEnv?: Record<string, string>;
  /** Log level of the origin, task-events handler and ingest tasks. Default: KEYFRAME_LOG_LEVEL, else INFO. */
  readonly logLevel?: LogLevel;
  /** Log level of the two functions alone (the origin logs every request at INFO). Default: `logLevel`. */
  readonly functionLogLevel?: LogLevel;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Each line an ingest task prints. */
  readonly onTaskLog?: (task: LocalTask, line: string) => void;
  /** Extra HTTP routes in front of the origin (the player pages). Return undefined to fall through. */
  readonly httpRoutes?: (deps: { store: RoutingStore; urls: StackUrls }) => FunctionUrlHandler | undefined;
  /**
   * The playback-token secret of private channels. Default: KEYFRAME_PLAYBACK_SECRET, else the one saved in
   * `<stateDir>/playback-secret` (generated on first use, mode 600), which `keyframe playback-url` reads too.
   */
  readonly playbackSecret?: string;
  /** Where the generated playback secret is kept. Default `.keyframe` (KEYFRAME_STATE_DIR). */
  readonly stateDir?: string;
  /** Directory for the local S3 server's data (recordings); in a temporary directory when unset. */
  readonly s3Path?: string;
}

/** The local stack's recordings bucket, on its S3-compatible server. */
export const LOCAL_RECORDING_BUCKET = 'keyframe-recordings';

export interface LocalStack {
  readonly rtmpUrl: string;
  readonly httpUrl: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly store: RoutingStore;
  readonly fleet: LocalTaskFleet;
  readonly urls: StackUrls;
  /** Outcomes of the ECS-shaped events fed to the task-events handler, newest last. */
  readonly taskEvents: TaskEventResult[];
  /** The secret playback tokens are signed with (see `playbackSecret` in the options). */
  readonly playbackSecret: string;
  /** What the local functions published (origin, task-events); nothing is printed. */
  readonly metrics: MemoryMetrics;
  /** The S3-compatible server recordings go to (s3rver on loopback), and its bucket. */
  readonly s3: LocalS3;
  readonly recordingBucket: string;
  createChannel(name: string, opts?: { private?: boolean; record?: boolean; ladder?: string | true | readonly string[] }): Promise<CreatedChannel>;
  startTask(): Promise<LocalTask>;
  /**
   * A new version of the fleet, the way an ECS deployment rolls one out: begins a new deployment, starts `tasks`
   * new tasks in it (default: as many as run now) and resolves once they are ready. The old tasks learn of it through
   * the same decision as on ECS (ingest/deployment.ts; the fleet's IPC announcements stand in for DescribeServices):
   * once the new tasks all run, each old task stops taking publishes, drains (asking its publishers to move) and exits.
   * `fleet.whenStopped(id)` waits for an old task's exit.
   */
  rollTasks(opts?: { tasks?: number }): Promise<{ deploymentId: string; started: LocalTask[]; superseded: LocalTask[] }>;
  stop(): Promise<void>;
}

/**
 * The whole pipeline on one machine, with an embedded default for every AWS part: dynalite for DynamoDB,
 * ingest processes for Fargate tasks, a TCP balancer for the NLB, the task-events handler fed ECS-shaped
 * events for EventBridge, and the origin handler behind a function-URL adapter.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const host = opts.host ?? '127.0.0.1';
  const tableName = opts.tableName ?? 'keyframe-local';
  const segmentSeconds = opts.segmentSeconds ?? 1;
  const log = opts.logger;
  const logLevel = opts.logLevel ?? localSettings.load().logLevel;
  for (const name of Object.keys(opts.taskEnv ?? {})) {
    if (!ingestSettings.variables.includes(name)) throw new Error(`taskEnv: ${name} is not an ingest setting (core/settings/ingest.ts)`);
  }
  const metrics = memoryMetrics();
  const functionLogLevel = opts.functionLogLevel ?? logLevel;
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;

  const dynamo: LocalDynamo = await startLocalDynamo({ host, path: opts.dynamoPath });
  cleanups.push(() => dynamo.close());
  try {
    const client = createDynamoClient({ endpoint: dynamo.endpoint });
    cleanups.push(async () => client.destroy());
    await ensureTable(client, tableName);
    const store = createDynamoStore({ tableName, client });

    const hlsRoot = join(tmpdir(), `keyframe-hls-${process.pid}-${Date.now().toString(36)}`);
    await mkdir(hlsRoot, { recursive: true });
    cleanups.push(() => rm(hlsRoot, { recursive: true, force: true }));

    // S3 stand-in for recordings: a real S3-compatible server on loopback, data under .keyframe/ or temporary.
    const s3 = await startLocalS3({ host, buckets: [LOCAL_RECORDING_BUCKET], ...(opts.s3Path ? { directory: opts.s3Path } : { memory: true }) });
    cleanups.push(() => s3.close());

    // EventBridge stand-in: task lifecycle → ECS-shaped events → the task-events function, run as Lambda would.
    const taskEventsFunction = await loadLocalFunction(
      'taskEvents',
      taskEventsSettings.toEnv({ tableName, dynamoEndpoint: dynamo.endpoint, clusterArn: LOCAL_CLUSTER_ARN, logLevel: functionLogLevel }),
      { metrics },
    );
    const taskEvents: TaskEventResult[] = [];
    const versions = new Map<string, number>();
    let eventChain = Promise.resolve();
    const feed = (task: LocalTask, status: 'RUNNING' | 'STOPPED') => {
      const version = (versions.get(task.taskArn) ?? 0) + 1;
      versions.set(task.taskArn, version);
      const event = localTaskEvent({ taskArn: task.taskArn, status, version, ip: '127.0.0.1' });
      eventChain = eventChain
        .then(() => taskEventsFunction(event))
        .then((outcome) => {
          taskEvents.push(outcome);
          if (status === 'STOPPED')
            log?.info('task stopped', { task: task.id, exitCode: task.exitCode, signal: task.signal, routesPurged: outcome.routesPurged });
        })
        .catch((err) => log?.error('task event failed', { task: task.id, error: (err as Error).message }));
      return eventChain;
    };

    const fleet = new LocalTaskFleet({
      ...ingestSettings.toEnv({
        tableName,
        dynamoEndpoint: dynamo.endpoint,
        segmentSeconds,
        ...(opts.playlistSize !== undefined ? { playlistSize: opts.playlistSize } : {}),
        hlsDir: hlsRoot,
        drainSeconds: 10,
        // The local balancer, like the NLB without client IP preservation, makes every publisher 127.0.0.1:
        // a shorter key-guessing backoff than AWS's default, so a few typos do not lock `npm start` out for long.
        authBackoffSeconds: 60,
        logLevel,
        recordingBucket: LOCAL_RECORDING_BUCKET,
        s3Endpoint: s3.endpoint,
        // Each task its own spool (the recorder names its files uniquely, but a task's spool is its own disk).
        recordingSpoolDir: join(hlsRoot, 'recording-spool'),
      }),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...opts.taskEnv,
    });
    fleet.on('running', (task: LocalTask) => void feed(task, 'RUNNING'));
    fleet.on('stopped', (task: LocalTask) => {
      void feed(task, 'STOPPED');
      // A task of an older deployment that exits has been replaced already (rollTasks), as on ECS.
      if (!stopping && opts.replaceDeadTasks !== false && task.deploymentId === fleet.deploymentId) {
        log?.warn('task exited; starting a replacement', { task: task.id, exitCode: task.exitCode, signal: task.signal });
        setTimeout(() => {
          if (!stopping) fleet.start().catch((err) => log?.error('replacement task failed to start', { error: (err as Error).message }));
        }, 500).unref();
      }
    });
    if (opts.onTaskLog) fleet.on('log', opts.onTaskLog);
    // Runs after the fleet has stopped (cleanups run in reverse): the last STOPPED events reach the table.
    cleanups.push(() => eventChain);
    cleanups.push(() => fleet.stopAll('SIGTERM'));
    await Promise.all(Array.from({ length: Math.max(1, opts.tasks ?? 1) }, () => fleet.start()));

    const balancer = await startTcpBalancer({
      port: opts.rtmpPort ?? 1935,
      host,
      backends: () => fleet.serving().map((t) => ({ id: t.id, host: '127.0.0.1', port: t.rtmpPort! })),
    });
    cleanups.push(() => balancer.close());

    const playbackSecret =
      opts.playbackSecret ?? localSettings.load().playbackSecret ?? (await ensureLocalPlaybackSecret(opts.stateDir ?? stateDir()));
    const origin = await loadLocalFunction(
      'origin',
      originSettings.toEnv({
        tableName,
        dynamoEndpoint: dynamo.endpoint,
        segmentSeconds,
        // Local tasks serve HLS on loopback, on ports the OS picks: the upstream guard allows exactly that.
        upstreamCidrs: '127.0.0.0/8',
        upstreamPorts: '1024-65535',
        playbackSecret,
        logLevel: functionLogLevel,
        // Locally the origin serves recordings too (no CloudFront to send segments straight to S3).
        recordingBucket: LOCAL_RECORDING_BUCKET,
        s3Endpoint: s3.endpoint,
      }),
      { metrics },
    );
    const provisional: StackUrls = { rtmpUrl: `rtmp://${host}:${balancer.port}/live`, playbackBaseUrl: '' };
    let routes: FunctionUrlHandler | undefined;
    const http = await startFunctionUrlServer({
      port: opts.httpPort ?? 8080,
      host,
      functionName: 'keyframe-local-origin',
      handler: (event, context, callback) => (routes ? routes(event, context, callback) : origin(event)),
      onError: (err) => log?.error('origin handler failed', { error: (err as Error).message }),
    });
    cleanups.push(() => http.close());
    const urls: StackUrls = { ...provisional, playbackBaseUrl: http.url, playerBaseUrl: opts.httpRoutes ? http.url : undefined };
    const extra = opts.httpRoutes?.({ store, urls });
    if (extra) {
      routes = async (event, context, callback) => (await extra(event, context, callback)) ?? origin(event);
    }

    return {
      rtmpUrl: urls.rtmpUrl,
      httpUrl: http.url,
      dynamoEndpoint: dynamo.endpoint,
      tableName,
      store,
      fleet,
      urls,
      taskEvents,
      playbackSecret,
      metrics,
      s3,
      recordingBucket: LOCAL_RECORDING_BUCKET,
      createChannel: (name, channelOpts) => createKey(store, urls, name, channelOpts),
      startTask: () => fleet.start(),
      async rollTasks(rollOpts = {}) {
        const superseded = fleet.list().filter((t) => t.status !== 'STOPPED');
        const count = Math.max(1, rollOpts.tasks ?? superseded.length);
        const deploymentId = fleet.beginDeployment(count);
        log?.info('rolling the fleet', { deploymentId, tasks: count, superseded: superseded.map((t) => t.id) });
        const started = await Promise.all(Array.from({ length: count }, () => fleet.start()));
        return { deploymentId, started, superseded };
      },
      async stop() {
        stopping = true;
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    stopping = true;
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw err;
  }
}

/** The local playback secret: `<dir>/playback-secret`, created once (atomically, mode 600) if missing. */
export async function ensureLocalPlaybackSecret(dir: string): Promise<string> {
  const file = join(dir, 'playback-secret');
  const existing = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
  if (existing && existing.length >= 32) return existing;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  try {
    // link() fails if another process created it first; theirs wins and both read the same secret.
    await link(tmp, file).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      if ((await readFile(file, 'utf8').catch(() => '')).trim().length < 32) {
        // An old, broken file: replace it.
        await rm(file, { force: true });
        await link(tmp, file);
      }
    });
  } finally {
    await rm(tmp, { force: true });
  }
  return (await readFile(file, 'utf8')).trim();
}
