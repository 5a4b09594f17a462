/**
 * Do rung packagers started mid-publish keep the source's segment starts? (docs/ladder.md, "Limits"). A 29.97 fps
 * source through the ladder; one rung packager is started at each grid keyframe from 20 s to 30 s, anchored with
 * the source's offset as ingest/renditions.ts does; each one's segment starts are compared with the source's. Not a
 * test: `npx tsx test/ingest/ladder/rung-grid.ts [--grid-origin]`. With `--grid-origin`, each rung packager is also
 * given `gridOriginMs` (the source's grid origin, epoch ms): the packager option this needs, once it exists.
 */
import { RUNGS } from '../../../core/ladder';
import { LadderTranscoder, ladderOutputs } from '../../../ingest/ladder/index.js';
import { Packager, type SegmentOutput } from '../../../ingest/packager/index.js';
import { ANCHOR_MS, type Message, makeSource, packageAll, tempDir } from './support';

async function main(): Promise<void> {
  const tags = await makeSource(`${tempDir()}/src.flv`, { rate: '30000/1001', bframes: 0, seconds: 40, gopSeconds: 2 });
  const out: Message[] = [];
  const t = new LadderTranscoder({
    outputs: ladderOutputs(
      RUNGS.filter((r) => r.name === '240p'),
      { width: 480, height: 270 },
    ),
    segmentSeconds: 1,
    onMessage: (_rung, type, timestamp, payload) => out.push({ type, timestamp, payload: Buffer.from(payload) }),
  });
  for (const tag of tags) t.push(tag.type, tag.timestamp, tag.payload);
  t.end();
  await t.exited;
  const source = packageAll(tags);
  const starts = new Set(source.segments.map((s) => s.programDateTimeMs));
  const headers = out.filter((m) => m.type === 18 || m.payload[1] === 0);
  for (let k = 20; k <= 30; k++) {
    const key = out.find((m) => m.type === 9 && m.payload[1] === 1 && m.payload[0] >> 4 === 1 && m.timestamp >= k * 1000 - 2)!;
    const segments: SegmentOutput[] = [];
    const extra = process.argv.includes('--grid-origin') ? { gridOriginMs: source.segments[0].programDateTimeMs } : {};
    const p = new Packager({
      session: 'abcdefghij',
      mediaSequenceBase: 0,
      discontinuitySequenceBase: 0,
      anchorMs: ANCHOR_MS + key.timestamp,
      segmentSeconds: 1,
      onSegment: (s) => segments.push(s),
      ...(extra as object),
    });
    for (const m of headers) p.push(m.type, key.timestamp, m.payload);
    for (const m of out.slice(out.indexOf(key))) p.push(m.type, m.timestamp, m.payload);
    p.end();
    const off = segments.filter((s) => !starts.has(s.programDateTimeMs));
    console.log(
      `rung packager from ${key.timestamp} ms: ${segments.length} segments, ${off.length} off the source's starts` +
        `${off.length ? ` (first at ${Math.round(off[0].programDateTimeMs - ANCHOR_MS)} ms)` : ''}, ${segments.filter((s) => !s.independent).length} not independent`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
