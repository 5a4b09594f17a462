/**
 * Slow, idle and greedy clients against the real ingest (startIngest: RTMP server, stream manager, ffmpeg,
 * HLS server, on dynalite), configured only through the environment variables the task reads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashStreamKey, newPlaybackId, newStreamKey } from '../../core/model';
import type { ChannelStore, RouteStore } from '../../core/store';
import { startIngest, type IngestApp } from '../../ingest/app';
import { loadIngestConfig } from '../../ingest/config';
import { startTestTable, type TestTable } from '../support/dynamo';
import { handshake, Rng, Transcript } from '../../bench/fuzz/rtmp-cases';
import { openFrom, publishFrom, sleep } from './helpers';

let table: TestTable;
let dir: string;
let quick: IngestApp;
let capped: IngestApp;
let lookups = 0;
const apps: IngestApp[] = [];

/** The table, counting key look-ups (the throttle must refuse without one). */
function countingStore(): ChannelStore & RouteStore {
  const store = table.store;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getChannelByKeyHash') {
        return (hash: string) => {
          lookups++;
          return target.getChannelByKeyHash(hash);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function start(env: Record<string, string>): Promise<IngestApp> {
  const config = loadIngestConfig({
    KEYFRAME_TABLE: table.tableName,
    KEYFRAME_DYNAMODB_ENDPOINT: table.dynamo.endpoint,
    KEYFRAME_RTMP_HOST: '127.0.0.1',
    KEYFRAME_HLS_HOST: '127.0.0.1',
    KEYFRAME_RTMP_PORT: '0',
    KEYFRAME_HLS_PORT: '0',
    KEYFRAME_HEALTH_PORT: '0',
    KEYFRAME_HLS_DIR: join(dir, String(apps.length)),
    KEYFRAME_RECONNECT_GRACE_SECONDS: '0',
    KEYFRAME_END_LINGER_SECONDS: '0',
    ...env,
  });
  const app = await startIngest(config, { store: countingStore(), identity: { taskArn: `arn:test:task/${apps.length}`, ip: '127.0.0.1' } });
  apps.push(app);
  return app;
}

async function channel(): Promise<string> {
  const key = newStreamKey();
  await table.store.createChannel({ name: `limits-${newPlaybackId().toLowerCase()}`, keyHash: hashStreamKey(key), playbackId: newPlaybackId() });
  return key;
}

beforeAll(async () => {
  table = await startTestTable();
  dir = await mkdtemp(join(tmpdir(), 'kf-limits-'));
  quick = await start({
    KEYFRAME_RTMP_HANDSHAKE_TIMEOUT_MS: '300',
    KEYFRAME_RTMP_PUBLISH_TIMEOUT_MS: '700',
    KEYFRAME_RTMP_IDLE_TIMEOUT_MS: '600',
  });
  capped = await start({
    KEYFRAME_RTMP_MAX_CONNECTIONS: '6',
    KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: '3',
    KEYFRAME_AUTH_MAX_FAILURES: '3',
    KEYFRAME_AUTH_FAILURE_WINDOW_SECONDS: '60',
    KEYFRAME_AUTH_BACKOFF_SECONDS: '2',
  });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await table?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('slow and idle connections (timeouts from KEYFRAME_RTMP_*_TIMEOUT_MS)', () => {
  it('closes a connection that sends nothing, or half a handshake, after the handshake timeout', async () => {
    const silent = await openFrom(quick.rtmpPort, '127.0.10.1');
    const half = await openFrom(quick.rtmpPort, '127.0.10.2');
    half.socket.write(handshake(new Rng(1)).subarray(0, 800));
    const [a, b] = await Promise.all([silent.closed, half.closed]);
    for (const ms of [a, b]) {
      expect(ms).toBeGreaterThanOrEqual(280);
      expect(ms).toBeLessThan(2000);
    }
    expect(half.received().length).toBe(0); // no S0/S1/S2 for an incomplete C1
  });

  it('closes a connection that completes the handshake and connects but never publishes, after the publish timeout', async () => {
    const conn = await openFrom(quick.rtmpPort, '127.0.10.3');
    conn.socket.write(Buffer.concat([handshake(new Rng(2)), new Transcript().connect().command('createStream', 2, [null]).bytes()]));
    const ms = await conn.closed;
    expect(conn.received().length).toBeGreaterThan(3073); // it was answered, then timed out
    expect(ms).toBeGreaterThanOrEqual(680);
    expect(ms).toBeLessThan(2500);
  });

  it('closes a publishing session that sends no media after the idle timeout, and ends its stream', async () => {
    const key = await channel();
    const { conn, code } = await publishFrom(quick.rtmpPort, key, '127.0.10.4');
    expect(code).toBe('NetStream.Publish.Start');
    const acceptedAt = Date.now() - conn.opened;
    const ms = await conn.closed;
    expect(ms - acceptedAt).toBeGreaterThanOrEqual(550);
    expect(ms - acceptedAt).toBeLessThan(3000);
    for (let i = 0; i < 100 && quick.streams.activeStreams > 0; i++) await sleep(50);
    expect(quick.streams.activeStreams).toBe(0);
  });
});

describe('connection caps (KEYFRAME_RTMP_MAX_CONNECTIONS, KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP)', () => {
  it('refuses the connection over the per-IP cap at accept, and still takes other addresses', async () => {
    const refusedBefore = capped.rtmp.refusedConnectionCount;
    const mine = [await openFrom(capped.rtmpPort, '127.0.20.1'), await openFrom(capped.rtmpPort, '127.0.20.1'), await openFrom(capped.rtmpPort, '127.0.20.1')];
    for (let i = 0; i < 50 && capped.rtmp.connectionCount < 3; i++) await sleep(10);
    const fourth = await openFrom(capped.rtmpPort, '127.0.20.1');
    expect(await fourth.closed).toBeLessThan(2000);
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    const other = await openFrom(capped.rtmpPort, '127.0.20.2');
    for (let i = 0; i < 50 && capped.rtmp.connectionCount < 4; i++) await sleep(10);
    expect(capped.rtmp.connectionCount).toBe(4);
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    for (const c of [...mine, other]) c.socket.destroy();
    for (let i = 0; i < 100 && capped.rtmp.connectionCount > 0; i++) await sleep(10);
    expect(capped.rtmp.connectionCount).toBe(0);
  });

  it('refuses connections over the total cap, whatever their address', async () => {
    const refusedBefore = capped.rtmp.refusedConnectionCount;
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push(await openFrom(capped.rtmpPort, `127.0.21.${i + 1}`));
    for (let i = 0; i < 50 && capped.rtmp.connectionCount < 6; i++) await sleep(10);
    expect(capped.rtmp.connectionCount).toBe(6);
    const extra = await openFrom(capped.rtmpPort, '127.0.21.99');
    expect(await extra.closed).toBeLessThan(2000);
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    for (const c of conns) c.socket.destroy();
    for (let i = 0; i < 100 && capped.rtmp.connectionCount > 0; i++) await sleep(10);
  });
});

describe('key guessing (KEYFRAME_AUTH_*)', () => {
  it('after N refused keys from one address, refuses its publishes for the backoff without looking keys up', async () => {
    const key = await channel();
    const guesser = '127.0.30.1';
    for (let i = 0; i < 3; i++) {
      const r = await publishFrom(capped.rtmpPort, newStreamKey(), guesser);
      expect(r.code).toBe('NetStream.Publish.BadName');
      await r.conn.closed;
    }
    const before = lookups;
    const throttled = await publishFrom(capped.rtmpPort, newStreamKey(), guesser);
    expect(throttled.code).toBe('NetStream.Publish.Denied');
    expect(throttled.description).toMatch(/^Too many refused stream keys from your address; retry in [12] s$/);
    // Even the right key is refused from the backing-off address, and nothing was looked up.
    const right = await publishFrom(capped.rtmpPort, key, guesser);
    expect(right.code).toBe('NetStream.Publish.Denied');
    expect(lookups).toBe(before);
    await Promise.all([throttled.conn.closed, right.conn.closed]);

    // Another address is not affected.
    const elsewhere = await publishFrom(capped.rtmpPort, key, '127.0.30.2');
    expect(elsewhere.code).toBe('NetStream.Publish.Start');
    elsewhere.conn.socket.destroy();
    for (let i = 0; i < 100 && capped.streams.activeStreams > 0; i++) await sleep(50);

    // After the backoff, the address may try again.
    await sleep(2100);
    const later = await publishFrom(capped.rtmpPort, key, guesser);
    expect(later.code).toBe('NetStream.Publish.Start');
    later.conn.socket.destroy();
    for (let i = 0; i < 100 && capped.streams.activeStreams > 0; i++) await sleep(50);
    expect(capped.authThrottle.trackedSources).toBeLessThanOrEqual(2);
  });
});
