import { MethodNotAllowedError } from '../../../core/errors';
import { type OriginPath, parseOriginRequest } from '../../../core/hls/paths';
import { STREAMS_PATH } from '../streams';
import type { OriginRequest, RequestInfo } from './types';

/** What a request asks for, once its method, path and query are checked. */
export type ParsedRequest =
  | { readonly kind: 'preflight' }
  | { readonly kind: 'streams'; readonly head: boolean }
  | { readonly kind: 'hls'; readonly head: boolean; readonly target: OriginPath; readonly token: string | undefined };

/**
 * Stage 1, parse: the method, the one non-HLS path (`/api/streams`, when the listing is on), the strict HLS
 * path rule (core/hls/paths.ts), and its query rule: on a playlist only, `token=<exp>.<sig>` and the LL-HLS
 * blocking-reload parameters (`_HLS_msn`, `_HLS_part`, `_HLS_skip`), validated. Anything else is a 400 or 405 here, before any look-up.
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
  const { target, token } = parseOriginRequest(req.path);
  info.playbackId = target.playbackId;
  info.file = target.file;
  return { kind: 'hls', head, target, token };
}
