import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import type { StackUrls } from '../core/channels';
import type { RoutingStore } from '../core/store';
import type { FunctionUrlHandler } from './function-url';
import { buildPlayerAssets, type PlayerAssets } from '../player/build';
import { STYLES, streamsPage, watchPage } from '../player/pages';

/**
 * The player's pages on the local stack, in front of the origin (`httpRoutes` in local/stack.ts):
 *   `/`                                      the stream list (it reads `GET /api/streams` from the origin)
 *   `/watch/<playbackId>`, `/watch/index.html?v=<playbackId>`   the player
 *   `/watch/player.js|streams.js|hls.worker.js|player.css|streams.html`   assets
 * Anything else returns undefined and falls through to the origin (HLS and `/api/streams`).
 * The scripts are bundled in memory on the first request, so `npm start` needs no build step.
 */

const WATCH_PATH = /^\/watch\/[A-Za-z0-9]{12}$/;

/** Pages: scripts only from this origin; media from MSE blobs; hls.js's worker from /watch/. */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

type Result = Exclude<LambdaFunctionURLResult, string>;

function text(body: string, contentType: string, extra: Record<string, string> = {}): Result {
  return {
    statusCode: 200,
    headers: {
      'Content-Type': contentType,
      // The local stack serves what is on disk now: always revalidate.
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...extra,
    },
    body,
  };
}

export function createPlayerRoutes(deps: { store: RoutingStore; urls: StackUrls }): FunctionUrlHandler {
  // The listing is the origin's `/api/streams` (over the same store), so the pages need nothing else here.
  void deps;
  let assets: Promise<PlayerAssets> | undefined;
  const getAssets = () => {
    assets ??= buildPlayerAssets().catch((err) => {
      assets = undefined;
      throw err;
    });
    return assets;
  };
  const html = (body: string) => text(body, 'text/html; charset=utf-8', { 'Content-Security-Policy': PAGE_CSP });
  const listPage = streamsPage({ playerLink: '/watch/{id}', api: '/api/streams' });
  const playerPage = watchPage({ streamsHref: '/' });

  const route = async (event: LambdaFunctionURLEvent): Promise<Result | undefined> => {
    const method = event.requestContext.http.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const path = event.rawPath;
    let res: Result | undefined;
    if (path === '/' || path === '/watch/streams.html') res = html(listPage);
    else if (WATCH_PATH.test(path) || path === '/watch/index.html' || path === '/watch/') res = html(playerPage);
    else if (path === '/watch/player.css') res = text(STYLES, 'text/css; charset=utf-8');
    else if (path === '/watch/player.js' || path === '/watch/streams.js' || path === '/watch/hls.worker.js') {
      const name = path.slice('/watch/'.length) as keyof PlayerAssets['scripts'];
      res = text((await getAssets()).scripts[name], 'text/javascript; charset=utf-8');
    } else if (path === '/favicon.ico') {
      res = { statusCode: 204, headers: { 'Cache-Control': 'public, max-age=86400' }, body: '' };
    }
    if (res && method === 'HEAD') res = { ...res, body: '' };
    return res;
  };
  return (event) => route(event);
}
