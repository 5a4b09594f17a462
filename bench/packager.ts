/**
 * Micro-benchmark of the packager's hot path: a synthetic 3 Mbit/s 30 fps H.264 (2 B-frames) + AAC 48 kHz feed
 * (2 s GOP) from the packager tests' synthesizer, pushed tag by tag into `ingest/packager` with output callbacks
 * that only count bytes and objects. Reports CPU µs per tag (process.cpuUsage, so a busy machine inflates it less
 * than wall time), MB/s, and the share of one core a real-time stream costs, median over rounds after a warm-up.
 * It measures the packager alone: no sockets, no RTMP parsing, no HTTP (bench/ingest-density.ts has the whole
 * ingest).
 *
 *   npx tsx bench/packager.ts [--seconds 120] [--rounds 5] [--warmup 3] [--segments 1] [--smoke] [--json out.json]
 */
import { Packager } from '../ingest/packager/index.js';
import { feed } from '../test/ingest/packager/support/synth.js';
import { finish, machineInfo, parseArgs, table } from './lib/cli';
import { median, round } from './lib/stats';

const args = parseArgs();
const smoke = args.smoke;
const seconds = args.number('seconds', smoke ? 10 : 120);
const rounds = Math.max(1, args.number('rounds', smoke ? 3 : 5));
const segmentSeconds = args.number('segments', 1);
/** Rounds run first and not counted: the JIT keeps optimizing over the first few. */
const warmups = Math.max(0, args.number('warmup', smoke ? 1 : 3));
const machine = machineInfo();
const messages = feed({ seconds, video: { fps: 30, gopFrames: 60, bitrate: 3_000_000, bframes: 2 }, audio: { sampleRate: 48000 } });
const inputBytes = messages.reduce((n, m) => n + m.payload.length, 0);

interface Round {
  readonly cpuMs: number;
  readonly outBytes: number;
  readonly segments: number;
  readonly fragments: number;
  readonly playlists: number;
}

function once(): Round {
  let now = 1_750_000_000_000;
  let outBytes = 0;
  let segments = 0;
  let fragments = 0;
  let playlists = 0;
  const p = new Packager({
    session: 'benchsessn',
    mediaSequenceBase: 0,
    discontinuitySequenceBase: 0,
    segmentSeconds,
    now: () => now,
    onFragment: () => {
      fragments++;
    },
    onSegment: (s) => {
      outBytes += s.byteLength;
      segments++;
    },
    onPlaylist: () => {
      playlists++;
    },
  });
  const start = process.cpuUsage();
  for (const m of messages) {
    now = 1_750_000_000_000 + m.mediaMs;
    const err = p.push(m.type, m.timestamp, m.payload);
    if (err) throw err;
  }
  p.end();
  const cpu = process.cpuUsage(start);
  return { cpuMs: (cpu.user + cpu.system) / 1000, outBytes, segments, fragments, playlists };
}

for (let i = 0; i < warmups; i++) once();
const all = Array.from({ length: rounds }, once);
const cpuMs = median(all.map((r) => r.cpuMs));
const last = all[all.length - 1];
const usPerTag = (cpuMs * 1000) / messages.length;
const coreSharePct = (cpuMs / (seconds * 1000)) * 100;
const mbPerSecond = inputBytes / 1e6 / (cpuMs / 1000);
const results = {
  seconds,
  rounds,
  warmups,
  segmentSeconds,
  tags: messages.length,
  inputBytes,
  outputBytes: last.outBytes,
  segments: last.segments,
  fragments: last.fragments,
  playlists: last.playlists,
  cpuMsPerRound: all.map((r) => round(r.cpuMs, 1)),
  cpuMsMedian: round(cpuMs, 1),
  usPerTag: round(usPerTag, 2),
  mbPerSecond: round(mbPerSecond, 0),
  coreSharePctPerStream: round(coreSharePct, 3),
  node: process.version,
  arch: process.arch,
};
const mb = (n: number) => (n / 1e6).toFixed(1);
const report = [
  `Synthetic 3 Mbit/s 30 fps H.264 (2 B-frames, 2 s GOP) + AAC 48 kHz, ${seconds} s of media, ${segmentSeconds} s segments; ` +
    `${messages.length} tags, ${mb(inputBytes)} MB in, ${mb(last.outBytes)} MB out in ${last.segments} segments (${last.fragments} fragments).`,
  '',
  table(
    ['rounds', 'CPU ms (median)', 'µs per tag', 'MB/s', '% of one core per real-time stream'],
    [[rounds, results.cpuMsMedian, `**${results.usPerTag}**`, results.mbPerSecond, `**${results.coreSharePctPerStream}**`]],
  ),
  '',
  `${process.version}, ${process.arch}; CPU time of this process (user + system) per round, after ${warmups} warm-up round(s): ` +
    `${results.cpuMsPerRound.join(', ')} ms.`,
].join('\n');
finish(args, 'packager', machine, results, report);
