/**
 * LL-HLS at the task's HLS server: blocking playlist reloads and preload-hint part requests, driven by a
 * synthetic FLV feed through the real StreamManager and packager. Timing bounds are measured from the write that
 * cuts the part (the packager calls onFragment inside it) to the response's arrival.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, Route } from '../../core/model';
import { hashStreamKey, newPlaybackId } from '../../core/model';
import type { ChannelStore, RouteStore } from '../../core/store';
import { createHlsServer, listen } from '../../ingest/hls-server';
import { type FlvSink, StreamManager } from '../../ingest/streams';
import { feed, type FeedSpec, type Message } from './packager/support/synth.js';
import { waitFor } from '../support/wait';

const KEY = 'sk_ll_hls_test_key_0123456789';

/** FLV bytes for messages: the header, then tags with PreviousTagSize (what the RTMP sink writes). */
function flv(messages: readonly Message[], header: boolean): Buffer {
  const out: Buffer[] = [];
  if (header) out.push(Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]));
  for (const m of messages) {
    const h = Buffer.alloc(11);
    h[0] = m.type;
    h.writeUIntBE(m.payload.length, 1, 3);
    h.writeUIntBE(m.timestamp & 0xffffff, 4, 3);
    h[7] = (m.timestamp >>> 24) & 0xff;
    const prev = Buffer.alloc(4);
    prev.writeUInt32BE(11 + m.payload.length);
    out.push(h, m.payload, prev);
  }
  return Buffer.concat(out);
}

function fakeStore(playbackId: string): ChannelStore & RouteStore {
  const channel: Channel = { playbackId, name: 'll', keyHash: hashStreamKey(KEY), state: 'active', createdAt: new Date().toISOString() };
  let route: Route | undefined;
  return {
    createChannel: async () => channel,
    getChannelByKeyHash: async (h) => (h === channel.keyHash ? channel : undefined),
    listChannels: async () => [channel],
    revokeChannel: async () => undefined,
    updateChannel: async () => undefined,
    putRoute: async (r) => {
      const old = route;
      route = r;
      return old;
    },
    getRoute: async () => route,
    heartbeatRoute: async () => undefined,
    deleteRoute: async () => true,
    deleteRouteOfTask: async () => true,
    listRoutesOfTask: async () => [],
    listRoutes: async () => [],
  };
}

