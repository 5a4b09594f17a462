/**
 * Micro-benchmark of the packager's hot path: a synthetic 3 Mbit/s 30 fps H.264 + 128 kbit/s AAC feed (2 s GOP),
 * pushed tag by tag with output callbacks that only count bytes. Prints CPU µs per tag (process.cpuUsage, so a busy
 * machine inflates it less than wall time) and MB/s.
 *
 *   npx tsx bench/packager.ts [--seconds 120] [--rounds 5]
 */
import { Packager } from '../ingest/packager/index.js';
import { feed } from '../test/ingest/packager/support/synth.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const seconds = arg('seconds', 120);
const rounds = arg('rounds', 5);
const messages = feed({ seconds, video: { fps: 30, gopFrames: 60, bitrate: 3_000_000, bframes: 2 }, audio: { sampleRate: 48000 } });
const inputBytes = messages.reduce((n, m) => n + m.payload.length, 0);

function once(): { ms: number; out: number } {
  let now = 1_750_000_000_000;
  let out = 0;
  const p = new Packager({
    session: 'benchsessn',
    mediaSequenceBase: 0,
    discontinuitySequenceBase: 0,
    now: () => now,
    onSegment: (s) => {
      out += s.byteLength;
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
  return { ms: (cpu.user + cpu.system) / 1000, out };
}

once(); // warm-up
const runs = Array.from({ length: rounds }, once).sort((a, b) => a.ms - b.ms);
const median = runs[Math.floor(runs.length / 2)];
const usPerTag = (median.ms * 1000) / messages.length;
const cpuShare = (median.ms / (seconds * 1000)) * 100;
const mb = (n: number) => (n / 1e6).toFixed(1);
console.log(`packager: ${messages.length} tags, ${seconds} s of media, ${mb(inputBytes)} MB in, ${mb(median.out)} MB out`);
const mbPerSecond = (inputBytes / 1e6 / (median.ms / 1000)).toFixed(0);
console.log(`  median of ${rounds}: ${median.ms.toFixed(1)} ms CPU → ${usPerTag.toFixed(2)} µs/tag, ${mbPerSecond} MB/s`);
console.log(`  = ${cpuShare.toFixed(3)} % of one core per real-time stream (${process.version}, ${process.arch})`);
