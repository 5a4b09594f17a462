import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { hashStreamKey } from '../core/model';
import { createKey, playbackUrl, playerUrl } from '../core/channels';
import { localSettings } from '../core/settings/local';
import { ConfigError, inheritedEnvironment, quietAwsSdkVersionWarning } from '../core/settings/schema';
import { startLocalStack, type LocalStack } from './stack';
import { clearLocalState, isProcessAlive, readLocalState, stateDir, writeLocalState } from './state';
import type { LocalTask } from './tasks';

/**
 * `npm start`: the local stack in the foreground, with a readable log. Ctrl-C drains the tasks and stops.
 * Flags: --tasks N (or KEYFRAME_TASKS), --rtmp-port, --http-port, --segment-seconds, --memory (no persistence),
 * --verbose (raw JSON logs).
 */
quietAwsSdkVersionWarning();

let USE_COLOR = process.stdout.isTTY;
const c = (code: string, s: string) => (USE_COLOR ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string) => c('1', s);
const dim = (s: string) => c('2', s);
const green = (s: string) => c('32', s);
const yellow = (s: string) => c('33', s);
const red = (s: string) => c('31', s);

const HIDDEN = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate', 'xray_trace_id', 'function_request_id']);

/** One JSON log line of a task → one short human line. Non-JSON lines pass through. */
export function formatTaskLine(task: string, line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return `${dim(task)} ${line}`;
  }
  const level = String(rec.level ?? 'INFO');
  const colour = level === 'ERROR' ? red : level === 'WARN' ? yellow : (s: string) => s;
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${dim(task)} ${colour(String(rec.message ?? ''))} ${dim(fields)}`;
}

async function checkFfmpeg(path: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(path, ['-hide_banner', '-version'], { timeout: 10_000 });
    return stdout.split('\n')[0];
  } catch {
    throw new Error(
      `ffmpeg was not found at "${path}". Install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg) or set KEYFRAME_FFMPEG_PATH.`,
    );
  }
}

/** The demo channel's key is kept in .keyframe/demo-key (mode 600) so each start can print it again. */
async function ensureDemoChannel(stack: LocalStack, dir: string): Promise<{ streamKey: string; playbackId: string }> {
  const keyFile = join(dir, 'demo-key');
  try {
    const saved = JSON.parse(await readFile(keyFile, 'utf8')) as { streamKey: string; playbackId: string };
    const channel = await stack.store.getChannelByKeyHash(hashStreamKey(saved.streamKey));
    if (channel?.state === 'active') return saved;
  } catch {
    // First start, or the saved key no longer matches a channel.
  }
  const existing = (await stack.store.listChannels()).find((ch) => ch.name === 'demo' && ch.state === 'active');
  if (existing) await stack.store.revokeChannel(existing.playbackId);
  const created = await createKey(stack.store, stack.urls, 'demo');
  await mkdir(dir, { recursive: true });
  await writeFile(keyFile, JSON.stringify({ streamKey: created.streamKey, playbackId: created.playbackId }));
  await chmod(keyFile, 0o600);
  return created;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string' },
      'rtmp-port': { type: 'string' },
      'http-port': { type: 'string' },
      'segment-seconds': { type: 'string' },
      memory: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`Usage: npm start -- [--tasks N] [--rtmp-port 1935] [--http-port 8080] [--segment-seconds 1] [--memory] [--verbose]`);
    return;
  }
  // Flags override the environment; both are validated by the local settings schema (core/settings/local.ts).
  const flags: Record<string, [string, string | undefined]> = {
    KEYFRAME_TASKS: ['--tasks', values.tasks],
    KEYFRAME_LOCAL_RTMP_PORT: ['--rtmp-port', values['rtmp-port']],
    KEYFRAME_LOCAL_HTTP_PORT: ['--http-port', values['http-port']],
    KEYFRAME_SEGMENT_SECONDS: ['--segment-seconds', values['segment-seconds']],
  };
  const env = inheritedEnvironment();
  for (const [name, [, value]] of Object.entries(flags)) if (value !== undefined) env[name] = value;
  let settings: ReturnType<typeof localSettings.load>;
  try {
    settings = localSettings.load(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flag = Object.entries(flags).find(([name, [, v]]) => v !== undefined && err.message.startsWith(name));
    throw new ConfigError(flag ? err.message.replace(flag[0], flag[1][0]) : err.message);
  }
  const { tasks, rtmpPort, httpPort, segmentSeconds } = settings;
  USE_COLOR = USE_COLOR && settings.noColor === undefined;

  const dir = stateDir(settings.stateDir);
  const running = await readLocalState(dir);
  if (running && running.pid !== process.pid && isProcessAlive(running.pid)) {
    throw new Error(`a local stack is already running (pid ${running.pid}, ${running.rtmpUrl}); stop it first`);
  }

  const ffmpegPath = settings.ffmpegPath;
  const step = (s: string) => process.stdout.write(`${dim('›')} ${s}\n`);
  step(`ffmpeg: ${await checkFfmpeg(ffmpegPath)}`);
  step(
    `starting the embedded DynamoDB and S3 (${values.memory ? 'in memory' : `data in ${join(dir, 'db')} and ${join(dir, 's3')}`}), ${tasks} ingest task(s), balancer and origin…`,
  );
  if (!values.memory) await mkdir(join(dir, 'db'), { recursive: true });

  const { createPlayerRoutes } = await import('./player-routes');
  const stack = await startLocalStack({
    httpRoutes: createPlayerRoutes,
    stateDir: dir,
    logLevel: settings.logLevel,
    // One JSON line per origin request would drown the task lines; --verbose shows them.
    functionLogLevel: values.verbose ? settings.logLevel : 'WARN',
    ...(settings.playbackSecret ? { playbackSecret: settings.playbackSecret } : {}),
    tasks,
    rtmpPort,
    httpPort,
    segmentSeconds,
    dynamoPath: values.memory ? undefined : join(dir, 'db'),
    s3Path: values.memory ? undefined : join(dir, 's3'),
    logger: {
      info: (m: string, a?: Record<string, unknown>) => console.log(formatTaskLine('stack ', JSON.stringify({ message: m, ...a }))),
      warn: (m: string, a?: Record<string, unknown>) => console.log(formatTaskLine('stack ', JSON.stringify({ level: 'WARN', message: m, ...a }))),
      error: (m: string, a?: Record<string, unknown>) => console.log(formatTaskLine('stack ', JSON.stringify({ level: 'ERROR', message: m, ...a }))),
    } as never,
    onTaskLog: (task: LocalTask, line: string) => console.log(values.verbose ? `${task.id} ${line}` : formatTaskLine(task.id, line)),
  });

  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: stack.dynamoEndpoint,
    tableName: stack.tableName,
    rtmpUrl: stack.rtmpUrl,
    playbackBaseUrl: stack.urls.playbackBaseUrl,
    playerBaseUrl: stack.urls.playerBaseUrl,
    recordingBucket: stack.recordingBucket,
    s3Endpoint: stack.s3.endpoint,
  });
  const demo = await ensureDemoChannel(stack, dir);
  const player = playerUrl(stack.urls, demo.playbackId);

  console.log(
    [
      '',
      green(bold('Keyframe is running locally.')),
      '',
      bold('Stream from OBS') + dim(' (Settings → Stream → Service: Custom)'),
      `  Server      ${bold(stack.rtmpUrl)}`,
      `  Stream Key  ${bold(demo.streamKey)}`,
      '',
      bold('Or from ffmpeg'),
      `  ffmpeg -re -f lavfi -i testsrc=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \\`,
      `    -c:v libx264 -preset veryfast -tune zerolatency -g 60 -c:a aac -f flv ${stack.rtmpUrl}/${demo.streamKey}`,
      '',
      bold('Watch'),
      `  Playback URL  ${playbackUrl(stack.urls, demo.playbackId)}`,
      ...(player ? [`  Player        ${player}`, `  All streams   ${stack.httpUrl}/`] : []),
      '',
      bold('Channels'),
      `  npx keyframe keys create <name>    npx keyframe keys list    npx keyframe keys revoke <name>`,
      `  npx keyframe keys update <name> --record    npx keyframe recordings list    npx keyframe status`,
      '',
      dim(
        `Ingest tasks: ${stack.fleet
          .list()
          .map((t) => t.id)
          .join(', ')}. Ctrl-C to stop.`,
      ),
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    step(`${signal}: draining ingest tasks and stopping…`);
    await stack.stop();
    await clearLocalState(dir, process.pid);
    step('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(red(`keyframe: ${err.message}`));
  process.exit(1);
});
