/**
 * Slow, idle and greedy clients against the real ingest (startIngest: RTMP server, stream manager, ffmpeg,
 * HLS server, on dynalite), configured only through the environment variables the task reads (written from the
 * ingest settings schema).
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
import type { Logger } from '../../core/logger';
import { ingestEnv } from '../support/settings';
import { EventLog, waitFor } from '../support/wait';
import { openFrom, publishFrom } from './helpers';

let table: TestTable;
let dir: string;
let quick: IngestApp;
let capped: IngestApp;
let lookups = 0;
const apps: IngestApp[] = [];

/** What the ingest logged (RTMP sessions and streams), each record with the time it was logged. */
interface LogRecord {
  readonly at: number;
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}
const logs = new EventLog<LogRecord>();
const recordingLogger = (): Logger => {
  const at =
    (level: string) =>
    (message: string, ...extra: Array<Record<string, unknown>>) =>
      logs.push({ ...Object.assign({}, ...extra), at: Date.now(), level, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
};
/** The record of a session from `remote` whose message matches. */
const fromRemote = (remote: string, message: RegExp) => (r: LogRecord) => r.remote === remote && message.test(r.message);

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

async function start(settings: Parameters<typeof ingestEnv>[0]): Promise<IngestApp> {
  const config = loadIngestConfig(
    ingestEnv({
      tableName: table.tableName,
      dynamoEndpoint: table.dynamo.endpoint,
      rtmpHost: '127.0.0.1',
      hlsHost: '127.0.0.1',
      rtmpPort: 0,
      hlsPort: 0,
      healthPort: 0,
      hlsDir: join(dir, String(apps.length)),
      reconnectGraceSeconds: 0,
      endLingerSeconds: 0,
      ...settings,
    }),
  );
  const app = await startIngest(config, {
    store: countingStore(),
    identity: { taskArn: `arn:test:task/${apps.length}`, ip: '127.0.0.1' },
    logger: recordingLogger(),
  });
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
  quick = await start({ handshakeTimeoutMs: 300, publishTimeoutMs: 700, idleTimeoutMs: 600 });
  capped = await start({
    maxConnections: 6,
    maxConnectionsPerIp: 3,
    authMaxFailures: 3,
    authFailureWindowSeconds: 60,
    authBackoffSeconds: 2,
  });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await table?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('slow and idle connections (timeouts from KEYFRAME_RTMP_*_TIMEOUT_MS)', () => {
  // The log names the timer that closed each session; the times only show it was not early. No upper bound
  // but a deadline: without the timer the connection would stay open.
  it('closes a connection that sends nothing, or half a handshake, after the handshake timeout', async () => {
    const silent = await openFrom(quick.rtmpPort, '127.0.10.1');
    const half = await openFrom(quick.rtmpPort, '127.0.10.2');
    half.socket.write(handshake(new Rng(1)).subarray(0, 800));
    const [a, b] = await Promise.all([silent.closed, half.closed]);
    for (const [remote, ms] of [
      ['127.0.10.1', a],
      ['127.0.10.2', b],
    ] as const) {
      expect(ms).toBeGreaterThanOrEqual(280);
      await logs.waitFor(`the handshake timeout of ${remote}`, fromRemote(remote, /handshake timeout/));
    }
    expect(half.received().length).toBe(0); // no S0/S1/S2 for an incomplete C1
  });

  it('closes a connection that completes the handshake and connects but never publishes, after the publish timeout', async () => {
    const conn = await openFrom(quick.rtmpPort, '127.0.10.3');
    conn.socket.write(Buffer.concat([handshake(new Rng(2)), new Transcript().connect().command('createStream', 2, [null]).bytes()]));
    const ms = await conn.closed;
    expect(conn.received().length).toBeGreaterThan(3073); // it was answered, then timed out
    expect(ms).toBeGreaterThanOrEqual(680);
    await logs.waitFor('the publish timeout of 127.0.10.3', fromRemote('127.0.10.3', /publish start timeout/));
  });

  it('closes a publishing session that sends no media after the idle timeout, and ends its stream', async () => {
    const key = await channel();
    const { conn, code } = await publishFrom(quick.rtmpPort, key, '127.0.10.4');
    expect(code).toBe('NetStream.Publish.Start');
    await conn.closed;
    // Both times are the server's own, taken as it logged: a timer can fire late under load, never early.
    const started = await logs.waitFor('the publish start of 127.0.10.4', fromRemote('127.0.10.4', /^rtmp publish started$/));
    const idle = await logs.waitFor('the idle timeout of 127.0.10.4', fromRemote('127.0.10.4', /idle timeout/));
    expect(idle.at - started.at).toBeGreaterThanOrEqual(590);
    await waitFor('the stream to end', () => quick.streams.activeStreams === 0, 10_000);
  });
});

describe('connection caps (KEYFRAME_RTMP_MAX_CONNECTIONS, KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP)', () => {
  it('refuses the connection over the per-IP cap at accept, and still takes other addresses', async () => {
    const refusedBefore = capped.rtmp.refusedConnectionCount;
    const mine = [
      await openFrom(capped.rtmpPort, '127.0.20.1'),
      await openFrom(capped.rtmpPort, '127.0.20.1'),
      await openFrom(capped.rtmpPort, '127.0.20.1'),
    ];
    await waitFor('the server to hold 3 connections', () => capped.rtmp.connectionCount === 3, 10_000);
    const fourth = await openFrom(capped.rtmpPort, '127.0.20.1');
    await fourth.closed;
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    const other = await openFrom(capped.rtmpPort, '127.0.20.2');
    await waitFor('the server to hold 4 connections', () => capped.rtmp.connectionCount === 4, 10_000);
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    for (const c of mine) expect(c.socket.destroyed, 'the first three stay open').toBe(false);
    for (const c of [...mine, other]) c.socket.destroy();
    await waitFor('the server to drop every connection', () => capped.rtmp.connectionCount === 0, 10_000);
  });

  it('refuses connections over the total cap, whatever their address', async () => {
    const refusedBefore = capped.rtmp.refusedConnectionCount;
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push(await openFrom(capped.rtmpPort, `127.0.21.${i + 1}`));
    await waitFor('the server to hold 6 connections', () => capped.rtmp.connectionCount === 6, 10_000);
    const extra = await openFrom(capped.rtmpPort, '127.0.21.99');
    await extra.closed;
    expect(capped.rtmp.refusedConnectionCount).toBe(refusedBefore + 1);
    for (const c of conns) expect(c.socket.destroyed, 'the six stay open').toBe(false);
    for (const c of conns) c.socket.destroy();
    await waitFor('the server to drop every connection', () => capped.rtmp.connectionCount === 0, 10_000);
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
    await waitFor('the stream from 127.0.30.2 to end', () => capped.streams.activeStreams === 0, 10_000);

    // After the backoff (2 s), the address may try again.
    await waitFor('the backoff of the guessing address to end', () => capped.authThrottle.check(guesser).allowed, 10_000);
    const later = await publishFrom(capped.rtmpPort, key, guesser);
    expect(later.code).toBe('NetStream.Publish.Start');
    later.conn.socket.destroy();
    await waitFor('the stream from the guessing address to end', () => capped.streams.activeStreams === 0, 10_000);
    expect(capped.authThrottle.trackedSources).toBeLessThanOrEqual(2);
  });
});
