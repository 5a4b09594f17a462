/**
 * Path fuzz at the origin handler (the function-URL adapter over the origin core), with a real, counting
 * upstream HTTP server standing in for an ingest task, and the upstream guard.
 */
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaOrigin } from '../../functions/origin/build';
import { createFunctionUrlHandler, type OriginFunctionUrlHandler } from '../../functions/origin/lambda';
import { createMemoryMetrics } from '../../functions/origin/metrics';
import { createOrigin } from '../../functions/origin/origin';
import { createUpstreamGuard } from '../../functions/origin/upstream-guard';
import type { FetchUpstream } from '../../functions/origin/upstream';
import { staticPlaybackKey } from '../../core/playback-secret';
import { signPlaybackToken, playbackKey } from '../../core/playback-token';
import type { Route } from '../../core/model';
import { startFunctionUrlServer, type FunctionUrlServer } from '../../local/function-url';
import { rawGet } from '../support/media';
import { makeRoute, memoryLogger, startFakeTask, type FakeTask } from '../functions/origin/fake-task';

const KNOWN = 'AbCdEf123456';
const PRIVATE = 'PrIvAtE12345';
const SESSION = 'k3j9x0a1b2';
const RECORDING = 'mh3k2j1a0bcdefgh';
const SECRET = 'origin-fuzz-playback-secret-0123456789';
const TOKEN = signPlaybackToken(playbackKey(SECRET), PRIVATE, Math.floor(Date.now() / 1000) + 3600);

/** The contract of docs/architecture.md, written independently of functions/origin/paths.ts. */
const VALID_PATH = /^\/[A-Za-z0-9]{12}\/(?:[a-z0-9_]{1,32}\.m3u8|[a-z0-9]{10}_[0-9]{1,15}\.(?:ts|m4s)|[a-z0-9]{10}_init\.mp4|thumbnail\.jpg)$/;
const VALID_RECORDING_PATH =
  /^\/recordings\/[A-Za-z0-9]{12}\/[a-z0-9]{16}\/(?:index\.m3u8|poster\.jpg|[a-z0-9]{10}_init\.mp4|[a-z0-9]{10}_[0-9]{1,15}\.m4s)$/;
const VALID_QUERY = /^token=[0-9]{1,12}\.[A-Za-z0-9_-]{43}$/;

/** Would a correct origin ever fetch this from a task? (Then it is not a malformed request: skip it.) */
function couldReachTask(method: string, path: string): boolean {
  const m = method.toUpperCase();
  if (m !== 'GET' && m !== 'HEAD') return false;
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q + 1);
  // An empty query (`…m3u8?`) is no query: the function URL's rawQueryString is empty. The token is admitted on
  // playlists and thumbnails (live), and on recordings' playlists and posters.
  if (query !== '' && !((p.endsWith('.m3u8') || p.endsWith('.jpg')) && VALID_QUERY.test(query))) return false;
  // A well-formed recordings path may reach the recording look-up and the bucket: a valid request, skipped.
  if (VALID_RECORDING_PATH.test(p)) return true;
  if (!VALID_PATH.test(p)) return false;
  return p.startsWith(`/${KNOWN}/`) || p.startsWith(`/${PRIVATE}/`);
}

/** Recording look-ups and bucket reads: a malformed request must cause none. */
let storageReads = 0;

let task: FakeTask;
let handler: (e: LambdaFunctionURLEvent) => Promise<Exclude<LambdaFunctionURLResult, string>>;
let server: FunctionUrlServer;
let routeLookups = 0;
const logger = memoryLogger();

beforeAll(async () => {
  task = await startFakeTask();
  const routes = new Map<string, Route>([
    [KNOWN, makeRoute(KNOWN, task.port, { session: SESSION })],
    [PRIVATE, makeRoute(PRIVATE, task.port, { session: SESSION, private: true })],
  ]);
  const origin = createOrigin({
    routes: {
      async getRoute(id) {
        routeLookups++;
        const r = routes.get(id);
        return r && { ...r, expiresAt: Date.now() + 15_000 };
      },
    },
    routeCacheMs: 0,
    upstreamTimeoutMs: 1000,
    segmentSeconds: 1,
    logger,
    metrics: createMemoryMetrics(),
    upstreamGuard: createUpstreamGuard({ cidrs: '127.0.0.0/8', ports: '1024-65535' }),
    playbackKey: staticPlaybackKey(SECRET),
    recordings: {
      async getRecording() {
        storageReads++;
        return undefined;
      },
    },
    // Counts at the thin S3 adapter: recordings' serving against a real S3 server is test/functions/origin/recordings.test.ts.
    recordingObjects: {
      async get() {
        storageReads++;
        return undefined;
      },
    },
  });
  const h: OriginFunctionUrlHandler = createFunctionUrlHandler(origin);
  handler = async (e) => (await h(e)) as Exclude<LambdaFunctionURLResult, string>;
  server = await startFunctionUrlServer({ handler: (e) => handler(e) });
});

