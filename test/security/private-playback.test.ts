/**
 * Private channels at the origin: playlists need a signed, expiring token for their playback ID; segments
 * need none; the token is the only query string allowed. Also the CLI (`keys create --private`,
 * `playback-url`) and the route carrying the channel's flag through the real table.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { deployedPlaybackSecret } from '../../cli/secrets';
import { createLambdaOrigin } from '../../functions/origin/build';
import { createMemoryMetrics } from '../../functions/origin/metrics';
import { createOrigin, withToken, type Origin, type OriginDeps } from '../../functions/origin/origin';
import { createHttpUpstream, type HttpUpstream } from '../../functions/origin/upstream';
import { createUpstreamGuard } from '../../functions/origin/upstream-guard';
import { hashStreamKey, newPlaybackId, newStreamKey } from '../../core/model';
import { memoizedPlaybackKey, staticPlaybackKey } from '../../core/playback-secret';
import { playbackKey, signPlaybackToken, verifyPlaybackToken } from '../../core/playback-token';
import { writeLocalState } from '../../local/state';
import { startTestTable, type TestTable } from '../support/dynamo';
import { makeRoute, memoryLogger, startFakeTask, type FakeTask } from '../functions/origin/fake-task';

const SECRET = 'private-playback-test-secret-0123456789';
const KEY = playbackKey(SECRET);
const PRIV = 'PrivateChan1';
const PUB = 'PublicChan12';
const MV = 'PrivateMulti';
const S = 'k3j9x0a1b2';
const MEDIA = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:1', '#EXTINF:2.000,', `${S}_1.ts`, ''].join('\n');
const MULTI = [
  '#EXTM3U',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=2500000,AUDIO="a"',
  '720p.m3u8',
  '',
].join('\n');

let task: FakeTask;
let upstream: HttpUpstream;
let logger: ReturnType<typeof memoryLogger>;
const exp = () => Math.floor(Date.now() / 1000) + 600;

function origin(over: Partial<OriginDeps> = {}): Origin {
  const routes = new Map([
    [PRIV, makeRoute(PRIV, task.port, { private: true })],
    [PUB, makeRoute(PUB, task.port)],
    [MV, makeRoute(MV, task.port, { private: true })],
  ]);
  return createOrigin({
    routes: { getRoute: async (id) => routes.get(id) },
    fetchUpstream: upstream.fetch,
    routeCacheMs: 1000,
    upstreamTimeoutMs: 2000,
    segmentSeconds: 1,
    logger,
    metrics: createMemoryMetrics(),
    upstreamGuard: createUpstreamGuard({ cidrs: '127.0.0.0/8', ports: '*' }),
    playbackKey: staticPlaybackKey(SECRET),
    ...over,
  });
}
const get = (o: Origin, path: string, method = 'GET') => o({ method, path, headers: {} });

beforeEach(async () => {
  task = await startFakeTask();
  upstream = createHttpUpstream();
  logger = memoryLogger();
  for (const id of [PRIV, PUB]) {
    task.files.set(`/${id}/index.m3u8`, MEDIA);
    task.files.set(`/${id}/${S}_1.ts`, Buffer.from([1, 2, 3]));
  }
  task.files.set(`/${MV}/index.m3u8`, MULTI);
});
afterEach(async () => {
  upstream.close();
  await task.close();
});

describe('private channels at the origin', () => {
  it('serves the playlist with a valid token, and the segments without one', async () => {
    const o = origin();
    const token = signPlaybackToken(KEY, PRIV, exp());
    const res = await get(o, `/${PRIV}/index.m3u8?token=${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe(MEDIA);
    expect(res.headers['Cache-Control']).toBe('public, max-age=1');
    expect((await get(o, `/${PRIV}/${S}_1.ts`)).statusCode).toBe(200);
    expect(task.count(`/${PRIV}/index.m3u8`)).toBe(1);
    // The token never reaches the task, and is not logged.
    expect([...task.requests.keys()].some((p) => p.includes('token'))).toBe(false);
    expect(JSON.stringify(logger.lines)).not.toContain(token.split('.')[1]);
  });

  it('answers 403 (cached one second) for a missing, expired, forged or other-channel token, without fetching', async () => {
    const o = origin();
    const past = Math.floor(Date.now() / 1000) - 1;
    const cases: Array<[string, string]> = [
      ['', 'Playback token required'],
      [`?token=${signPlaybackToken(KEY, PRIV, past)}`, 'Playback token expired'],
      [`?token=${signPlaybackToken(playbackKey('a-different-secret-0123456789abcdef'), PRIV, exp())}`, 'Playback token invalid'],
      [`?token=${signPlaybackToken(KEY, PUB, exp())}`, 'Playback token invalid'],
      [`?token=${exp()}.${'A'.repeat(43)}`, 'Playback token invalid'],
    ];
    for (const [query, message] of cases) {
      for (const method of ['GET', 'HEAD']) {
        const res = await get(o, `/${PRIV}/index.m3u8${query}`, method);
        expect(res.statusCode, query).toBe(403);
        expect(res.headers['Cache-Control']).toBe('public, max-age=1');
        if (method === 'GET') expect(JSON.parse(res.body.toString())).toEqual({ error: 'Forbidden', message, statusCode: 403 });
      }
    }
    expect(task.count(`/${PRIV}/index.m3u8`)).toBe(0);
    // Rendition playlists need it as much as index.m3u8 does.
    expect((await get(o, `/${PRIV}/720p.m3u8`)).statusCode).toBe(403);
  });

  it('allows exactly one strict token on playlists only; anything else is 400', async () => {
    const o = origin();
    const token = signPlaybackToken(KEY, PRIV, exp());
    for (const path of [
      `/${PRIV}/${S}_1.ts?token=${token}`,
      `/${PRIV}/index.m3u8?token=${token}&token=${token}`,
      `/${PRIV}/index.m3u8?token=${token}&x=1`,
      `/${PRIV}/index.m3u8?token=${token.replace('.', '%2E')}`,
      `/${PUB}/index.m3u8?x=1`,
      `/${PUB}/index.m3u8?token=nope`,
    ]) {
      expect((await get(o, path)).statusCode, path).toBe(400);
    }
    // A token on a public channel's playlist is harmless: served (CloudFront caches it under its own key).
    expect((await get(o, `/${PUB}/index.m3u8?token=${signPlaybackToken(KEY, PUB, exp())}`)).statusCode).toBe(200);
    expect((await get(o, `/${PUB}/index.m3u8`)).statusCode).toBe(200);
    // A refused query is logged with the token redacted.
    await get(o, `/${PRIV}/index.m3u8?token=${token}&x=1`);
    expect(JSON.stringify(logger.lines)).not.toContain(token.split('.')[1]);
  });

  it('carries the token into the rendition URIs of a private multivariant playlist', async () => {
    const token = signPlaybackToken(KEY, MV, exp());
    const res = await get(origin(), `/${MV}/index.m3u8?token=${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.body.toString()).toBe(withToken(MULTI, token));
    expect(res.body.toString()).toContain(`URI="audio.m3u8?token=${token}"`);
    expect(res.body.toString()).toContain(`\n720p.m3u8?token=${token}\n`);
  });

  it('is 503, not open, when private playback is not configured or the secret cannot be read', async () => {
    const token = signPlaybackToken(KEY, PRIV, exp());
    const none = await get(origin({ playbackKey: undefined }), `/${PRIV}/index.m3u8?token=${token}`);
    expect(none.statusCode).toBe(503);
    expect(none.headers['Cache-Control']).toBe('no-store');
    const broken = await get(
      origin({ playbackKey: memoizedPlaybackKey(async () => Promise.reject(new Error('extension down'))) }),
      `/${PRIV}/index.m3u8?token=${token}`,
    );
    expect(broken.statusCode).toBe(503);
    // Public channels do not depend on the secret at all.
    expect((await get(origin({ playbackKey: undefined }), `/${PUB}/index.m3u8`)).statusCode).toBe(200);
    expect(task.count(`/${PRIV}/index.m3u8`)).toBe(0);
  });

  it('keeps private channels out of the public stream list', async () => {
    const route = (id: string) => makeRoute(id, task.port);
    const channel = (playbackId: string, name: string, priv: boolean) => ({
      playbackId,
      name,
      keyHash: 'h',
      state: 'active' as const,
      createdAt: '2026-01-01T00:00:00Z',
      ...(priv ? { private: true } : {}),
    });
    const lambda = createLambdaOrigin({
      env: { KEYFRAME_TABLE: 't', KEYFRAME_UPSTREAM_CIDRS: '127.0.0.0/8', KEYFRAME_UPSTREAM_PORTS: '*', POWERTOOLS_METRICS_DISABLED: 'true' },
      routes: {
        getRoute: async (id) => route(id),
        listRoutes: async () => [route(PRIV), route(PUB)],
        listChannels: async () => [channel(PRIV, 'secret-show', true), channel(PUB, 'open-show', false)],
      },
    });
    const res = (await lambda({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/api/streams',
      rawQueryString: '',
      headers: {},
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/api/streams' } } as never,
    })) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(PUB);
    expect(res.body).not.toContain(PRIV);
    expect(res.body).not.toContain('secret-show');
  });
});

describe('private channels in the table and the CLI', () => {
  let t: TestTable;
  let dir: string;
  const saved = { dir: process.env.KEYFRAME_STATE_DIR, secret: process.env.KEYFRAME_PLAYBACK_SECRET };

  beforeAll(async () => {
    t = await startTestTable();
    dir = await mkdtemp(join(tmpdir(), 'kf-private-'));
    process.env.KEYFRAME_STATE_DIR = dir;
    delete process.env.KEYFRAME_PLAYBACK_SECRET;
    await writeLocalState(dir, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      dynamoEndpoint: t.dynamo.endpoint,
      tableName: t.tableName,
      rtmpUrl: 'rtmp://127.0.0.1:1935/live',
      playbackBaseUrl: 'http://127.0.0.1:8080',
    });
  });
  afterAll(async () => {
    if (saved.dir === undefined) delete process.env.KEYFRAME_STATE_DIR;
    else process.env.KEYFRAME_STATE_DIR = saved.dir;
    if (saved.secret !== undefined) process.env.KEYFRAME_PLAYBACK_SECRET = saved.secret;
    await t.close();
  });

  async function run(...argv: string[]): Promise<string> {
    let out = '';
    await main(argv, (s) => (out += s));
    return out;
  }

  it('the private flag goes channel → route, and only when set', async () => {
    const playbackId = newPlaybackId();
    const created = await t.store.createChannel({ name: 'flagged', keyHash: hashStreamKey(newStreamKey()), playbackId, private: true });
    expect(created.private).toBe(true);
    expect((await t.store.getChannelByKeyHash(created.keyHash))?.private).toBe(true);
    await t.store.putRoute(makeRoute(playbackId, 8080, { private: true }));
    expect((await t.store.getRoute(playbackId))?.private).toBe(true);
    const plain = newPlaybackId();
    await t.store.putRoute(makeRoute(plain, 8080));
    expect(await t.store.getRoute(plain)).not.toHaveProperty('private');
  });

  it('keys create --private, then playback-url mints a token the origin accepts', async () => {
    const created = JSON.parse(await run('keys', 'create', 'members-only', '--private', '--json'));
    expect(created.private).toBe(true);
    expect((await t.store.getChannelByKeyHash(hashStreamKey(created.streamKey)))?.private).toBe(true);
    expect(await run('keys', 'create', 'members-2', '--private')).toContain('keyframe playback-url members-2');

    // No secret yet: a clear error. Then the one the local stack saves.
    await expect(run('playback-url', 'members-only')).rejects.toThrow(/no playback secret in .*playback-secret: start the local stack once/);
    await writeFile(join(dir, 'playback-secret'), `${SECRET}\n`, { mode: 0o600 });
    const mintedFrom = Date.now();
    const minted = JSON.parse(await run('playback-url', created.playbackId, '--ttl', '600', '--json'));
    const mintedBy = Date.now();
    expect(minted.playbackUrl).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:8080/${created.playbackId}/index\\.m3u8\\?token=\\d{10}\\.[A-Za-z0-9_-]{43}$`),
    );
    const token = new URL(minted.playbackUrl).searchParams.get('token')!;
    expect(verifyPlaybackToken(KEY, created.playbackId, token)).toBe('valid');
    const expMs = Number(token.split('.')[0]) * 1000;
    // 600 s from the moment it was minted, rounded up to the minute: bounded by the clock around the call.
    expect(expMs).toBeGreaterThanOrEqual(mintedFrom + 600_000);
    expect(expMs).toBeLessThan(mintedBy + 660_000);
    expect(new Date(minted.expiresAt).getTime()).toBe(expMs);
    expect(minted.playbackUrl).not.toContain(created.streamKey);

    const text = await run('playback-url', 'members-only');
    expect(text).toMatch(/\?token=.*\n\(private channel "members-only"; this URL works until /);
    const listed = JSON.parse(await run('keys', 'list', '--json'));
    expect(listed.find((c: { name: string }) => c.name === 'members-only').private).toBe(true);
  });

  it('playback-url for a public channel prints its plain URL; bad input is a usage error', async () => {
    const created = JSON.parse(await run('keys', 'create', 'open-house', '--json'));
    expect(created.private).toBe(false);
    expect(await run('playback-url', 'open-house')).toBe(`${created.playbackUrl}\n(channel "open-house" is public: no token needed)\n`);
    await expect(run('playback-url')).rejects.toThrow('playback-url needs a channel name or playback ID');
    await expect(run('playback-url', 'nobody')).rejects.toThrow('no active channel named or with playback ID "nobody"');
    await expect(run('playback-url', 'members-only', '--ttl', 'soon')).rejects.toThrow('--ttl must be a whole number of seconds');
    await expect(run('playback-url', 'members-only', '--ttl', '10')).rejects.toThrow(/token lifetime must be an integer from 60/);
    await expect(run('keys', 'list', '--private')).rejects.toThrow('--private applies to keys create only');
  });

  it('for a deployed stack, reads the secret from Secrets Manager by the given ARN (through a tiny interface)', async () => {
    const asked: string[] = [];
    const key = await deployedPlaybackSecret(
      { secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:kf' },
      {},
      {
        getSecretString: async (id) => (asked.push(id), SECRET),
      },
    );
    expect(key.equals(KEY)).toBe(true);
    expect(asked).toEqual(['arn:aws:secretsmanager:eu-west-1:1:secret:kf']);
    await expect(deployedPlaybackSecret({}, {})).rejects.toThrow(/pass --secret-id/);
  });
});
