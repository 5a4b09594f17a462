import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { EventLog, withDeadline } from './wait';

/**
 * Third-party players and publishers for the client tests (test/e2e/ll-clients.test.ts): a check that each is
 * installed, which FAILS naming the Debian package to install, and bounded child processes whose output lines a test
 * can wait on.
 */

/** The Debian package of each command the client tests run (.ci/run installs them). */
const COMMAND_PACKAGES: Record<string, string> = {
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffmpeg',
  'gst-launch-1.0': 'gstreamer1.0-tools',
  'gst-inspect-1.0': 'gstreamer1.0-tools',
  // vlc-bin alone has no demuxers, decoders or dummy outputs: they are in vlc-plugin-base.
  cvlc: 'vlc-bin vlc-plugin-base',
};

/** The Debian package (Debian 12, GStreamer 1.22) of each GStreamer element the client tests use. */
const GST_ELEMENT_PACKAGES: Record<string, string> = {
  playbin: 'gstreamer1.0-plugins-base',
  playbin3: 'gstreamer1.0-plugins-base',
  videotestsrc: 'gstreamer1.0-plugins-base',
  audiotestsrc: 'gstreamer1.0-plugins-base',
  audioconvert: 'gstreamer1.0-plugins-base',
  audioresample: 'gstreamer1.0-plugins-base',
  fakesink: 'libgstreamer1.0-0',
  hlsdemux2: 'gstreamer1.0-plugins-good',
  qtdemux: 'gstreamer1.0-plugins-good',
  souphttpsrc: 'gstreamer1.0-plugins-good',
  flvmux: 'gstreamer1.0-plugins-good',
  aacparse: 'gstreamer1.0-plugins-good',
  hlsdemux: 'gstreamer1.0-plugins-bad',
  rtmpsink: 'gstreamer1.0-plugins-bad',
  h264parse: 'gstreamer1.0-plugins-bad',
  fpsdisplaysink: 'gstreamer1.0-plugins-bad',
  x264enc: 'gstreamer1.0-plugins-ugly',
  avdec_h264: 'gstreamer1.0-libav',
  avdec_aac: 'gstreamer1.0-libav',
  avenc_aac: 'gstreamer1.0-libav',
};

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const gstElementCache = new Map<string, boolean>();
function gstElementExists(element: string): boolean {
  let found = gstElementCache.get(element);
  if (found === undefined) {
    found = spawnSync('gst-inspect-1.0', ['--exists', element], { stdio: 'ignore', timeout: 15_000 }).status === 0;
    gstElementCache.set(element, found);
  }
  return found;
}

/** What is missing of the given commands and GStreamer elements, one line each naming its package; empty when all are there. */
export function missingTools(needs: { commands?: readonly string[]; gstElements?: readonly string[] }): string[] {
  const missing: string[] = [];
  const packages = new Set<string>();
  for (const c of needs.commands ?? []) {
    if (onPath(c)) continue;
    const pkg = COMMAND_PACKAGES[c] ?? c;
    missing.push(`command ${c} (Debian: ${pkg})`);
    for (const name of pkg.split(' ')) packages.add(name);
  }
  const gst = needs.gstElements ?? [];
  if (gst.length > 0 && !onPath('gst-inspect-1.0')) {
    if (!packages.has('gstreamer1.0-tools')) missing.push('command gst-inspect-1.0 (Debian: gstreamer1.0-tools)');
    packages.add('gstreamer1.0-tools');
    for (const e of gst) if (GST_ELEMENT_PACKAGES[e]) packages.add(GST_ELEMENT_PACKAGES[e]);
  } else {
    for (const e of gst) {
      if (gstElementExists(e)) continue;
      const pkg = GST_ELEMENT_PACKAGES[e];
      missing.push(`GStreamer element ${e} (Debian: ${pkg ?? 'a GStreamer plugin package'})`);
      if (pkg) packages.add(pkg);
    }
  }
  if (packages.size > 0) missing.push(`install: apt-get install --no-install-recommends ${[...packages].sort().join(' ')} (or run .ci/run)`);
  return missing;
}

