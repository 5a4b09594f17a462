/**
 * What the ladder adds in real time (docs/ladder.md, "Measurements"): a source FLV fed at its own pace into the
 * default ladder; per rung, the wall time from a source frame's push to its rung frame's arrival (median, p95,
 * max), the time to the first output, and the transcoder's CPU. Not a test:
 * `npx tsx test/ingest/ladder/latency.ts <source.flv> [rungs, e.g. 720p,480p,360p]`.
 */
import { readFileSync } from 'node:fs';
import { parseLadder, rungsBelow } from '../../../core/ladder';
import { LadderTranscoder, ladderOutputs } from '../../../ingest/ladder/index.js';
import { FlvTagReader, parseAvcConfig } from '../../../ingest/packager/index.js';
import { feedRealTime } from './support';

function childrenCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

async function main(): Promise<void> {
  const tags = new FlvTagReader().push(readFileSync(process.argv[2]));
  const avc = parseAvcConfig(tags.find((t) => t.type === 9 && t.payload[1] === 0)!.payload.subarray(5));
  const rungs = rungsBelow(parseLadder(process.argv[3] ?? true), avc.height);
  const delays = new Map<string, number[]>(rungs.map((r) => [r.name, []]));
  const pushedAt = new Map<number, number>();
  let firstOut: number | undefined;
  const t0 = Date.now();
  const t = new LadderTranscoder({
    outputs: ladderOutputs(rungs, avc),
    segmentSeconds: 1,
    onMessage: (rung, type, ts, p) => {
      if (type !== 9 || p[1] !== 1) return;
      firstOut ??= Date.now() - t0;
      const at = pushedAt.get(ts);
      if (at !== undefined) delays.get(rung)!.push(Date.now() - at);
    },
  });
  const cpu0 = childrenCpuSeconds();
  await feedRealTime(tags, (tag) => {
    if (tag.type === 9 && tag.payload[1] === 1) pushedAt.set(tag.timestamp, Date.now());
    t.push(tag.type, tag.timestamp, tag.payload);
  }).done;
  t.end();
  await t.exited;
  const media = (tags[tags.length - 1].timestamp - tags[0].timestamp) / 1000;
  console.log(
    `${avc.width}x${avc.height}, ${media.toFixed(1)} s; first rung frame after ${firstOut} ms; CPU ${((childrenCpuSeconds() - cpu0) / media).toFixed(3)} cores`,
  );
  for (const [name, d] of delays) {
    d.sort((a, b) => a - b);
    const q = (x: number) => d[Math.min(d.length - 1, Math.floor(x * d.length))];
    console.log(`${name}: ${d.length} frames, delay median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${d[d.length - 1]} ms`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
