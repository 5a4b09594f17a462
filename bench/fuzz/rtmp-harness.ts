/**
 * The RTMP fuzz harness: a real local stack (dynalite, one ingest process, balancer, origin), a real ffmpeg
 * publisher streaming through it, and thousands of hostile connections at the ingest task's RTMP port.
 *
 * What it checks, and reports as findings when it does not hold:
 * - the ingest process never dies (same pid, still running, health endpoint answers);
 * - its RSS and open file descriptors return near their baseline once the hostile connections are gone;
 * - the honest stream's segments keep arriving through the origin, no gap over 2 × the segment duration;
 * - every hostile connection is closed by the server (those that wait for it), and every hostile session
 *   has exactly one closing log line (at debug or above);
 * - no log line names a stream key (the honest one, its hash, or any key a case sent), and nothing is
 *   logged at error level.
 *
 * Each category connects from its own loopback address (127.77.<category>.<worker>), so log lines, which
 * carry the remote address, can be matched to categories, and per-IP caps and the key-guessing throttle
 * see many sources as they would on the internet.
 */
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hashStreamKey } from '../../core/model';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { LocalTask } from '../../local/tasks';
import { startPublisher, type Publisher } from '../../test/support/media';
import { CATEGORIES, makeCase, type Category, type FuzzCase } from './rtmp-cases';

export interface RtmpFuzzOptions {
  readonly cases: number;
  readonly seed: number;
  /** Connections in flight at once. */
  readonly concurrency: number;
  readonly segmentSeconds?: number;
  /** RSS growth tolerated after the run over the baseline taken before any hostile connection, MB. */
  readonly rssToleranceMb?: number;
  /**
   * RSS growth tolerated after the run over the RSS once the first 10% of the cases ran (the heap has grown
   * to its working size by then: more growth means a leak), MB.
   */
  readonly leakToleranceMb?: number;
  /** Open file descriptors tolerated above the baseline after the run. */
  readonly fdTolerance?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CategoryStats {
  cases: number;
  closedByServer: number;
  closedByClient: number;
  /** 'wait' cases the server did not close in time: findings. */
  notClosed: number;
  refusedAtAccept: number;
  bytesSent: number;
  maxMs: number;
}

export interface RtmpFuzzReport {
  readonly cases: number;
  readonly seed: number;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly categories: Record<Category, CategoryStats>;
  readonly rssMb: { readonly before: number; readonly warm: number; readonly peak: number; readonly after: number };
  readonly fds: { readonly before: number; readonly peak: number; readonly after: number };
  readonly segments: { readonly seen: number; readonly maxGapMs: number; readonly limitMs: number };
  readonly logs: {
    readonly lines: number;
    readonly hostileSessions: number;
    readonly refusedAtAccept: number;
    readonly sessionsWithoutOneClosingLine: number;
    readonly closingLines: Record<string, number>;
    readonly errorLines: number;
    readonly keyMatches: number;
  };
  readonly ingest: { readonly pid: number; readonly alive: boolean; readonly connectionsAfter: number };
  readonly findings: string[];
}

/** Messages that end a session: each hostile session must have exactly one of them. */
export const CLOSING_MESSAGES = new Set([
  'rtmp protocol violation',
  'rtmp session failed',
  'rtmp handshake timeout',
  'rtmp publish start timeout',
  'rtmp media idle timeout',
  'rtmp session closed by the server',
  'rtmp connect rejected: unknown application',
  'rtmp publish rejected',
  'rtmp publish rejected: missing or overlong stream key',
  'rtmp play refused',
  'rtmp connection closed by peer',
  'rtmp publish ended',
]);

const HOSTILE_PREFIX = '127.77.';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Conditions re-checked whenever something they depend on happens (`notify()`, e.g. on every task log line),
 * instead of after a fixed pause. `until` resolves true as soon as `check()` holds, false at the deadline.
 */
class Signal {
  #waiters = new Set<() => void>();

  notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(ok);
      };
      const waiter = () => {
        if (check()) finish(true);
      };
      const timer = setTimeout(() => finish(check()), timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

interface LogLine {
  readonly raw: string;
  readonly rec?: Record<string, unknown>;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function health(port: number): Promise<{ connections: number } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as { connections: number };
  } catch {
    return undefined;
  }
}

/** Plays one case against `port` from `localAddress`; resolves when the connection is gone. */
function play(
  c: FuzzCase,
  port: number,
  localAddress: string,
  waitLimitMs: number,
): Promise<{ closedBy: 'server' | 'client'; ms: number; bytes: number; notClosed: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let bytes = 0;
    let serverClosed = false;
    let clientClosing = false;
    let settled = false;
    const socket = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    const timers: NodeJS.Timeout[] = [];
    const done = (notClosed = false) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      resolve({ closedBy: serverClosed ? 'server' : 'client', ms: Date.now() - started, bytes, notClosed });
    };
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('end', () => {
      if (!clientClosing) serverClosed = true;
    });
    socket.on('close', () => {
      if (!clientClosing) serverClosed = true;
      done();
    });
    socket.on('connect', async () => {
      for (const step of c.steps) {
        if (socket.destroyed || serverClosed) break;
        if (step.bytes && step.bytes.length > 0) {
          socket.write(step.bytes);
          bytes += step.bytes.length;
        }
        if (step.delayMs) await sleep(step.delayMs);
      }
      if (settled || serverClosed) return;
      if (c.finish === 'wait') {
        timers.push(setTimeout(() => done(true), waitLimitMs));
        return;
      }
      clientClosing = true;
      if (c.finish === 'end') {
        socket.end();
        timers.push(setTimeout(() => done(), 3000));
      } else {
        socket.resetAndDestroy();
      }
    });
  });
}

function emptyStats(): CategoryStats {
  return { cases: 0, closedByServer: 0, closedByClient: 0, notClosed: 0, refusedAtAccept: 0, bytesSent: 0, maxMs: 0 };
}

