import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlaylist } from '../../ingest/playlist';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { ffprobe, rawGet, startPublisher } from '../support/media';
import { ingestEnv } from '../support/settings';
import { waitFor, withDeadline } from '../support/wait';

/**
 * The walking skeleton end to end, every part real: ffmpeg publishing RTMP through the local balancer into an
 * ingest process, ffmpeg making HLS, the routing table on dynalite, the task-events handler, and the origin
 * handler behind the function-URL adapter.
 */
let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kf-e2e-'));
  stack = await startLocalStack({
    rtmpPort: 0,
    httpPort: 0,
    taskEnv: ingestEnv({ endLingerSeconds: 1.5, reconnectGraceSeconds: 2 }),
  });
});
afterAll(async () => {
  await stack?.stop();
});

interface Seen {
  uri: string;
  duration: number;
}

describe('RTMP in, HLS out through the origin', () => {
  it('plays a real publish, refuses a wrong key meanwhile, and ends cleanly', async () => {
    const channel = await stack.createChannel('skeleton');
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 7, gopSeconds: 2 });

    // A wrong key while the honest stream runs: refused at publish time (the server's answer, not a broken pipe
    // later on), so it ends while the honest 7 s publish still runs and long before its own 30 s. Nothing written.
    const intruder = startPublisher({ url: `${stack.rtmpUrl}/kf_${'x'.repeat(32)}`, seconds: 30 });
    const refused = await withDeadline(intruder.exited, 'the wrong key to be refused', 30_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Server error: Stream key refused');
    expect(publisher.proc.exitCode, 'the honest publish was still running').toBeNull();

    // Playable: a media playlist with a segment, through the origin.
    const first = await waitFor('a playable playlist', async () => {
      const res = await fetch(channel.playbackUrl);
      if (res.status !== 200) return undefined;
      const text = await res.text();
      return parsePlaylist(text).segments > 0 ? { res, text } : undefined;
    });
    expect(first.res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(first.res.headers.get('cache-control')).toBe('public, max-age=1');
    expect(first.text).toMatch(/^#EXTM3U/);
    expect(first.text).toContain('#EXT-X-PROGRAM-DATE-TIME:');

    // Follow the playlist while the publish runs; fetch and decode every segment.
    const seen = new Map<string, Seen>();
    let segmentHeaders: Headers | undefined;
    let ended = '';
    let init: Buffer | undefined;
    await waitFor(
      'the end-of-list marker',
      async () => {
        const res = await fetch(channel.playbackUrl);
        if (res.status !== 200) return undefined;
        const text = await res.text();
        const map = /^#EXT-X-MAP:URI="([^"]+)"$/m.exec(text)?.[1];
        if (map && !init) {
          const initRes = await fetch(new URL(map, channel.playbackUrl));
          expect(initRes.status).toBe(200);
          expect(initRes.headers.get('content-type')).toBe('video/mp4');
          init = Buffer.from(await initRes.arrayBuffer());
        }
        const lines = text.split('\n');
        for (let i = 0; i < lines.length; i++) {
          const m = /^#EXTINF:([\d.]+)/.exec(lines[i]);
          const uri = lines
            .slice(i + 1)
            .find((l) => l.trim() && !l.startsWith('#'))
            ?.trim();
          if (!m || !uri || seen.has(uri)) continue;
          const seg = await fetch(new URL(uri, channel.playbackUrl));
          expect(seg.status).toBe(200);
          segmentHeaders = seg.headers;
          const file = join(dir, uri);
          // A CMAF segment decodes after its init segment (EXT-X-MAP), as a player reads it.
          expect(init, 'EXT-X-MAP before the first segment').toBeDefined();
          await writeFile(file, Buffer.concat([init!, Buffer.from(await seg.arrayBuffer())]));
          seen.set(uri, { uri, duration: Number(m[1]) });
        }
        if (text.includes('#EXT-X-ENDLIST')) ended = text;
        return ended || undefined;
      },
      20_000,
      300,
    );
    expect(segmentHeaders?.get('content-type')).toBe('video/iso.segment');
    expect(segmentHeaders?.get('cache-control')).toBe('public, max-age=1209600, immutable');
    expect((await withDeadline(publisher.exited, 'the honest publisher to finish', 20_000)).code).toBe(0);

    // Every segment decodes as H.264 + AAC, and together they cover the pushed time.
    let total = 0;
    for (const s of seen.values()) {
      const probe = await ffprobe(join(dir, s.uri));
      expect(probe.streams.map((x) => `${x.codec_type}/${x.codec_name}`).sort()).toEqual(['audio/aac', 'video/h264']);
      total += s.duration;
    }
    expect(total).toBeGreaterThan(6);
    expect(total).toBeLessThan(8.5);
    const names = [...seen.keys()];
    expect(names.every((n) => /^[a-z0-9]{10}_\d+\.m4s$/.test(n))).toBe(true);

    // After the linger: the route is gone (compare-and-delete by its own session) and the playlist is 404.
    await waitFor('the route to be removed', async () => !(await stack.store.getRoute(channel.playbackId)), 10_000);
    const gone = await waitFor('a 404 playlist', async () => {
      const res = await fetch(channel.playbackUrl);
      return res.status === 404 ? res : undefined;
    });
    expect(gone.headers.get('cache-control')).toBe('public, max-age=1');

    // The refused key left nothing behind.
    expect((await stack.store.listRoutes()).filter((r) => r.playbackId !== channel.playbackId)).toEqual([]);

    // The origin's metrics (captured by the local stack, not printed): every request counted, no 5xx, and the
    // task-events function applied the task's RUNNING event.
    expect(stack.metrics.total('OriginRequests')).toBeGreaterThanOrEqual(seen.size);
    expect(stack.metrics.total('Origin5xx')).toBe(0);
    expect(stack.metrics.total('TaskEventsApplied')).toBeGreaterThanOrEqual(1);
  });

  it('answers 404 for an unknown playback ID and 400 for malformed paths, with short negative caching', async () => {
    const unknown = await rawGet(stack.httpUrl, '/AAAAAAAAAAAA/index.m3u8');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['cache-control']).toBe('public, max-age=1');
    for (const path of [
      '/../../etc/passwd',
      '/AAAAAAAAAAAA/../index.m3u8',
      '/AAAAAAAAAAAA/%2e%2e%2findex.m3u8',
      '/AAAAAAAAAAAA/index.m3u8?x=1',
      '/AAAAAAAAAAAA//index.m3u8',
    ]) {
      const res = await rawGet(stack.httpUrl, path);
      expect(res.status, path).toBe(400);
      expect(res.body.toString()).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('refuses a revoked key at publish time and keeps the other streams untouched', async () => {
    const revoked = await stack.createChannel('revoked-one');
    await stack.store.revokeChannel(revoked.playbackId);
    const attempt = startPublisher({ url: revoked.publishUrl, seconds: 3 });
    const result = await withDeadline(attempt.exited, 'the revoked key to be refused', 30_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Server error: Stream key refused');
    expect(await stack.store.getRoute(revoked.playbackId)).toBeUndefined();
  });
});
