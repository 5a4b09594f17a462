import { BadRequestError, MethodNotAllowedError } from '../../../core/errors';
import { parseOriginPath, type OriginPath } from '../../../core/hls/paths';
import { tokenFromQuery } from '../../../core/playback-token';
import { STREAMS_PATH } from '../streams';
import type { OriginRequest, RequestInfo } from './types';

/** What a request asks for, once its method, path and query are checked. */
export type ParsedRequest =
  | { readonly kind: 'preflight' }
  | { readonly kind: 'streams'; readonly head: boolean }
  | { readonly kind: 'hls'; readonly head: boolean; readonly target: OriginPath; readonly token: string | undefined };

/**
 * Stage 1, parse: the method, the one non-HLS path (`/api/streams`, when the listing is on), the strict HLS
 * path rule (core/hls/paths.ts), and the one query string allowed: `?token=<exp>.<sig>` on a playlist.
 * Anything else is a 400 or 405 here, before any look-up.
 */
export function parseRequest(req: OriginRequest, opts: { readonly streams: boolean }, info: RequestInfo): ParsedRequest {
  const method = req.method.toUpperCase();
  if (method === 'OPTIONS') return { kind: 'preflight' };
  if (method !== 'GET' && method !== 'HEAD') throw new MethodNotAllowedError();
  const head = method === 'HEAD';
  if (opts.streams && req.path === STREAMS_PATH) {
    info.file = STREAMS_PATH;
    return { kind: 'streams', head };
  }
  const q = req.path.indexOf('?');
  const target = parseOriginPath(q === -1 ? req.path : req.path.slice(0, q));
  let token: string | undefined;
  if (q !== -1) {
    const fromQuery = target.kind === 'playlist' ? tokenFromQuery(req.path.slice(q + 1)) : null;
    if (typeof fromQuery !== 'string') throw new BadRequestError('Invalid query string');
    token = fromQuery;
  }
  info.playbackId = target.playbackId;
  info.file = target.file;
  return { kind: 'hls', head, target, token };
}
