import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playbackKey, signPlaybackToken, tokenExpiry } from '../../core/playback-token';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { startPublisher } from '../support/media';
import { cliFor, listRecordingsJson, parsePlaylist } from '../support/recordings';
import { waitFor } from '../support/wait';

/**
 * Thumbnails, posters and recordings served through the origin (issue 15), with real publishers: each live
 * stream's current JPEG at its stable URL, the recording's growing EVENT playlist while live (live rewind), the
 * VOD playlist after, the poster, and the private-channel token rules on every one of them.
 */
let stack: LocalStack;
let cli: Awaited<ReturnType<typeof cliFor>>;

beforeAll(async () => {
  stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, taskEnv: { KEYFRAME_END_LINGER_SECONDS: '0', KEYFRAME_THUMBNAIL_SECONDS: '2' } });
  cli = await cliFor(stack);
}, 60_000);

afterAll(async () => {
  cli?.restore();
  await stack?.stop();
});

async function get(path: string): Promise<{ status: number; type: string | null; cache: string | null; body: Buffer }> {
  const res = await fetch(`${stack.httpUrl}${path}`);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    cache: res.headers.get('cache-control'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** ffprobe of a JPEG on stdin: codec and size. */
function probeJpeg(jpeg: Buffer): Promise<{ codec: string; width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', '-i', 'pipe:0']);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`ffprobe failed: ${err}`));
      const s = (JSON.parse(out) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0];
      resolve({ codec: s.codec_name, width: s.width, height: s.height });
    });
    p.stdin.end(jpeg);
  });
}

interface ApiStreams {
  streams: { playbackId: string; thumbnailUrl?: string; recording?: { id: string; playbackUrl: string } }[];
  recordings?: { id: string; playbackId: string; state: string; playbackUrl: string; posterUrl: string }[];
}