afterAll(async () => {
  await server?.close();
  await task?.close();
});

function event(method: string, target: string): LambdaFunctionURLEvent {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { host: 'x.lambda-url.eu-west-1.on.aws' },
    isBase64Encoded: false,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'x',
      domainName: 'x.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'x',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'fuzz' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
  };
}

// ---- the generator ----

const VALID_TARGETS = [
  `/${KNOWN}/index.m3u8`,
  `/${KNOWN}/${SESSION}_42.ts`,
  `/${KNOWN}/${SESSION}_7.m4s`,
  `/${KNOWN}/${SESSION}_init.mp4`,
  `/${KNOWN}/720p.m3u8`,
  `/${PRIVATE}/index.m3u8`,
  `/${PRIVATE}/${SESSION}_3.ts`,
  `/${KNOWN}/thumbnail.jpg`,
  `/recordings/${KNOWN}/${RECORDING}/index.m3u8`,
  `/recordings/${KNOWN}/${RECORDING}/poster.jpg`,
  `/recordings/${KNOWN}/${RECORDING}/${SESSION}_init.mp4`,
  `/recordings/${KNOWN}/${RECORDING}/${SESSION}_12.m4s`,
];

const traversal = fc.constantFrom(
  '/../../etc/passwd',
  `/${KNOWN}/../index.m3u8`,
  `/${KNOWN}/./index.m3u8`,
  `/${KNOWN}/%2e%2e/%2e%2e/etc/passwd`,
  `/${KNOWN}/..%2findex.m3u8`,
  `/${KNOWN}/%2E%2E%2Findex.m3u8`,
  `/${KNOWN}/..\\index.m3u8`,
  `/${KNOWN}\\index.m3u8`,
  `//${KNOWN}/index.m3u8`,
  `/${KNOWN}//index.m3u8`,
  `/./${KNOWN}/index.m3u8`,
  `/${KNOWN}/index.m3u8/`,
  `/${KNOWN}/index.m3u8/..`,
  `/${KNOWN}/%c0%ae%c0%ae/index.m3u8`,
  `/${KNOWN}/..;/index.m3u8`,
  `/${KNOWN}/index.m3u8;.ts`,
  `/${KNOWN}/index.m3u8%00.ts`,
  '/',
  '',
  '/api/streams/../../etc',
  `/${KNOWN}`,
  `/${KNOWN}/`,
  '/healthz',
  '/..',
  '/%2e%2e',
  '/etc/passwd',
  '/proc/self/environ',
  `/${KNOWN}/${SESSION}_1.ts/../../../../etc/shadow`,
  `/recordings/${KNOWN}/${RECORDING}/../../../etc/passwd`,
  `/recordings/${KNOWN}/../${KNOWN}/${RECORDING}/index.m3u8`,
  `/recordings/${KNOWN}/${RECORDING}/%2e%2e/index.m3u8`,
  `/recordings/${KNOWN}/${RECORDING}/..%2f..%2findex.m3u8`,
  `/recordings/${KNOWN}/${RECORDING}//index.m3u8`,
  `/recordings//${KNOWN}/${RECORDING}/index.m3u8`,
  `/recordings/${KNOWN}/${RECORDING}/index.m3u8/`,
  `/recordings/${KNOWN}/${RECORDING}`,
  `/recordings/${KNOWN}/${RECORDING}/`,
  `/recordings/${KNOWN}/`,
  '/recordings/',
  '/recordings',
  `/recordings/${KNOWN}/${RECORDING}/${SESSION}_1.0.m4s`,
  `/recordings/${KNOWN}/${RECORDING}/thumbnail.jpg`,
  `/${KNOWN}/thumbnail.jpg/..`,
  `/${KNOWN}/../thumbnail.jpg`,
);

