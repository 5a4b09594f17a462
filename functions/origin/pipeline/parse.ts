import { MethodNotAllowedError } from '../../../core/errors';
import { type OriginPath, parseViewerRequest, type RecordingPath } from '../../../core/hls/paths';
import { STREAMS_PATH } from '../streams';
import type { OriginRequest, RequestInfo } from './types';

/** What a request asks for, once its method, path and query are checked. */
export type ParsedRequest =
  | { readonly kind: 'preflight' }
  | { readonly kind: 'streams'; readonly head: boolean }
  | { readonly kind: 'hls'; readonly head: boolean; readonly target: OriginPath; readonly token: string | undefined }
  | { readonly kind: 'recording'; readonly head: boolean; readonly target: RecordingPath; readonly token: string | undefined };

/**
 * Stage 1, parse: the method, the one non-HLS path (`/api/streams`, when the listing is on), the strict live
 * and recordings path rules (core/hls/paths.ts), and the query rule: on a live playlist, `token=<exp>.<sig>`
 * and the LL-HLS blocking-reload parameters (`_HLS_msn`, `_HLS_part`, `_HLS_skip`); on a thumbnail, a
 * recording's playlist or poster, the token alone. Anything else is a 400 or 405 here, before any look-up.
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
  const parsed = parseViewerRequest(req.path);
  info.playbackId = parsed.target.playbackId;
  info.file = parsed.target.file;
  if (parsed.source === 'recording') return { kind: 'recording', head, target: parsed.target, token: parsed.token };
  return { kind: 'hls', head, target: parsed.target, token: parsed.token };
}
