import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CACHE_SEGMENT, CACHE_THUMBNAIL, errorCacheControl, playlistCacheControl } from '../core/hls/cache-control';
import { type OriginPath, parseOriginRequest } from '../core/hls/paths';
import { HttpError } from '../core/errors';

/**
 * Maps a parsed request to the object's bytes in memory, or undefined when this task has no such stream or
 * object. An LL-HLS blocking request (`path.blocking`, or a part not written yet) may answer later, through a
 * promise; an HttpError it throws or rejects with is answered with its status.
 */
export type HlsObjectResolver = (path: OriginPath) => Buffer | undefined | Promise<Buffer | undefined>;

export interface HlsServerOptions {
  readonly resolve: HlsObjectResolver;
  readonly segmentSeconds: number;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': errorCacheControl(status) });
  res.end(`${message}\n`);
}

/**
 * The task's HLS server (port 8080, reachable only from the origin): playlists, init and media segments and
 * LL-HLS parts from the stream manager's in-memory store; blocking playlist reloads and part requests wait there. Same path rules and Cache-Control as the origin, so what the origin
 * relays is what the task meant.
 */
export function createHlsServer(opts: HlsServerOptions): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'Internal error');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'Method not allowed');
    let path: OriginPath;
    try {
      // The origin passes only the canonical blocking-reload query on; the same rule refuses anything else here.
      path = parseOriginRequest(req.url ?? '').target;
    } catch (err) {
      const status = err instanceof HttpError ? err.statusCode : 400;
      return sendError(res, status, 'Bad request');
    }
    let body: Buffer | undefined;
    try {
      body = await opts.resolve(path);
    } catch (err) {
      if (!(err instanceof HttpError) || err.statusCode >= 500) throw err;
      return sendError(res, err.statusCode, err.statusCode === 400 ? 'Bad request' : 'Not found');
    }
    if (res.destroyed) return;
    if (!body) return sendError(res, 404, 'Not found');
    const cacheControl =
      path.kind === 'playlist'
        ? playlistCacheControl(body.toString('utf8'), opts.segmentSeconds)
        : path.kind === 'thumbnail'
          ? CACHE_THUMBNAIL
          : CACHE_SEGMENT;
    res.writeHead(200, { 'content-type': path.contentType, 'content-length': body.length, 'cache-control': cacheControl });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

export interface Health {
  readonly draining: boolean;
  readonly streams: number;
  readonly connections: number;
}

/**
 * The health port (8081), never reachable from the origin:
 * - `GET /healthz`: 200 while serving, 503 while draining, so the NLB stops sending publishes;
 * - `GET /streams`: what the packager measures for each live stream (`StreamStatus[]`, for `keyframe status`).
 */
export function createHealthServer(health: () => Health, streams: () => readonly unknown[] = () => []): Server {
  return createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' });
      return res.end('Method not allowed\n');
    }
    if (req.url === '/streams') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(JSON.stringify({ streams: streams() }));
    }
    if (req.url !== '/healthz') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('Not found\n');
    }
    const h = health();
    res.writeHead(h.draining ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ status: h.draining ? 'draining' : 'ok', ...h }));
  });
}

export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
