/**
 * A stream key never appears in a URL, a playback ID, a log line, a metric, or an error message.
 *
 * The whole flow runs for real: channels created through the CLI code (one public, one private), ffmpeg
 * publishing with the right keys through the balancer into an ingest process, wrong keys (look-alikes that
 * contain the real key, the key pasted into the server URL, enough of them to start the throttle), playback
 * through the origin (playlists, segments, a minted private URL, refused tokens, the key put in request
 * paths), the end of the streams and the stack's shutdown. Everything any part said is captured: ingest task
 * output (logs and EMF metrics), this process's stdout and stderr (the origin logs and flushes its metrics
 * there), the stack's log, every HTTP response (status, headers, body), every RTMP answer, and every CLI
 * output after the one `keys create` that shows the key by design. Then it is all searched for each key,
 * its SHA-256 (the stored hash), and its base64.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { main } from '../../cli/main';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createDynamoClient } from '../../core/dynamo-store';
import { createRecordingS3Client } from '../../ingest/recorder';
import { hashStreamKey, keyFingerprint, PLAYBACK_ID_PATTERN } from '../../core/model';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { writeLocalState } from '../../local/state';
import { rawGet, startPublisher, type Publisher } from '../support/media';
import { waitFor } from '../support/wait';
import { openFrom, publishFrom } from './helpers';
import { handshake, Rng, Transcript } from '../../bench/fuzz/rtmp-cases';

const corpus: Array<{ source: string; text: string }> = [];
const note = (source: string, text: string) => corpus.push({ source, text });
let stack: LocalStack | undefined;
let restoreOutput: (() => void) | undefined;
const publishers: Publisher[] = [];
const savedEnv = { level: process.env.KEYFRAME_LOG_LEVEL, dir: process.env.KEYFRAME_STATE_DIR, metrics: process.env.POWERTOOLS_METRICS_DISABLED };

function captureOutput(): () => void {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab = (source: string) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      note(source, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = grab('stdout');
  process.stderr.write = grab('stderr');
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
}

async function http(path: string, method = 'GET'): Promise<{ status: number; body: Buffer }> {
  const res = await rawGet(stack!.httpUrl, path, method);
  note(`http ${method} ${path}`, `${res.status} ${JSON.stringify(res.headers)}\n${res.body.toString('latin1')}`);
  return res;
}

async function cli(...argv: string[]): Promise<string> {
  let out = '';
  await main(argv, (s) => (out += s));
  return out;
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kf-secrecy-'));
  process.env.KEYFRAME_STATE_DIR = dir;
  process.env.KEYFRAME_LOG_LEVEL = 'DEBUG'; // the origin's logger: everything it can say
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  restoreOutput = captureOutput();
  stack = await startLocalStack({
    rtmpPort: 0,
    httpPort: 0,
    stateDir: dir,
    taskEnv: {
      KEYFRAME_LOG_LEVEL: 'DEBUG',
      KEYFRAME_END_LINGER_SECONDS: '1',
      KEYFRAME_RECONNECT_GRACE_SECONDS: '1',
      KEYFRAME_AUTH_MAX_FAILURES: '4',
      KEYFRAME_AUTH_BACKOFF_SECONDS: '60',
    },
    onTaskLog: (task, line) => note(`task ${task.id}`, line),
    logger: {
      info: (m: string, a?: unknown) => note('stack', `${m} ${JSON.stringify(a)}`),
      warn: (m: string, a?: unknown) => note('stack', `${m} ${JSON.stringify(a)}`),
      error: (m: string, a?: unknown) => note('stack', `${m} ${JSON.stringify(a)}`),
    } as never,
  });
  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: stack.dynamoEndpoint,
    tableName: stack.tableName,
    rtmpUrl: stack.rtmpUrl,
    playbackBaseUrl: stack.httpUrl,
  });
});

afterAll(async () => {
  for (const p of publishers) await p.stop().catch(() => undefined);
  await stack?.stop();
  restoreOutput?.();
  for (const [k, v] of [
    ['KEYFRAME_LOG_LEVEL', savedEnv.level],
    ['KEYFRAME_STATE_DIR', savedEnv.dir],
    ['POWERTOOLS_METRICS_DISABLED', savedEnv.metrics],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('key secrecy, end to end', () => {
  it('no key, key hash or encoded key in any log line, metric, URL, playback ID, HTTP response or RTMP answer', async () => {
    // 1. Channels through the CLI. This output is the one place a key is shown: kept out of the corpus.
    // Both are recorded, so the recordings, posters and thumbnails are searched too.
    const pub = JSON.parse(await cli('keys', 'create', 'grep-public', '--record', '--json'));
    const priv = JSON.parse(await cli('keys', 'create', 'grep-private', '--private', '--record', '--json'));
    const keys = [pub.streamKey as string, priv.streamKey as string];
    for (const c of [pub, priv]) {
      expect(c.playbackId).toMatch(PLAYBACK_ID_PATTERN);
      note('urls', [c.playbackId, c.playbackUrl, c.rtmpUrl, c.playerUrl ?? ''].join('\n'));
    }

    // 2. The honest publishes.
    const rtmpPort = Number(new URL(stack!.rtmpUrl.replace('rtmp:', 'http:')).port);
    for (const c of [pub, priv]) publishers.push(startPublisher({ url: c.publishUrl, seconds: 8, gopSeconds: 1 }));
    const minted = JSON.parse(await cli('playback-url', 'grep-private', '--ttl', '600', '--json'));
    note('cli playback-url', JSON.stringify(minted));
    const privateUrl = new URL(minted.playbackUrl);
    const privatePlaylist = `${privateUrl.pathname}${privateUrl.search}`;
    const playlistOf = async (path: string) =>
      waitFor(`a playlist with segments at ${path.slice(0, 30)}`, async () => {
        const res = await http(path);
        return res.status === 200 && res.body.toString().includes('.m4s') ? res.body.toString() : undefined;
      });
    const [pubList, privList] = await Promise.all([playlistOf(`/${pub.playbackId}/index.m3u8`), playlistOf(privatePlaylist)]);

    // 3. Wrong keys while they stream: look-alikes, the key in the server URL, enough to start the throttle.
    const wrong = [
      `${keys[0]}X`,
      `X${keys[0]}`,
      `${keys[0].slice(0, -1)}${keys[0].endsWith('A') ? 'B' : 'A'}`,
      `${keys[1]}/${keys[0]}`,
      `${keys[1]}X`,
      `${keys[0]}${keys[1]}`,
    ];
    const answers: string[] = [];
    for (const key of wrong) {
      const r = await publishFrom(rtmpPort, key);
      expect(['NetStream.Publish.BadName', 'NetStream.Publish.Denied']).toContain(r.code);
      answers.push(`${r.code} ${r.description}`);
      note('rtmp answer', r.conn.received().toString('latin1'));
      await r.conn.closed;
    }
    expect(answers.some((a) => a.includes('Too many refused stream keys'))).toBe(true);
    const pasted = await openFrom(rtmpPort);
    pasted.socket.write(
      Buffer.concat([handshake(new Rng(9)), new Transcript().connect(`live/${keys[0]}`, { tcUrl: `rtmp://127.0.0.1/live/${keys[0]}` }).bytes()]),
    );
    await pasted.closed;
    note('rtmp answer', pasted.received().toString('latin1'));
    const intruder = startPublisher({ url: `${stack!.rtmpUrl}/${keys[1]}X`, seconds: 3 });
    expect((await intruder.exited).code).not.toBe(0);

    // 4. Playback through the origin, right and wrong.
    const segment = (list: string) => list.split('\n').find((l) => l.endsWith('.m4s'))!;
    expect((await http(`/${pub.playbackId}/${segment(pubList)}`)).status).toBe(200);
    expect((await http(`/${priv.playbackId}/${segment(privList)}`)).status).toBe(200);
    expect((await http(`/${pub.playbackId}/index.m3u8`, 'HEAD')).status).toBe(200);
    expect((await http(`/${priv.playbackId}/index.m3u8`)).status).toBe(403);
    expect((await http(`${privateUrl.pathname}?token=${minted.playbackUrl.split('token=')[1].slice(0, -3)}abc`)).status).toBe(403);
    for (const path of [
      `/${keys[0]}/index.m3u8`,
      `/live/${keys[0]}`,
      `/${pub.playbackId}/${keys[0]}.ts`,
      `/${pub.playbackId}/index.m3u8?key=${keys[0]}`,
      `/${keys[1]}`,
      `/${pub.playbackId}/index.m3u8?token=${keys[0]}`,
    ]) {
      expect((await http(path)).status).toBe(400);
    }
    expect((await http(`/${pub.playbackId}/index.m3u8`, 'POST')).status).toBe(405);
    await http('/api/streams');
    note('cli keys list', await cli('keys', 'list', '--json'));
    note('cli keys list', await cli('keys', 'list'));

    // The table holds the hashes, never the keys.
    const client = createDynamoClient({ endpoint: stack!.dynamoEndpoint });
    const items = JSON.stringify((await client.send(new ScanCommand({ TableName: stack!.tableName }))).Items);
    client.destroy();
    for (const k of keys) {
      expect(items).toContain(hashStreamKey(k));
      expect(items).not.toContain(k);
      expect(items).not.toContain(k.slice(3));
    }

    // Thumbnails and status while live.
    await waitFor('the public thumbnail', async () => ((await http(`/${pub.playbackId}/thumbnail.jpg`)).status === 200 ? true : undefined));
    note('cli status', await cli('status', '--json'));
    note('cli status', await cli('status'));

    // 5. The end: publishers finish, streams end, the stack shuts down (the tasks flush their metrics).
    for (const p of publishers) expect((await p.exited).code).toBe(0);
    await waitFor('the routes to be removed', async () => ((await stack!.store.listRoutes()).length === 0 ? true : undefined), 15_000);
    // Every recording output: the CLI's listing, the playlists and posters through the origin, and every object
    // in the bucket (bodies and headers).
    const recordings = await waitFor('both recordings ready', async () => {
      const list = JSON.parse(await cli('recordings', 'list', '--json')) as { id: string; playbackId: string; state: string }[];
      return list.length === 2 && list.every((r) => r.state === 'ready') ? list : undefined;
    });
    note('cli recordings list', JSON.stringify(recordings));
    note('cli recordings list', await cli('recordings', 'list'));
    const pubRecording = recordings.find((r) => r.playbackId === pub.playbackId)!;
    expect((await http(`/recordings/${pub.playbackId}/${pubRecording.id}/index.m3u8`)).status).toBe(200);
    await http(`/recordings/${pub.playbackId}/${pubRecording.id}/poster.jpg`);
    const s3 = createRecordingS3Client({ endpoint: stack!.s3.endpoint });
    const objects = (await s3.send(new ListObjectsV2Command({ Bucket: stack!.recordingBucket }))).Contents ?? [];
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const got = await s3.send(new GetObjectCommand({ Bucket: stack!.recordingBucket, Key: o.Key! }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      note(`s3 ${o.Key}`, `${o.Key} ${got.ContentType} ${got.CacheControl} ${JSON.stringify(got.Metadata)}\n${body.toString('latin1')}`);
    }
    s3.destroy();
    await stack!.stop();
    // The local functions publish their metrics to memory (nothing printed): they are part of the corpus.
    note('metrics', JSON.stringify(stack!.metrics.published));
    stack = undefined;
    restoreOutput?.();
    restoreOutput = undefined;

    // 6. The search.
    const needles = keys.flatMap((k) => [k, hashStreamKey(k), Buffer.from(k).toString('base64'), encodeURIComponent(k)]);
    const matches = corpus.filter((c) => needles.some((n) => c.text.includes(n)));
    const text = corpus.map((c) => c.text).join('\n');
    const stats = {
      entries: corpus.length,
      bytes: text.length,
      taskLines: corpus.filter((c) => c.source.startsWith('task')).length,
      httpResponses: corpus.filter((c) => c.source.startsWith('http')).length,
      rtmpAnswers: corpus.filter((c) => c.source === 'rtmp answer').length,
      recordingObjects: corpus.filter((c) => c.source.startsWith('s3 ')).length,
      emfMetricLines: (text.match(/"CloudWatchMetrics"/g) ?? []).length,
      fingerprintsLogged: (text.match(new RegExp(wrong.map(keyFingerprint).join('|'), 'g')) ?? []).length,
      matches: matches.length,
    };
    // Make sure the corpus is the real thing: refusals, the origin's request logs and metrics were captured.
    expect(stats.taskLines).toBeGreaterThan(20);
    expect(text).toContain('publish refused: unknown or revoked stream key');
    expect(text).toContain('"message":"origin request"');
    expect(text).toContain('"ActiveStreams"');
    expect(text).toContain('"OriginRequests"');
    expect(stats.fingerprintsLogged).toBeGreaterThan(0);
    console.log(`key grep: ${JSON.stringify(stats)}`);
    expect(matches.map((m) => `${m.source}: ${m.text.slice(0, 200)}`)).toEqual([]);
  });
});
