import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { ffmpegChildren, kill, parseMedia, parseMultivariant, probeSegment } from '../support/ladder';
import { startPublisher } from '../support/media';
import { waitFor } from '../support/wait';

/**
 * The quality ladder end to end (issue 14): a real ffmpeg publisher, the ingest's own transcoder (one ffmpeg per
 * ladder), each rung packaged by the ingest's packager, through the origin. Small pictures keep it cheap on two
 * cores: a 480x270 source and the 240p and 160p rungs.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, taskEnv: { KEYFRAME_END_LINGER_SECONDS: '0', KEYFRAME_THUMBNAIL_SECONDS: '0' } });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function text(path: string): Promise<{ status: number; body: string; cache: string | null }> {
  const res = await fetch(`${stack.httpUrl}${path}`);
  return { status: res.status, body: await res.text(), cache: res.headers.get('cache-control') };
}
async function bytes(path: string): Promise<Buffer> {
  const res = await fetch(`${stack.httpUrl}${path}`);
  expect(res.status, path).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe('quality ladder', () => {
  it('a ladder channel: multivariant playlist with source and rungs, each decoding at its resolution, segments aligned', {
    timeout: 90_000,
  }, async () => {
    const channel = await stack.createChannel('abr', { ladder: '240p,160p' });
    const pid = channel.playbackId;
    // 29.97 fps: frame times do not divide the 1 s segments, the hard case for alignment.
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 25, gopSeconds: 2, fps: 29.97, size: '480x270', videoBitrate: '1200k' });
    try {
      const master = await waitFor(
        'the multivariant playlist with both rungs',
        async () => {
          const r = await text(`/${pid}/index.m3u8`);
          return r.status === 200 && parseMultivariant(r.body).length === 3 ? r : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(master.body.startsWith('#EXTM3U\n')).toBe(true);
      expect(master.cache).toBe('public, max-age=2');
      const variants = parseMultivariant(master.body);
      expect(variants.map((v) => v.uri)).toEqual(['source.m3u8', '240p.m3u8', '160p.m3u8']);
      const expected: Record<string, [number, number]> = { 'source.m3u8': [480, 270], '240p.m3u8': [426, 240], '160p.m3u8': [284, 160] };
      for (const v of variants) {
        expect(Number(v.attrs.BANDWIDTH)).toBeGreaterThan(0);
        expect(Number(v.attrs['AVERAGE-BANDWIDTH'])).toBeLessThanOrEqual(Number(v.attrs.BANDWIDTH));
        expect(v.attrs.RESOLUTION).toBe(expected[v.uri].join('x'));
        expect(Number(v.attrs['FRAME-RATE'])).toBeCloseTo(30, 0);
        expect(v.attrs.CODECS).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      }
      // Lower rungs cost less.
      expect(Number(variants[2].attrs.BANDWIDTH)).toBeLessThan(Number(variants[0].attrs.BANDWIDTH));

      // Let a few segments of each rung go by, then compare the playlists.
      const media = await waitFor(
        'five segments in every rendition',
        async () => {
          const lists = await Promise.all(variants.map((v) => text(`/${pid}/${v.uri}`)));
          const parsed = lists.map((l) => (l.status === 200 ? parseMedia(l.body) : []));
          return parsed.every((p) => p.length >= 5) ? { lists, parsed } : undefined;
        },
        { timeoutMs: 30_000 },
      );
      // LL-HLS: each media playlist reports the other renditions.
      expect(media.lists[1].body).toContain('#EXT-X-RENDITION-REPORT:URI="source.m3u8"');
      expect(media.lists[0].body).toContain('#EXT-X-RENDITION-REPORT:URI="240p.m3u8"');
      const [source, ...rungs] = media.parsed;
      const bySource = new Map(source.map((s) => [s.msn, s]));
      for (const [i, rung] of rungs.entries()) {
        const common = rung.filter((s) => bySource.has(s.msn));
        expect(common.length, `rung ${i} shares sequence numbers with the source`).toBeGreaterThanOrEqual(4);
        for (const s of common) {
          const src = bySource.get(s.msn)!;
          // Same media sequence number: same program date-time and duration within one frame (33 ms).
          expect(Math.abs(s.pdt! - src.pdt!), `msn ${s.msn} PDT`).toBeLessThanOrEqual(34);
          expect(Math.abs(s.duration - src.duration), `msn ${s.msn} duration`).toBeLessThanOrEqual(0.034);
        }
      }
      // Every variant's newest segment decodes at the advertised resolution, starting with a keyframe on the rungs.
      for (const [i, v] of variants.entries()) {
        const seg = media.parsed[i].at(-1)!;
        const probe = await probeSegment(await bytes(`/${pid}/${seg.map}`), await bytes(`/${pid}/${seg.uri}`));
        expect([probe.width, probe.height]).toEqual(expected[v.uri]);
        expect(probe.frames).toBeGreaterThanOrEqual(25);
        if (i > 0) expect(probe.keyFirst).toBe(true);
      }
      const status = await stack.store.getRoute(pid);
      expect(status?.health?.ladder).toMatchObject({ rungs: ['240p', '160p'] });
    } finally {
      await publisher.stop();
    }
  });

  it('the transcoder killed mid-stream: the source never stops, the rungs leave and come back', { timeout: 90_000 }, async () => {
    const channel = await stack.createChannel('abr-kill', { ladder: '160p' });
    const pid = channel.playbackId;
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 40, gopSeconds: 1, size: '480x270', videoBitrate: '800k' });
    try {
      const variantsNow = async () => {
        const r = await text(`/${pid}/index.m3u8`);
        return r.status === 200 ? parseMultivariant(r.body).map((v) => v.uri) : [];
      };
      await waitFor('the rung listed', async () => ((await variantsNow()).includes('160p.m3u8') ? true : undefined), { timeoutMs: 30_000 });
      const task = stack.fleet.serving()[0];
      const [transcoder] = await waitFor('the ladder ffmpeg', async () => {
        const pids = await ffmpegChildren(task.pid!);
        return pids.length === 1 ? pids : undefined;
      });
      // Follow the source while the transcoder is down and comes back: it must keep growing.
      const sourceMsn = async () => parseMedia((await text(`/${pid}/source.m3u8`)).body).at(-1)?.msn ?? -1;
      const before = await sourceMsn();
      kill(transcoder);
      const gone = await waitFor('the rung to leave the multivariant playlist', async () =>
        !(await variantsNow()).includes('160p.m3u8') ? Date.now() : undefined,
      );
      expect((await text(`/${pid}/160p.m3u8`)).status).toBe(404);
      const back = await waitFor('the rung back', async () => ((await variantsNow()).includes('160p.m3u8') ? Date.now() : undefined), {
        timeoutMs: 20_000,
      });
      expect(back).toBeGreaterThan(gone);
      const [restarted] = await ffmpegChildren(task.pid!);
      expect(restarted).toBeDefined();
      expect(restarted).not.toBe(transcoder);
      // The source went on all along, and the new rung lines up with it again.
      expect(await sourceMsn()).toBeGreaterThan(before + 1);
      const rung = await waitFor('two segments of the new rung', async () => {
        const r = await text(`/${pid}/160p.m3u8`);
        const segs = r.status === 200 ? parseMedia(r.body) : [];
        return segs.length >= 2 ? segs : undefined;
      });
      expect(rung.some((s, i) => i === 0 && s.pdt !== undefined)).toBe(true);
      const source = new Map(parseMedia((await text(`/${pid}/source.m3u8`)).body).map((s) => [s.msn, s]));
      for (const s of rung.filter((x) => source.has(x.msn))) expect(Math.abs(s.pdt! - source.get(s.msn)!.pdt!)).toBeLessThanOrEqual(34);
      const route = await stack.store.getRoute(pid);
      expect(route?.health?.ladder?.rungs).toEqual(['160p']);
    } finally {
      await publisher.stop();
    }
  });

  it('a channel without a ladder starts no transcoder and keeps index.m3u8 a media playlist', async () => {
    const task = stack.fleet.serving()[0];
    // The earlier tests' transcoders have exited (their publishes ended).
    await waitFor('no ffmpeg left from the earlier tests', async () => ((await ffmpegChildren(task.pid!)).length === 0 ? true : undefined));
    const channel = await stack.createChannel('plain');
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 6, gopSeconds: 1, size: '480x270' });
    try {
      const list = await waitFor('the playlist', async () => {
        const r = await text(`/${channel.playbackId}/index.m3u8`);
        return r.status === 200 && r.body.includes('#EXTINF') ? r.body : undefined;
      });
      expect(list).not.toContain('#EXT-X-STREAM-INF');
      expect((await text(`/${channel.playbackId}/source.m3u8`)).status).toBe(404);
      expect(await ffmpegChildren(task.pid!)).toEqual([]);
    } finally {
      await publisher.stop();
    }
  });
});

describe('a task with no CPU for a ladder', () => {
  let small: LocalStack;
  beforeAll(async () => {
    small = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      taskEnv: { KEYFRAME_END_LINGER_SECONDS: '0', KEYFRAME_THUMBNAIL_SECONDS: '0', KEYFRAME_LADDER_CPU_BUDGET: '0' },
    });
  }, 60_000);
  afterAll(async () => {
    await small?.stop();
  });

  it('passes the publish through, never refuses it, and says why in the health', async () => {
    const channel = await small.createChannel('abr-full', { ladder: '240p,160p' });
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 8, gopSeconds: 1, size: '480x270' });
    try {
      const master = await waitFor('the multivariant playlist', async () => {
        const r = await fetch(`${small.httpUrl}/${channel.playbackId}/index.m3u8`);
        return r.status === 200 ? r.text() : undefined;
      });
      // The source alone: the stream plays, untranscoded.
      expect(parseMultivariant(master).map((v) => v.uri)).toEqual(['source.m3u8']);
      const route = await waitFor('the warning in the route health', async () => {
        const r = await small.store.getRoute(channel.playbackId);
        return r?.health?.warnings.some((w) => w.code === 'ladder-unavailable') ? r : undefined;
      });
      expect(route.health?.warnings.find((w) => w.code === 'ladder-unavailable')?.message).toMatch(/passed through only/);
      expect(await ffmpegChildren(small.fleet.serving()[0].pid!)).toEqual([]);
    } finally {
      await publisher.stop();
    }
    expect((await publisher.exited).code).toBe(0);
  });
});
