import http from 'node:http';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { createFunctionUrlHandler } from '../../functions/origin/lambda';
import { createMemoryMetrics } from '../../functions/origin/metrics';
import { createOrigin } from '../../functions/origin/origin';
import { createHttpUpstream } from '../../functions/origin/upstream';
import { startFunctionUrlServer, type FunctionUrlHandler, type FunctionUrlServer } from '../../local/function-url';
import { fakeRoutes, makeRoute, memoryLogger, startFakeTask } from '../functions/origin/fake-task';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const ALL_BYTES = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serve(handler: FunctionUrlHandler, onError?: (err: unknown) => void): Promise<FunctionUrlServer> {
  const server = await startFunctionUrlServer({ handler, port: 0, host: '127.0.0.1', onError });
  cleanups.push(() => server.close());
  return server;
}

describe('local function-URL adapter', () => {
  it('turns a request into a 2.0 event and writes the structured result back', async () => {
    const events: LambdaFunctionURLEvent[] = [];
    const server = await serve(async (event) => {
      events.push(event);
      return {
        statusCode: 201,
        headers: { 'Content-Type': 'application/octet-stream', 'X-Answer': 42, 'X-Bool': true },
        cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
        body: Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8')
          .reverse()
          .toString('base64'),
        isBase64Encoded: true,
      };
    });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const res = await request(`${server.url}/a%20b/c..d?x=1&y=%2F&x=2`, {
      method: 'PUT',
      headers: { 'X-Custom-Header': 'Abc', 'Content-Type': 'application/octet-stream', Cookie: 'one=1; two=2', 'User-Agent': 'test-agent' },
      body: ALL_BYTES,
    });

    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-answer']).toBe('42');
    expect(res.headers['x-bool']).toBe('true');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(res.headers['content-length']).toBe(String(ALL_BYTES.length));
    expect(res.body.equals(Buffer.from(ALL_BYTES).reverse())).toBe(true);

    expect(events).toHaveLength(1);
    const e = events[0];
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/a%20b/c..d',
      rawQueryString: 'x=1&y=%2F&x=2',
      queryStringParameters: { x: '1,2', y: '/' },
      cookies: ['one=1', 'two=2'],
      isBase64Encoded: true,
      requestContext: {
        http: { method: 'PUT', path: '/a%20b/c..d', sourceIp: '127.0.0.1', userAgent: 'test-agent', protocol: 'HTTP/1.1' },
        routeKey: '$default',
        stage: '$default',
      },
    });
    expect(e.headers['x-custom-header']).toBe('Abc');
    expect(e.headers.cookie).toBeUndefined();
    expect(Object.keys(e.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(Buffer.from(e.body!, 'base64').equals(ALL_BYTES)).toBe(true);
    expect(typeof e.requestContext.requestId).toBe('string');
    expect(e.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('passes a text body as text and no body as none', async () => {
    const events: LambdaFunctionURLEvent[] = [];
    const server = await serve(async (event) => {
      events.push(event);
      return { statusCode: 204 };
    });
    await request(`${server.url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ü":1}') });
    await request(`${server.url}/empty`);
    expect(events[0]).toMatchObject({ body: '{"ü":1}', isBase64Encoded: false, rawPath: '/json', rawQueryString: '' });
    expect(events[1].body).toBeUndefined();
    expect(events[1].isBase64Encoded).toBe(false);
    expect(events[1].queryStringParameters).toBeUndefined();
  });

  it('reads a bare string or object result as a 200 JSON body, as the service does', async () => {
    const server = await serve(async (event) => (event.rawPath === '/s' ? 'hello' : ({ ok: true } as unknown as LambdaFunctionURLResult)));
    const s = await request(`${server.url}/s`);
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('application/json');
    expect(s.body.toString()).toBe('hello');
    const o = await request(`${server.url}/o`);
    expect(JSON.parse(o.body.toString())).toEqual({ ok: true });
  });

  it('supports callback-style handlers', async () => {
    const server = await serve((event, _context, callback) => {
      callback(null, { statusCode: 200, body: `cb ${event.requestContext.http.method}` });
    });
    const res = await request(`${server.url}/x`, { method: 'DELETE' });
    expect(res.body.toString()).toBe('cb DELETE');
  });

  it('answers 502 when the handler fails, without its error', async () => {
    const errors: unknown[] = [];
    const server = await serve(
      async () => {
        throw new Error('secret internals at 10.0.0.1');
      },
      (err) => errors.push(err),
    );
    const res = await request(`${server.url}/x`);
    expect(res.status).toBe(502);
    expect(res.body.toString()).not.toContain('10.0.0.1');
    expect(errors).toHaveLength(1);
  });

  it('answers 502 when the result exceeds the 6 MB payload limit', async () => {
    const errors: unknown[] = [];
    const server = await serve(
      async () => ({ statusCode: 200, body: Buffer.alloc(4_800_000).toString('base64'), isBase64Encoded: true }),
      (err) => errors.push(err),
    );
    const res = await request(`${server.url}/big`);
    expect(res.status).toBe(502);
    expect(String(errors[0])).toMatch(/exceeds/);
  });
});

describe('origin behind the local function-URL adapter', () => {
  it('serves playlists as text and segments as exact bytes, and flushes metrics per invocation', async () => {
    const ID = 'AbCdEf123456';
    const task = await startFakeTask();
    cleanups.push(() => task.close());
    const upstream = createHttpUpstream();
    cleanups.push(() => upstream.close());
    const routes = fakeRoutes();
    routes.routes.set(ID, makeRoute(ID, task.port));
    const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nk3j9x0a1b2_1.ts\n';
    task.files.set(`/${ID}/index.m3u8`, playlist);
    task.files.set(`/${ID}/k3j9x0a1b2_1.ts`, ALL_BYTES);

    let flushes = 0;
    const results: LambdaFunctionURLResult[] = [];
    const lambda = createFunctionUrlHandler(
      createOrigin({
        routes,
        fetchUpstream: upstream.fetch,
        routeCacheMs: 1000,
        upstreamTimeoutMs: 2000,
        segmentSeconds: 1,
        logger: memoryLogger(),
        metrics: createMemoryMetrics(),
      }),
      { flush: () => flushes++ },
    );
    const server = await serve(async (event) => {
      const result = await lambda(event);
      results.push(result);
      return result;
    });

    const m = await request(`${server.url}/${ID}/index.m3u8`);
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('application/vnd.apple.mpegurl');
    expect(m.headers['cache-control']).toBe('public, max-age=3');
    expect(m.headers['access-control-allow-origin']).toBe('*');
    expect(m.body.toString()).toBe(playlist);
    expect(results[0]).toMatchObject({ isBase64Encoded: false, body: playlist });

    const s = await request(`${server.url}/${ID}/k3j9x0a1b2_1.ts`);
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('video/mp2t');
    expect(s.headers['cache-control']).toBe('public, max-age=1209600, immutable');
    expect(s.body.equals(ALL_BYTES)).toBe(true);
    expect(results[1]).toMatchObject({ isBase64Encoded: true, body: ALL_BYTES.toString('base64') });

    const head = await request(`${server.url}/${ID}/k3j9x0a1b2_1.ts`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);

    const bad = await request(`${server.url}/${ID}/index.m3u8?x=1`);
    expect(bad.status).toBe(400);
    expect(bad.headers['cache-control']).toBe('public, max-age=1');

    const post = await request(`${server.url}/${ID}/index.m3u8`, { method: 'POST', body: Buffer.from('x') });
    expect(post.status).toBe(405);

    expect(flushes).toBe(5);
  });
});
