import type { HttpError } from '../../../core/errors';
import { CACHE_SEGMENT, CACHE_THUMBNAIL, errorCacheControl, isMultivariantPlaylist, playlistCacheControl } from '../../../core/hls/cache-control';
import type { OriginPath } from '../../../core/hls/paths';
import type { OriginResponse } from './types';

export const CORS_HEADERS: Readonly<Record<string, string>> = { 'Access-Control-Allow-Origin': '*' };
export const ALLOW = 'GET, HEAD, OPTIONS';

/** Stage 5, respond: the CORS preflight answer. */
export function preflightResponse(): OriginResponse {
  return {
    statusCode: 204,
    headers: {
      ...CORS_HEADERS,
      'Access-Control-Allow-Methods': ALLOW,
      'Access-Control-Allow-Headers': '*',
      'Access-Control-Max-Age': '86400',
      'Cache-Control': 'public, max-age=86400',
    },
    body: Buffer.alloc(0),
  };
}

/** Stage 5, respond: a file with the Cache-Control of its type (the thumbnail's short); a private multivariant playlist passes its token on. */
export function fileResponse(
  target: OriginPath,
  body: Buffer,
  opts: { readonly head: boolean; readonly token?: string; readonly segmentSeconds: number },
): OriginResponse {
  let cacheControl = target.kind === 'thumbnail' ? CACHE_THUMBNAIL : CACHE_SEGMENT;
  if (target.kind === 'playlist') {
    // Decode the playlist once for both uses.
    const text = body.toString('utf8');
    if (opts.token !== undefined && isMultivariantPlaylist(text)) body = Buffer.from(withToken(text, opts.token));
    cacheControl = playlistCacheControl(text, opts.segmentSeconds);
  }
  return {
    statusCode: 200,
    headers: { ...CORS_HEADERS, 'Content-Type': target.contentType, 'Cache-Control': cacheControl },
    body: opts.head ? Buffer.alloc(0) : body,
  };
}

/** The error body: code, status and a fixed message. Never a stack, host or port. */
export function errorResponse(err: HttpError, head = false): OriginResponse {
  const headers: Record<string, string> = {
    ...CORS_HEADERS,
    'Content-Type': 'application/json',
    'Cache-Control': errorCacheControl(err.statusCode),
  };
  if (err.statusCode === 405) headers.Allow = ALLOW;
  const body = head ? Buffer.alloc(0) : Buffer.from(JSON.stringify(err.toJSON()));
  return { statusCode: err.statusCode, headers, body };
}

/**
 * A private multivariant playlist names its renditions' playlists, which need the token too: players resolve
 * relative URIs without the query, so the token is appended to every playlist URI (lines and `URI="…"`).
 */
export function withToken(playlist: string, token: string): string {
  const add = (uri: string) => (uri.includes('?') || !/\.m3u8$/i.test(uri) ? uri : `${uri}?token=${token}`);
  return playlist
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed === '') return line;
      if (!trimmed.startsWith('#')) return line.replace(trimmed, () => add(trimmed));
      return line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${add(uri)}"`);
    })
    .join('\n');
}