export async function runRtmpFuzz(opts: RtmpFuzzOptions): Promise<RtmpFuzzReport> {
  const segmentSeconds = opts.segmentSeconds ?? 1;
  const handshakeTimeoutMs = 1000;
  const publishTimeoutMs = 2000;
  const findings: string[] = [];
  const lines: LogLine[] = [];
  /** Hostile sessions that have logged a closing line, and hostile connections refused at accept, as they are logged. */
  const closedHostile = new Set<string>();
  let refusedHostile = 0;
  const logged = new Signal();
  let stack: LocalStack | undefined;
  let publisher: Publisher | undefined;
  const started = Date.now();
  try {
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 1,
      segmentSeconds,
      replaceDeadTasks: false,
      playbackSecret: 'fuzz-playback-secret-not-used-0123456789',
      taskEnv: {
        KEYFRAME_LOG_LEVEL: 'DEBUG',
        KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS: String(handshakeTimeoutMs),
        KEYFRAME_RTMP_PUBLISH_TIMEOUT_MS: String(publishTimeoutMs),
        KEYFRAME_END_LINGER_SECONDS: '0',
      },
      onTaskLog: (_task: LocalTask, line: string) => {
        let rec: Record<string, unknown> | undefined;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          rec = undefined;
        }
        lines.push({ raw: line, rec });
        const remote = typeof rec?.remote === 'string' ? rec.remote : '';
        if (rec?.message === 'rtmp connection refused' && (remote === '' || remote.startsWith(HOSTILE_PREFIX))) refusedHostile++;
        else if (remote.startsWith(HOSTILE_PREFIX) && typeof rec?.session === 'string' && CLOSING_MESSAGES.has(String(rec.message))) {
          closedHostile.add(rec.session);
        }
        logged.notify();
      },
    });
    const task = stack.fleet.list()[0];
    const pid = task.pid!;
    const channel = await stack.createChannel('fuzz-honest');
    const honestKey = channel.streamKey;
    const secrets = new Set<string>([honestKey, hashStreamKey(honestKey)]);

    // The honest stream, and a watcher that notes when each new segment first shows up at the origin.
    publisher = startPublisher({ url: channel.publishUrl, gopSeconds: segmentSeconds });
    const firstSeen = new Map<string, number>();
    let watching = true;
    const seen = new Signal();
    // Polling is what a player does (HLS has no push); the 100 ms interval is the resolution of the gap check.
    const watcher = (async () => {
      while (watching) {
        try {
          const res = await fetch(channel.playbackUrl, { signal: AbortSignal.timeout(2000) });
          if (res.status === 200) {
            for (const l of (await res.text()).split('\n')) {
              const uri = l.trim();
              if (uri && !uri.startsWith('#') && !firstSeen.has(uri)) firstSeen.set(uri, Date.now());
            }
            seen.notify();
          }
        } catch {
          // counted as a gap if it lasts
        }
        await sleep(100);
      }
    })();
    if (!(await seen.until(() => firstSeen.size >= 3, 20_000))) {
      throw new Error(`the honest stream never became playable (${firstSeen.size} segments in 20 s)`);
    }
    const honestSession = lines.find((l) => l.rec?.message === 'rtmp publish started')?.rec?.session;

    // The baseline: the honest stream is playable, no hostile connection has been made yet.
    const before = { rss: await rssMb(pid), fds: await fdCount(pid) };
    let peak = { ...before };
    const sampler = setInterval(() => {
      void Promise.all([rssMb(pid), fdCount(pid)]).then(
        ([rss, fds]) => (peak = { rss: Math.max(peak.rss, rss), fds: Math.max(peak.fds, fds) }),
        () => undefined,
      );
    }, 250);
    const fuzzStart = Date.now();

    // The cases, `concurrency` at a time.
    const categories = Object.fromEntries(CATEGORIES.map((c) => [c, emptyStats()])) as Record<Category, CategoryStats>;
    let next = 0;
    let done = 0;
    const warmAt = Math.max(1, Math.floor(opts.cases / 10));
    let warm: Promise<number> | undefined;
    const waitLimitMs = publishTimeoutMs + 3000;
    const worker = async (w: number) => {
      for (;;) {
        const id = next++;
        if (id >= opts.cases) return;
        const c = makeCase(opts.seed, id, { honestKey });
        for (const s of c.secrets) if (s.length >= 16) secrets.add(s);
        const ci = CATEGORIES.indexOf(c.category);
        const r = await play(c, task.rtmpPort!, `${HOSTILE_PREFIX}${ci + 1}.${(w % 250) + 1}`, waitLimitMs);
        const st = categories[c.category];
        st.cases++;
        st.bytesSent += r.bytes;
        st.maxMs = Math.max(st.maxMs, r.ms);
        if (r.notClosed) {
          st.notClosed++;
          if (st.notClosed <= 3) findings.push(`case ${id} (${c.category}: ${c.label}) was not closed by the server within ${waitLimitMs} ms`);
        } else if (r.closedBy === 'server') st.closedByServer++;
        else st.closedByClient++;
        done++;
        if (done === warmAt) warm = rssMb(pid);
        if (done % 100 === 0) opts.onProgress?.(done, opts.cases);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
    const fuzzMs = Date.now() - fuzzStart;

    // Settle: every hostile session has logged its closing line (or was refused at accept), the ingest reports
    // only the honest connection; then measure. Either wait ends at its deadline, and the checks below report it.
    await logged.until(() => closedHostile.size + refusedHostile >= opts.cases, 10_000);
    const settleDeadline = Date.now() + 5_000;
    let connectionsAfter = (await health(task.healthPort!))?.connections ?? -1;
    while (connectionsAfter !== 1 && Date.now() < settleDeadline) {
      await sleep(100); // the health endpoint is polled: the task is another process, its count has no event here
      connectionsAfter = (await health(task.healthPort!))?.connections ?? -1;
    }
    clearInterval(sampler);
    const after = { rss: await rssMb(pid), fds: await fdCount(pid) };
    const warmRss = (await warm) ?? before.rss;
    watching = false;
    await watcher;

    // Segments kept coming while the fuzz ran (and a little after).
    const times = [...firstSeen.values()].filter((t) => t >= fuzzStart - segmentSeconds * 1000).sort((a, b) => a - b);
    let maxGapMs = 0;
    for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i] - times[i - 1]);
    const limitMs = 2 * segmentSeconds * 1000;
    const expected = Math.floor(fuzzMs / (segmentSeconds * 1000)) - 1;
    if (maxGapMs > limitMs) findings.push(`the honest stream had a ${maxGapMs} ms gap between new segments (limit ${limitMs} ms)`);
    if (times.length < expected) findings.push(`only ${times.length} new segments in ${fuzzMs} ms of fuzzing (expected ≥ ${expected})`);

    // The process.
    const now = stack.fleet.get(task.id);
    const alive = now?.status === 'RUNNING' && now.pid === pid;
    if (!alive) findings.push(`the ingest process died (status ${now?.status}, exit ${now?.exitCode}, signal ${now?.signal})`);
    if (connectionsAfter !== 1)
      findings.push(`the ingest reports ${connectionsAfter} open connections after the run (expected 1, the honest publisher)`);
    const rssTolerance = opts.rssToleranceMb ?? 48;
    const fdTolerance = opts.fdTolerance ?? 4;
    if (after.rss > before.rss + rssTolerance) findings.push(`RSS grew from ${before.rss} MB to ${after.rss} MB (tolerance ${rssTolerance} MB)`);
    const leakTolerance = opts.leakToleranceMb ?? 24;
    if (after.rss > warmRss + leakTolerance) {
      findings.push(
        `RSS kept growing after the first ${warmAt} cases: ${warmRss} MB then, ${after.rss} MB after the run (tolerance ${leakTolerance} MB)`,
      );
    }
    if (after.fds > before.fds + fdTolerance)
      findings.push(`open file descriptors went from ${before.fds} to ${after.fds} (tolerance ${fdTolerance})`);

    // The logs.
    const closing = new Map<string, number>();
    const closingLines: Record<string, number> = {};
    let refusedAtAccept = 0;
    let errorLines = 0;
    let keyMatches = 0;
    const hostileSessions = new Set<string>();
    for (const l of lines) {
      for (const s of secrets) {
        if (l.raw.includes(s)) {
          keyMatches++;
          if (keyMatches <= 3) findings.push(`a log line contains a stream key or its hash: ${l.raw.slice(0, 300)}`);
        }
      }
      const rec = l.rec;
      if (!rec) continue;
      if (String(rec.level).toUpperCase() === 'ERROR') {
        errorLines++;
        if (errorLines <= 3) findings.push(`error logged: ${l.raw.slice(0, 300)}`);
      }
      const remote = typeof rec.remote === 'string' ? rec.remote : '';
      if (rec.message === 'rtmp connection refused' && (remote === '' || remote.startsWith(HOSTILE_PREFIX))) {
        // A connection reset before it was accepted has no address any more ('no address'): still ours.
        refusedAtAccept++;
        const ci = Number(remote.split('.')[2]) - 1;
        if (CATEGORIES[ci]) categories[CATEGORIES[ci]].refusedAtAccept++;
        continue;
      }
      if (!remote.startsWith(HOSTILE_PREFIX)) continue;
      const session = typeof rec.session === 'string' ? rec.session : undefined;
      if (!session || session === honestSession) continue;
      hostileSessions.add(session);
      if (CLOSING_MESSAGES.has(String(rec.message))) {
        closing.set(session, (closing.get(session) ?? 0) + 1);
        closingLines[String(rec.message)] = (closingLines[String(rec.message)] ?? 0) + 1;
      }
    }
    let badSessions = 0;
    for (const s of hostileSessions) {
      const n = closing.get(s) ?? 0;
      if (n !== 1) {
        badSessions++;
        if (badSessions <= 3)
          findings.push(
            `session ${s} has ${n} closing log lines (expected 1): ${lines
              .filter((l) => l.rec?.session === s)
              .map((l) => l.rec?.message)
              .join(' | ')}`,
          );
      }
    }
    if (hostileSessions.size + refusedAtAccept !== opts.cases) {
      findings.push(`${opts.cases} hostile connections, but ${hostileSessions.size} sessions logged + ${refusedAtAccept} refused at accept`);
    }

    return {
      cases: opts.cases,
      seed: opts.seed,
      concurrency: opts.concurrency,
      durationMs: Date.now() - started,
      categories,
      rssMb: { before: before.rss, warm: warmRss, peak: peak.rss, after: after.rss },
      fds: { before: before.fds, peak: peak.fds, after: after.fds },
      segments: { seen: times.length, maxGapMs, limitMs },
      logs: {
        lines: lines.length,
        hostileSessions: hostileSessions.size,
        refusedAtAccept,
        sessionsWithoutOneClosingLine: badSessions,
        closingLines,
        errorLines,
        keyMatches,
      },
      ingest: { pid, alive, connectionsAfter },
      findings,
    };
  } finally {
    await publisher?.stop().catch(() => undefined);
    await stack?.stop();
  }
}