/** Percent-encode some characters of a valid target (a decoding origin would fetch it: ours must not). */
const encoded = fc
  .tuple(fc.constantFrom(...VALID_TARGETS), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([t, idxs, upper]) => {
    const chars = [...t];
    for (const i of idxs) {
      const at = i % chars.length;
      const hex = chars[at].charCodeAt(0).toString(16).padStart(2, '0');
      chars[at] = `%${upper ? hex.toUpperCase() : hex}`;
    }
    return chars.join('');
  });

const overlong = fc.oneof(
  fc.nat({ max: 20_000 }).map((n) => `/${KNOWN}/${'a'.repeat(n + 200)}.m3u8`),
  fc.nat({ max: 50 }).map((n) => `/${'A'.repeat(13 + n)}/index.m3u8`),
  fc.nat({ max: 50 }).map((n) => `/${KNOWN}/${SESSION}_${'9'.repeat(16 + n)}.ts`),
  fc.nat({ max: 9 }).map((n) => `/${KNOWN}/${SESSION.slice(0, n)}_1.ts`),
  fc.nat({ max: 30 }).map((n) => `/${KNOWN}/${'x'.repeat(33 + n)}.m3u8`),
  fc.nat({ max: 4 }).map((n) => `/${KNOWN}${'/index.m3u8'.repeat(n + 2)}`),
  fc.constant(`/${'A'.repeat(190)}/index.m3u8`),
);

const unicode = fc.oneof(
  fc.constantFrom(
    `/${KNOWN.replace('A', '\u0410')}/index.m3u8`, // Cyrillic A
    `/${KNOWN.replace('A', '\uff21')}/index.m3u8`, // fullwidth A
    `/${KNOWN}/index\u2024m3u8`, // one dot leader
    `/${KNOWN}/index.m3u8\u0000`,
    `/${KNOWN}/\u202eindex.m3u8`,
    `/${KNOWN}/index.m\u0303u8`,
    `/${KNOWN}/💥.m3u8`,
    `/${KNOWN}/index.m3u8\r\nX-Injected: 1`,
    `/${KNOWN}/inde\u0301x.m3u8`,
    `/${KNOWN.toLowerCase()}/INDEX.M3U8`,
    `/${KNOWN}/${SESSION.toUpperCase()}_1.ts`,
    `/${KNOWN}/${SESSION}_١.ts`, // Arabic-Indic digit
  ),
  fc
    .tuple(fc.constantFrom(...VALID_TARGETS), fc.nat(), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }))
    .map(([t, i, s]) => t.slice(0, i % t.length) + s + t.slice(i % t.length)),
  fc.string({ unit: 'binary', maxLength: 64 }).map((s) => `/${s}`),
);

const queries = fc.oneof(
  fc.constantFrom(
    `/${KNOWN}/index.m3u8?`,
    `/${KNOWN}/index.m3u8?x=1`,
    `/${KNOWN}/index.m3u8?token=`,
    `/${KNOWN}/index.m3u8?token=abc`,
    `/${PRIVATE}/index.m3u8?token=${TOKEN}&x=1`,
    `/${PRIVATE}/index.m3u8?x=1&token=${TOKEN}`,
    `/${PRIVATE}/index.m3u8?token=${TOKEN}&token=${TOKEN}`,
    `/${PRIVATE}/index.m3u8?TOKEN=${TOKEN}`,
    `/${PRIVATE}/index.m3u8?token=${encodeURIComponent(TOKEN).replace('.', '%2E')}`,
    `/${PRIVATE}/${SESSION}_3.ts?token=${TOKEN}`,
    `/${KNOWN}/${SESSION}_init.mp4?token=${TOKEN}`,
    `/${PRIVATE}/index.m3u8?token=${TOKEN}#frag`,
    `/${KNOWN}/index.m3u8?../../etc/passwd`,
    `/api/streams?x=1`,
    `/${KNOWN}/thumbnail.jpg?x=1`,
    `/${KNOWN}/thumbnail.jpg?_HLS_msn=1`,
    `/${PRIVATE}/thumbnail.jpg?token=${TOKEN}&token=${TOKEN}`,
    `/recordings/${KNOWN}/${RECORDING}/${SESSION}_12.m4s?token=${TOKEN}`,
    `/recordings/${KNOWN}/${RECORDING}/${SESSION}_init.mp4?x=1`,
    `/recordings/${KNOWN}/${RECORDING}/index.m3u8?_HLS_msn=1`,
    `/recordings/${KNOWN}/${RECORDING}/poster.jpg?token=abc`,
  ),
  fc.tuple(fc.constantFrom(...VALID_TARGETS), fc.string({ maxLength: 80 })).map(([t, q]) => `${t}?${q}`),
);

