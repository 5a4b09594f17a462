import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { FunctionUrlHandler } from '../../local/function-url';
import { createPlayerRoutes } from '../../local/player-routes';

function event(path: string, method = 'GET'): LambdaFunctionURLEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {},
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    isBase64Encoded: false,
  };
}

type Res = { statusCode: number; headers: Record<string, string>; body: string } | undefined;
const call = async (h: FunctionUrlHandler, path: string, method = 'GET') => (await h(event(path, method), {} as never, () => undefined)) as Res;

describe('player routes', () => {
  const routes = createPlayerRoutes({ store: {} as never, urls: { rtmpUrl: 'rtmp://x/live', playbackBaseUrl: 'http://x' } });

  it('serves the list page at / and the player at /watch/<id>, with a CSP and no third-party scripts', async () => {
    const list = await call(routes, '/');
    expect(list?.statusCode).toBe(200);
    expect(list?.headers['Content-Type']).toMatch(/^text\/html/);
    expect(list?.body).toContain('/watch/streams.js');
    expect(list?.body).toContain('data-player-link="/watch/{id}"');
    const watch = await call(routes, '/watch/AbCdEf123456');
    expect(watch?.statusCode).toBe(200);
    expect(watch?.body).toContain('<video id="video"');
    expect(watch?.body).toContain('data-state="offline"');
    expect(watch?.headers['Content-Security-Policy']).toContain("script-src 'self'");
    for (const page of [list, watch]) expect(page?.body).not.toMatch(/<script[^>]+src="(https?:)?\/\//);
    expect((await call(routes, '/watch/index.html'))?.statusCode).toBe(200);
  });

  it('serves the bundles built from the project (hls.js inside, no CDN)', async () => {
    const js = await call(routes, '/watch/player.js');
    expect(js?.statusCode).toBe(200);
    expect(js?.headers['Content-Type']).toMatch(/^text\/javascript/);
    expect(js?.body.length).toBeGreaterThan(100_000);
    expect(js?.body).not.toMatch(/cdn\.jsdelivr|unpkg\.com|cdnjs/);
    const worker = await call(routes, '/watch/hls.worker.js');
    expect(worker?.statusCode).toBe(200);
    expect((await call(routes, '/watch/streams.js'))?.statusCode).toBe(200);
    expect((await call(routes, '/watch/player.css'))?.headers['Content-Type']).toMatch(/^text\/css/);
    const head = await call(routes, '/watch/player.js', 'HEAD');
    expect(head?.statusCode).toBe(200);
    expect(head?.body).toBe('');
  });

  it('falls through (undefined) for everything it does not own', async () => {
    for (const path of ['/AbCdEf123456/index.m3u8', '/api/streams', '/watch/short', '/watch/AbCdEf123456/', '/watch/../x', '/other']) {
      expect(await call(routes, path), path).toBeUndefined();
    }
    expect(await call(routes, '/', 'POST')).toBeUndefined();
  });
});