describe('thumbnails and recordings through the origin', () => {
  it.concurrent('a live stream has a current JPEG that changes; its recording is rewindable live and a replay with a poster after', async () => {
    const channel = await stack.createChannel('thumbs', { record: true });
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 9, gopSeconds: 1, size: '960x540' });
    const pid = channel.playbackId;
    const first = await waitFor('the first thumbnail', async () => {
      const r = await get(`/${pid}/thumbnail.jpg`);
      return r.status === 200 ? r : undefined;
    });
    expect(first.type).toBe('image/jpeg');
    expect(first.cache).toBe('public, max-age=5');
    expect(await probeJpeg(first.body)).toEqual({ codec: 'mjpeg', width: 640, height: 360 });
    // The next one (2 s of media later) shows another picture: the test pattern's counter moved on.
    const next = await waitFor('a newer thumbnail', async () => {
      const r = await get(`/${pid}/thumbnail.jpg`);
      return r.status === 200 && !r.body.equals(first.body) ? r : undefined;
    });
    expect(await probeJpeg(next.body)).toEqual({ codec: 'mjpeg', width: 640, height: 360 });

    const status = JSON.parse(await cli.run('status', 'thumbs', '--json')) as { thumbnailUrl?: string; recordingId?: string }[];
    expect(status[0].thumbnailUrl).toBe(`${stack.urls.playbackBaseUrl}/${pid}/thumbnail.jpg`);
    const api = (await (await fetch(`${stack.httpUrl}/api/streams`)).json()) as ApiStreams;
    const listed = api.streams.find((s) => s.playbackId === pid);
    expect(listed?.thumbnailUrl).toBe(`/${pid}/thumbnail.jpg`);
    expect(listed?.recording?.id).toBe(status[0].recordingId);

    // Live rewind: the recording's EVENT playlist, through the origin, from the start of the session.
    const live = await get(listed!.recording!.playbackUrl);
    expect(live.status).toBe(200);
    const event = parsePlaylist(live.body.toString('utf8'));
    expect(event.type).toBe('EVENT');
    expect(event.ended).toBe(false);
    expect(event.segments.length).toBeGreaterThan(0);
    const base = listed!.recording!.playbackUrl.replace(/index\.m3u8$/, '');
    const seg = await get(`${base}${event.segments[0].uri}`);
    expect(seg.status).toBe(200);
    expect(seg.type).toBe('video/iso.segment');
    expect((await get(`${base}${event.segments[0].map}`)).status).toBe(200);

    expect((await publisher.exited).code).toBe(0);
    const ready = await waitFor('the replay ready', async () => (await listRecordingsJson(cli.run, 'thumbs')).find((r) => r.state === 'ready'), {
      timeoutMs: 5000,
    });
    const vod = await get(new URL(ready.playbackUrl).pathname);
    expect(vod.status).toBe(200);
    const replay = parsePlaylist(vod.body.toString('utf8'));
    expect(replay.type).toBe('VOD');
    expect(replay.ended).toBe(true);
    const poster = await waitFor('the poster', async () => {
      const r = await get(`${base}poster.jpg`);
      return r.status === 200 ? r : undefined;
    });
    expect(await probeJpeg(poster.body)).toEqual({ codec: 'mjpeg', width: 640, height: 360 });
    const recent = (await (await fetch(`${stack.httpUrl}/api/streams`)).json()) as ApiStreams;
    expect(recent.recordings?.find((r) => r.id === ready.id)).toMatchObject({ playbackId: pid, posterUrl: `${base}poster.jpg` });
  });

  it.concurrent('a private channel: no thumbnail, recording playlist or poster without a valid token; never listed', async () => {
    const channel = await stack.createChannel('thumbs-private', { record: true, private: true });
    const pid = channel.playbackId;
    const key = playbackKey(stack.playbackSecret);
    const token = signPlaybackToken(key, pid, tokenExpiry(600));
    const other = await stack.createChannel('thumbs-other');
    const forged = signPlaybackToken(key, other.playbackId, tokenExpiry(600));
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 6, gopSeconds: 1, size: '640x360' });
    const thumb = await waitFor('the private thumbnail with a token', async () => {
      const r = await get(`/${pid}/thumbnail.jpg?token=${token}`);
      return r.status === 200 ? r : undefined;
    });
    expect(await probeJpeg(thumb.body)).toMatchObject({ codec: 'mjpeg' });
    expect((await get(`/${pid}/thumbnail.jpg`)).status).toBe(403);
    expect((await get(`/${pid}/thumbnail.jpg?token=${forged}`)).status).toBe(403);

    const status = JSON.parse(await cli.run('status', 'thumbs-private', '--json')) as { recordingId?: string }[];
    const rid = status[0].recordingId!;
    expect(rid).toMatch(/^[a-z0-9]{16}$/);
    const base = `/recordings/${pid}/${rid}/`;
    await waitFor(
      'the private recording playlist with a token',
      async () => (await get(`${base}index.m3u8?token=${token}`)).status === 200 || undefined,
    );
    expect((await get(`${base}index.m3u8`)).status).toBe(403);
    expect((await get(`${base}index.m3u8?token=${forged}`)).status).toBe(403);
    const api = (await (await fetch(`${stack.httpUrl}/api/streams`)).json()) as ApiStreams;
    expect(api.streams.map((s) => s.playbackId)).not.toContain(pid);

    expect((await publisher.exited).code).toBe(0);
    await waitFor('the private replay ready', async () => (await listRecordingsJson(cli.run, 'thumbs-private')).find((r) => r.state === 'ready'));
    await waitFor('the private poster with a token', async () => (await get(`${base}poster.jpg?token=${token}`)).status === 200 || undefined);
    expect((await get(`${base}poster.jpg`)).status).toBe(403);
    expect((await get(`${base}index.m3u8`)).status).toBe(403);
    expect((await get(`${base}index.m3u8?token=${token}`)).status).toBe(200);
    const after = (await (await fetch(`${stack.httpUrl}/api/streams`)).json()) as ApiStreams;
    expect((after.recordings ?? []).map((r) => r.playbackId)).not.toContain(pid);
  });
});