/** Single-character mutations of valid targets. */
const mutated = fc
  .tuple(fc.constantFrom(...VALID_TARGETS), fc.nat(), fc.constantFrom('/', '.', '%', '\\', '?', '#', ';', ' ', '_', '-', '~', '*', '', 'Z', '0'))
  .map(([t, i, c]) => t.slice(0, i % t.length) + c + t.slice((i % t.length) + 1));

const path = fc.oneof(traversal, encoded, overlong, unicode, queries, mutated);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'TRACE',
      'CONNECT',
      'PROPFIND',
      'MKCOL',
      'LOCK',
      'PURGE',
      'BREW',
      'G3T',
      'GET ',
      ' GET',
      'GET\u0000',
      '',
    ),
  },
);

function checkResponse(status: number, headers: Record<string, unknown>, body: string, what: string): void {
  expect([400, 404, 405], what).toContain(status);
  expect(body, what).not.toMatch(/\bat [^\s]+ \(|\.ts:\d+|node:internal|Error:|127\.0\.0\.1|ECONN/);
  expect(body, what).not.toContain(String(task.port));
  if (body.length > 0) expect(Object.keys(JSON.parse(body)).sort(), what).toEqual(['error', 'message', 'statusCode']);
  const cacheControl = headers['Cache-Control'] ?? headers['cache-control'];
  expect(cacheControl, what).toBe('public, max-age=1');
}

describe('origin path fuzz', () => {
  it('answers ≥ 1,000 malformed requests with 400/404/405 only, no stack traces, and never reaches the task', async () => {
    const samples = fc.sample(fc.tuple(method, path), { numRuns: 1600, seed: 0x5eed });
    let sent = 0;
    let skipped = 0;
    const statuses: Record<number, number> = {};
    for (const [m, p] of samples) {
      if (couldReachTask(m, p)) {
        skipped++;
        continue;
      }
      const res = await handler(event(m, p));
      sent++;
      statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
      const body = res.isBase64Encoded ? Buffer.from(res.body ?? '', 'base64').toString() : (res.body ?? '');
      checkResponse(res.statusCode!, res.headers ?? {}, body, `${JSON.stringify(m)} ${JSON.stringify(p).slice(0, 200)}`);
    }
    expect(sent).toBeGreaterThanOrEqual(1000);
    const reached = [...task.requests.values()].reduce((a, b) => a + b, 0);
    expect(reached).toBe(0);
    expect(storageReads).toBe(0);
    console.log(
      `origin path fuzz: ${sent} requests (${skipped} generated valid ones skipped), statuses ${JSON.stringify(statuses)}, task requests ${reached}, route look-ups ${routeLookups}`,
    );
  });

  it('the same over real HTTP (the function-URL adapter), where the wire allows the request', async () => {
    const samples = fc.sample(fc.tuple(fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'), path), { numRuns: 400, seed: 0xbeef });
    let sent = 0;
    for (const [m, p] of samples) {
      if (couldReachTask(m, p) || m === 'OPTIONS') continue;
      let res: Awaited<ReturnType<typeof rawGet>>;
      try {
        res = await rawGet(server.url, p, m);
      } catch {
        continue; // the HTTP client refuses to put it on the wire (control characters, no leading slash)
      }
      sent++;
      // Node's own HTTP parser refused it before the handler (400, or 431 for a huge request line).
      if ((res.status === 400 || res.status === 431) && res.headers['content-type'] === undefined && res.body.length === 0) continue;
      checkResponse(res.status, res.headers, res.body.toString(), `${m} ${JSON.stringify(p).slice(0, 200)}`);
    }
    expect(sent).toBeGreaterThanOrEqual(200);
    expect([...task.requests.values()].reduce((a, b) => a + b, 0)).toBe(0);
    expect(storageReads).toBe(0);
  });

  it('still serves the valid requests (the fuzz did not break it)', async () => {
    task.files.set(`/${KNOWN}/index.m3u8`, '#EXTM3U\n#EXT-X-TARGETDURATION:1\n');
    const ok = await handler(event('GET', `/${KNOWN}/index.m3u8`));
    expect(ok.statusCode).toBe(200);
    expect(task.count(`/${KNOWN}/index.m3u8`)).toBe(1);
  });
});

describe('upstream guard', () => {
  function guarded(route: Partial<Route>, opts: { cidrs?: string; ports?: string } = {}) {
    const calls: string[] = [];
    const log = memoryLogger();
    const metrics = createMemoryMetrics();
    const fetchUpstream: FetchUpstream = async (req) => {
      calls.push(`${req.host}:${req.port}${req.path}`);
      return { statusCode: 200, headers: {}, body: Buffer.from('#EXTM3U\n') };
    };
    const origin = createOrigin({
      routes: { getRoute: async (id) => ({ ...makeRoute(id, 8080, { host: '10.0.3.7', session: SESSION }), ...route }) },
      fetchUpstream,
      routeCacheMs: 0,
      upstreamTimeoutMs: 1000,
      segmentSeconds: 1,
      logger: log,
      metrics,
      upstreamGuard: createUpstreamGuard({ cidrs: opts.cidrs ?? '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16', ports: opts.ports ?? '8080' }),
    });
    return { origin, calls, log, metrics };
  }

  it('fetches a route inside the private ranges on the configured port', async () => {
    const { origin, calls } = guarded({});
    expect((await origin({ method: 'GET', path: `/${KNOWN}/index.m3u8`, headers: {} })).statusCode).toBe(200);
    expect(calls).toEqual([`10.0.3.7:8080/${KNOWN}/index.m3u8`]);
  });

  const bad: Array<[string, Partial<Route>]> = [
    ['a public address', { host: '8.8.8.8' }],
    ['the instance metadata address', { host: '169.254.169.254', port: 80 }],
    ['loopback (the Lambda extensions)', { host: '127.0.0.1', port: 2773 }],
    ['a host name', { host: 'internal.example.com' }],
    ['a decimal-encoded address', { host: '167772161' }],
    ['IPv6 loopback', { host: '::1' }],
    ['an IPv4-mapped public address', { host: '::ffff:8.8.8.8' }],
    ['another port', { port: 22 }],
    ['port 0', { port: 0 }],
    ['a fractional port', { port: 8080.5 }],
    ['a route of another playback ID', { playbackId: 'ZZZZZZZZZZZZ' }],
    ['a malformed session', { session: '../../x' }],
  ];
  for (const [what, route] of bad) {
    it(`refuses ${what} with 502 and a log line, without connecting`, async () => {
      const { origin, calls, log, metrics } = guarded(route);
      for (const p of [`/${KNOWN}/index.m3u8`, `/${KNOWN}/${SESSION}_1.ts`]) {
        const res = await origin({ method: 'GET', path: p, headers: {} });
        expect(res.statusCode).toBe(502);
        expect(res.headers['Cache-Control']).toBe('no-store');
        expect(JSON.parse(res.body.toString())).toEqual({ error: 'BadGateway', message: 'Upstream refused', statusCode: 502 });
      }
      expect(calls).toEqual([]);
      const lines = log.lines.filter((e) => e.level === 'error' && e.message === 'origin request failed');
      expect(lines).toHaveLength(2);
      expect(JSON.stringify(lines[0].attributes)).toMatch(/UpstreamGuardError: route of AbCdEf123456 refused by the upstream guard/);
      expect(metrics.counts.UpstreamFailures).toBe(2);
    });
  }

  it('is on in the Lambda composition with the AWS defaults (RFC 1918, port 8080)', async () => {
    const fake = await startFakeTask();
    try {
      fake.files.set(`/${KNOWN}/index.m3u8`, '#EXTM3U\n');
      const store = {
        getRoute: async (id: string) => makeRoute(id, fake.port, { session: SESSION }),
        listRoutes: async () => [],
        listChannels: async () => [],
      };
      const lambda = createLambdaOrigin({
        env: { KEYFRAME_TABLE: 't', KEYFRAME_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
        routes: store,
      });
      const res = (await lambda(event('GET', `/${KNOWN}/index.m3u8`))) as Exclude<LambdaFunctionURLResult, string>;
      expect(res.statusCode).toBe(502);
      expect(fake.count(`/${KNOWN}/index.m3u8`)).toBe(0);
      const allowed = createLambdaOrigin({
        env: {
          KEYFRAME_TABLE: 't',
          KEYFRAME_UPSTREAM_CIDRS: '127.0.0.0/8',
          KEYFRAME_UPSTREAM_PORTS: '1024-65535',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
        routes: store,
      });
      expect(((await allowed(event('GET', `/${KNOWN}/index.m3u8`))) as Exclude<LambdaFunctionURLResult, string>).statusCode).toBe(200);
      expect(fake.count(`/${KNOWN}/index.m3u8`)).toBe(1);
    } finally {
      await fake.close();
    }
  });
});
