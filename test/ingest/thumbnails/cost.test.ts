/**
 * What a thumbnail costs: ffmpeg's own user + system CPU (the kernel's resource usage of the child, read by a
 * bash wrapper's `times`) per 720p keyframe decoded and encoded to a 640x360 JPEG, against a full decode of the
 * same media and an ffmpeg that does next to nothing (its start-up) for scale. Printed, and bounded loosely (a full decode per thumbnail would blow the bound).
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ThumbnailPool, Thumbnailer } from '../../../ingest/thumbnails/index';
import { FFMPEG, feedPaced, makeFlv, recorder, tempDir } from './support';

const run = promisify(execFile);
const tmp = tempDir();
afterAll(() => tmp.remove());

/** `times`' second line: the children's user and system time, in ms. */
function childCpuMs(timesOutput: string): number {
  const line = timesOutput.trim().split('\n')[1] ?? '';
  const ms = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, s]) => (Number(m) * 60 + Number(s)) * 1000);
  if (ms.length !== 2) throw new Error(`cannot read times output: ${JSON.stringify(timesOutput)}`);
  return ms[0] + ms[1];
}

/** A stand-in ffmpeg that runs the real one and appends its CPU time to `log`, one block per run. */
function measuringFfmpeg(log: string): string {
  const path = join(tmp.dir, 'ffmpeg-measured');
  writeFileSync(path, `#!/bin/bash\n${FFMPEG} "$@"\nrc=$?\n{ times; echo ---; } >> ${log}\nexit $rc\n`, { mode: 0o755 });
  return path;
}

describe('thumbnail cost', () => {
  it('CPU per 720p thumbnail: ffmpeg user + sys', async () => {
    const flv = join(tmp.dir, 'hd.flv');
    const tags = await makeFlv(flv, { size: '1280x720', seconds: 12, audio: false });
    const log = join(tmp.dir, 'times.log');
    const pool = new ThumbnailPool({ ffmpegPath: measuringFfmpeg(log), maxConcurrent: 1 });
    const r = recorder();
    const t = new Thumbnailer({ intervalSeconds: 1, maxWidth: 640, pool, log: r.log, onThumbnail: (x) => r.thumbs.push(x) });
    const started = performance.now();
    await feedPaced(t, pool, tags);
    const wallMs = (performance.now() - started) / r.thumbs.entries.length;
    expect(r.thumbs.entries).toHaveLength(12);
    expect(r.warnings()).toEqual([]);
    const perThumb = readFileSync(log, 'utf8')
      .split('---')
      .filter((b) => b.trim())
      .map(childCpuMs);
    expect(perThumb).toHaveLength(12);
    const sorted = [...perThumb].sort((a, b) => a - b);
    const mean = perThumb.reduce((a, b) => a + b, 0) / perThumb.length;
    const median = sorted[Math.floor(sorted.length / 2)];
    const bytes = r.thumbs.entries.reduce((a, x) => a + x.jpeg.length, 0) / r.thumbs.entries.length;

    // For scale: decoding all 12 s of the same stream (what a second full decode would cost).
    const full = await run('bash', ['-c', `${FFMPEG} -v error -threads 1 -i ${flv} -f null - && times`]);
    const fullPer10s = (childCpuMs(full.stdout) / 12) * 10;
    // And ffmpeg doing next to nothing (one 16x16 frame to null): the process's start-up, paid per thumbnail.
    const idle = await run('bash', [
      '-c',
      `for i in 1 2 3 4 5; do ${FFMPEG} -v error -nostdin -f lavfi -i nullsrc=s=16x16 -frames:v 1 -f null -; done; times`,
    ]);
    const startupMs = childCpuMs(idle.stdout) / 5;
    console.log(
      `thumbnail cost (720p keyframe → 640x360 JPEG, ffmpeg 1 thread): CPU mean ${mean.toFixed(1)} ms, median ${median.toFixed(1)} ms, ` +
        `min ${sorted[0].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)} over ${perThumb.length}; wall ${wallMs.toFixed(0)} ms each; ` +
        `JPEG ${(bytes / 1024).toFixed(1)} KiB; ffmpeg start-up alone ${startupMs.toFixed(1)} ms; ` +
        `a full decode of 10 s of the same stream: ${fullPer10s.toFixed(0)} ms CPU`,
    );
    expect(mean).toBeGreaterThan(0);
    expect(mean).toBeLessThan(fullPer10s); // one keyframe per 10 s costs less than decoding those 10 s
    t.close();
    await pool.close();
  });
});