interface Res {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

function get(port: number, path: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, at: performance.now() }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Rig {
  port: number;
  playbackId: string;
  sink: FlvSink;
  messages: Message[];
  /** Writes the feed's messages up to media time `ms`. Returns the time just before the write. */
  writeUntil(ms: number): number;
  /** Resolves once the server has taken the next request (its handler has run up to its first await). */
  received(): Promise<void>;
  playlist(): Promise<string>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(spec: Omit<FeedSpec, 'seconds'>, blockingHoldMs = 3000): Promise<Rig> {
  const playbackId = newPlaybackId();
  const manager = new StreamManager({
    store: fakeStore(playbackId),
    taskArn: 'arn:test:task/ll',
    advertiseHost: '127.0.0.1',
    advertisePort: 8080,
    segmentSeconds: 1,
    playlistSize: 6,
    routeTtlSeconds: 15,
    reconnectGraceSeconds: 0,
    endLingerSeconds: 0,
    cleanupDelaySeconds: 0,
    blockingHoldMs,
  });
  const server = createHlsServer({ resolve: (p) => manager.resolveObject(p), segmentSeconds: 1 });
  const { port } = (await listen(server, 0, '127.0.0.1')) as AddressInfo;
  const decision = await manager.onPublish({ streamKey: KEY, remoteAddress: '127.0.0.1', kick: () => undefined });
  if (!decision.accept) throw new Error(`publish refused: ${decision.description}`);
  const sink = decision.sink;
  const messages = feed({ seconds: 30, ...spec });
  let next = 0;
  let header = true;
  cleanups.push(async () => {
    sink.end('unpublish');
    await manager.drain(0, 0);
    await new Promise<void>((r) => server.close(() => r()));
  });
  const r: Rig = {
    port,
    playbackId,
    sink,
    messages,
    writeUntil(ms) {
      const from = next;
      while (next < messages.length && (messages[next].mediaMs <= ms || messages[next].type === 18)) next++;
      const at = performance.now();
      sink.write(flv(messages.slice(from, next), header));
      header = false;
      return at;
    },
    received: () => new Promise((resolve) => server.prependOnceListener('request', () => setImmediate(resolve))),
    playlist: async () => (await get(port, `/${playbackId}/index.m3u8`)).body.toString('utf8'),
  };
  return r;
}

/** The newest part in a playlist: its msn and index, from its URI. */
function lastPart(text: string): { msn: number; index: number } {
  const uris = [...text.matchAll(/#EXT-X-PART:[^\n]*URI="[a-z0-9]{10}_(\d+)\.(\d+)\.m4s"/g)];
  const m = uris.at(-1)!;
  return { msn: Number(m[1]), index: Number(m[2]) };
}

const AV: Omit<FeedSpec, 'seconds'> = { video: { fps: 30, gopFrames: 60, bitrate: 1_000_000 }, audio: { sampleRate: 48000 } };
const AUDIO_ONLY: Omit<FeedSpec, 'seconds'> = { video: false, audio: { sampleRate: 48000 } };

/** Starts the stream and waits until its LL playlist is served with a few segments. */
async function live(r: Rig): Promise<string> {
  let media = 0;
  let text = '';
  await waitFor(
    'an LL playlist with 2 segments',
    async () => {
      // The packager opens a segment only once the clock allows its number (10 ms per msn), so write on until it has.
      media += 500;
      r.writeUntil(Math.min(media, 3000));
      const res = await get(r.port, `/${r.playbackId}/index.m3u8`);
      text = res.body.toString('utf8');
      return res.status === 200 && (text.match(/#EXTINF/g)?.length ?? 0) >= 2;
    },
    { timeoutMs: 10_000, detail: () => text },
  );
  return text;
}

describe.each([
  ['audio and video', AV],
  ['audio only', AUDIO_ONLY],
])('blocking requests (%s)', (_name, spec) => {
  it('answers a blocking reload for the next part within 100 ms of the part being cut', async () => {
    const r = await rig(spec);
    const text = await live(r);
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
    const { msn, index } = lastPart(text);
    const wanted = { msn, part: index + 1 };
    const taken = r.received();
    let answered = false;
    const pending = get(r.port, `/${r.playbackId}/index.m3u8?_HLS_msn=${wanted.msn}&_HLS_part=${wanted.part}`).then((res) => {
      answered = true;
      return res;
    });
    await taken;
    expect(answered).toBe(false);
    // Written media up to 3 s; the next 0.4 s cuts at least one more part.
    const at = r.writeUntil(3400);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.at - at).toBeLessThan(100);
    const after = lastPart(res.body.toString('utf8'));
    expect(after.msn > wanted.msn || (after.msn === wanted.msn && after.index >= wanted.part)).toBe(true);
    expect(res.headers['cache-control']).toBe('public, max-age=1');
  });

  it('holds a preload-hint part request until the part exists, then serves it from memory', async () => {
    const r = await rig(spec);
    const text = await live(r);
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)![1];
    const taken = r.received();
    let answered = false;
    const pending = get(r.port, `/${r.playbackId}/${hint}`).then((res) => {
      answered = true;
      return res;
    });
    await taken;
    expect(answered).toBe(false);
    const at = r.writeUntil(3400);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.at - at).toBeLessThan(100);
    expect(res.headers['content-type']).toBe('video/iso.segment');
    expect(res.headers['cache-control']).toBe('public, max-age=1209600, immutable');
    expect(res.body.subarray(4, 8).toString('latin1')).toBe('moof');
    // The same bytes are the segment's byte range once it is complete.
    r.writeUntil(5000);
    const [, session, msn, index] = /^([a-z0-9]{10})_(\d+)\.(\d+)\.m4s$/.exec(hint)!;
    await waitFor('the segment of the hinted part', async () => (await get(r.port, `/${r.playbackId}/${session}_${msn}.m4s`)).status === 200, 5000);
    const segment = (await get(r.port, `/${r.playbackId}/${session}_${msn}.m4s`)).body;
    expect(segment.includes(res.body)).toBe(true);
    expect(Number(index)).toBeGreaterThanOrEqual(0);
  });
});

describe('blocking request limits', () => {
  it('answers 400 to a reload more than two segments ahead and to malformed parameters, at once', async () => {
    const r = await rig(AV);
    const text = await live(r);
    const last = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF/g)?.length ?? 0) - 1;
    for (const q of [`_HLS_msn=${last + 3}`, `_HLS_msn=${last + 3}&_HLS_part=0`, '_HLS_msn=01', '_HLS_part=1', '_HLS_msn=1&_HLS_skip=no', 'x=1']) {
      const res = await get(r.port, `/${r.playbackId}/index.m3u8?${q}`);
      expect(res.status, q).toBe(400);
    }
    // The newest complete segment is there: answered at once.
    const ok = await get(r.port, `/${r.playbackId}/index.m3u8?_HLS_msn=${last}`);
    expect(ok.status).toBe(200);
  });

  it('bounds the hold: without new media a blocking reload answers the current playlist after blockingHoldMs', async () => {
    const hold = 300;
    const r = await rig(AV, hold);
    const text = await live(r);
    const { msn } = lastPart(text);
    const start = performance.now();
    const res = await get(r.port, `/${r.playbackId}/index.m3u8?_HLS_msn=${msn + 1}`);
    const held = performance.now() - start;
    expect(res.status).toBe(200);
    expect(held).toBeGreaterThanOrEqual(hold - 5);
    expect(held).toBeLessThan(hold + 2000);
    // A part far ahead is not waited for.
    const session = /URI="([a-z0-9]{10})_/.exec(text)![1];
    const far = await get(r.port, `/${r.playbackId}/${session}_${msn + 5}.0.m4s`);
    expect(far.status).toBe(404);
  });
});