/** Throws, naming what to install, unless every command and GStreamer element is there. A missing client fails its test. */
export function requireTools(what: string, needs: { commands?: readonly string[]; gstElements?: readonly string[] }): void {
  const missing = missingTools(needs);
  if (missing.length > 0) throw new Error(`${what} cannot run, missing:\n  ${missing.join('\n  ')}`);
}

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Every line of stdout and stderr, as it comes (stdout lines are `out: …`, stderr lines `err: …`). */
  readonly lines: EventLog<string>;
  /** Resolves on exit, after the output has been read to its end. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Writes to the child's stdin (spawned with `stdin: true`). */
  write(text: string): void;
  /** SIGTERM (or `signal`), then SIGKILL after 3 s; resolves on exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** The last lines, for failure messages. */
  tail(n?: number): string;
}

/**
 * A child process bounded by `deadlineMs`: it is SIGKILLed then, whatever the test is doing. Added to `children` so
 * that afterAll can stop what is left.
 */
export function startChild(
  children: Set<Child>,
  name: string,
  command: string,
  args: readonly string[],
  opts: { deadlineMs: number; stdin?: boolean; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; keepLine?: (line: string) => boolean },
): Child {
  const proc = spawn(command, args, {
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    uid: opts.uid,
    gid: opts.gid,
  });
  const lines = new EventLog<string>();
  const keep = opts.keepLine ?? (() => true);
  const all: string[] = [];
  const read = (stream: NodeJS.ReadableStream, prefix: string) =>
    new Promise<void>((resolve) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        rest += d;
        let i = rest.search(/[\r\n]/);
        while (i >= 0) {
          const line = rest.slice(0, i);
          rest = rest.slice(i + 1);
          if (line.trim() !== '') {
            all.push(`${prefix}${line}`);
            if (all.length > 200) all.shift();
            if (keep(line)) lines.push(`${prefix}${line}`);
          }
          i = rest.search(/[\r\n]/);
        }
      });
      stream.on('end', () => {
        if (rest.trim() !== '' && keep(rest)) lines.push(`${prefix}${rest}`);
        resolve();
      });
    });
  const outputs = Promise.all([read(proc.stdout!, 'out: '), read(proc.stderr!, 'err: ')]);
  proc.stdin?.on('error', () => {
    // the child may exit before it reads what was written
  });
  const exitedRaw = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    proc.once('error', (e) => reject(new Error(`${name}: ${command} could not start: ${e.message}`)));
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const exited = exitedRaw.then(async (r) => {
    await withDeadline(outputs, `${name}'s output to end`, 5000).catch(() => undefined);
    return r;
  });
  const killer = setTimeout(() => proc.kill('SIGKILL'), opts.deadlineMs);
  const child: Child = {
    name,
    proc,
    lines,
    exited,
    write(text) {
      if (proc.stdin && !proc.stdin.destroyed) proc.stdin.write(text);
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const hard = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited.catch(() => undefined);
        clearTimeout(hard);
      }
    },
    tail(n = 15) {
      return all.slice(-n).join('\n');
    },
  };
  void exited
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(killer);
      children.delete(child);
    });
  children.add(child);
  return child;
}

/** Stops every child still running (afterAll). */
export async function stopChildren(children: Set<Child>): Promise<void> {
  await Promise.all([...children].map((c) => c.stop('SIGKILL')));
}

/**
 * How to run a program that refuses root (VLC): as `nobody` with a fresh HOME when the tests run as root, else as
 * the current user with a fresh HOME. `cleanup` removes the HOME.
 */
export function unprivileged(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'keyframe-client-home-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') };
  const cleanup = () => rmSync(home, { recursive: true, force: true });
  if (process.getuid?.() !== 0) return { env, cleanup };
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'nobody');
  if (!entry) throw new Error('running as root, and there is no "nobody" user to run VLC as (cvlc refuses root)');
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  chownSync(home, uid, gid);
  return { uid, gid, env: { ...env, USER: 'nobody', LOGNAME: 'nobody' }, cleanup };
}