/** The human report: a table per category, then the checks. */
export function formatReport(r: RtmpFuzzReport): string {
  const rows = Object.entries(r.categories).map(
    ([name, s]) =>
      `  ${name.padEnd(24)} ${String(s.cases).padStart(6)} ${String(s.closedByServer).padStart(8)} ${String(s.closedByClient).padStart(8)} ${String(s.notClosed).padStart(10)} ${String(s.refusedAtAccept).padStart(8)} ${String(s.maxMs).padStart(7)}`,
  );
  return [
    `RTMP fuzz: ${r.cases} cases, seed ${r.seed}, ${r.concurrency} at a time, ${(r.durationMs / 1000).toFixed(1)} s`,
    '',
    `  ${'category'.padEnd(24)} ${'cases'.padStart(6)} ${'server'.padStart(8)} ${'client'.padStart(8)} ${'not closed'.padStart(10)} ${'refused'.padStart(8)} ${'max ms'.padStart(7)}`,
    ...rows,
    '',
    `  ingest pid ${r.ingest.pid}: ${r.ingest.alive ? 'alive' : 'DEAD'}, ${r.ingest.connectionsAfter} connection(s) after the run`,
    `  RSS ${r.rssMb.before} MB before, ${r.rssMb.warm} MB after the first 10% of cases, ${r.rssMb.peak} MB peak, ${r.rssMb.after} MB after`,
    `  open fds ${r.fds.before} before, ${r.fds.peak} peak, ${r.fds.after} after`,
    `  honest stream: ${r.segments.seen} new segments, largest gap ${r.segments.maxGapMs} ms (limit ${r.segments.limitMs} ms)`,
    `  logs: ${r.logs.lines} lines, ${r.logs.hostileSessions} hostile sessions (+${r.logs.refusedAtAccept} refused at accept), ` +
      `${r.logs.sessionsWithoutOneClosingLine} without exactly one closing line, ${r.logs.errorLines} error lines, ${r.logs.keyMatches} key matches`,
    `  closing lines: ${Object.entries(r.logs.closingLines)
      .map(([m, n]) => `${m} ×${n}`)
      .join(', ')}`,
    '',
    r.findings.length === 0 ? 'All checks passed.' : `FINDINGS:\n${r.findings.map((f) => `  - ${f}`).join('\n')}`,
  ].join('\n');
}
