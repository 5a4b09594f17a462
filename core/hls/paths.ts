import { BadRequestError } from '../errors';
import { TOKEN_PATTERN } from '../playback-token';

/**
 * Strict parsing of origin paths (docs/architecture.md, "HTTP paths"). One anchored pattern decides: there
 * is no decoding and no normalization, so `%`, `..`, `//`, `\` and anything else the pattern does not name are
 * 400 before any look-up happens. The only query strings are those of `ORIGIN_QUERY_RULE`, on playlists.
 */

export type FileKind = 'playlist' | 'segment' | 'part' | 'init';

/** An LL-HLS blocking playlist reload (`_HLS_msn`, `_HLS_part`, `_HLS_skip`), validated. */
export interface BlockingReload {
  readonly msn?: number;
  /** Only with `msn`. */
  readonly part?: number;
  readonly skip?: 'YES' | 'v2';
}

export interface OriginPath {
  readonly playbackId: string;
  /** The file name as requested, e.g. `index.m3u8`, `k3j9x0a1b2_42.ts`, `k3j9x0a1b2_init.mp4`. */
  readonly file: string;
  readonly kind: FileKind;
  readonly contentType: string;
  /** Publish session that prefixes segment and init names; undefined for playlists. */
  readonly session?: string;
  /** Segments and parts: the media sequence number. Parts: their index in the segment. */
  readonly msn?: number;
  readonly part?: number;
  /** Playlists: the LL-HLS blocking-reload parameters, when any were given. */
  readonly blocking?: BlockingReload;
}

export const MAX_PATH_LENGTH = 200;

export const CONTENT_TYPES = {
  m3u8: 'application/vnd.apple.mpegurl',
  ts: 'video/mp2t',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
} as const;

/**
 * The path rule as data, so that the origin's parser (below) and the CloudFront viewer-request function that
 * rejects bad shapes at the edge (infra/edge/viewer-request.ts) are built from one definition.
 */
export const ORIGIN_PATH_RULE = {
  /**
   * RegExp source (no flags) of the one anchored pattern: playbackId / (rendition playlist | segment | init
   * segment | LL-HLS part `<session>_<msn>.<index>.m4s`, index canonical decimal below 1000).
   */
  pattern:
    String.raw`^\/([A-Za-z0-9]{12})\/(?:([a-z0-9_]{1,32})\.m3u8|([a-z0-9]{10})_(\d{1,15})\.(ts|m4s)|([a-z0-9]{10})_init\.mp4` +
    String.raw`|([a-z0-9]{10})_(\d{1,15})\.(0|[1-9]\d{0,2})\.m4s)$`,
  /** The capture group that holds a playlist's name: set only for playlists (the one kind that may carry a token). */
  playlistGroup: 2,
  maxLength: MAX_PATH_LENGTH,
} as const;

const PATH_PATTERN = new RegExp(ORIGIN_PATH_RULE.pattern);

/** Parses a request path (as received, query included if any). Throws BadRequestError for anything else. */
export function parseOriginPath(path: string): OriginPath {
  if (path.length > MAX_PATH_LENGTH) throw new BadRequestError('Path too long');
  const m = PATH_PATTERN.exec(path);
  if (!m) throw new BadRequestError('Invalid path');
  const [, playbackId, playlistName, segSession, segNumber, segExt, initSession, partSession, partNumber, partIndex] = m;
  if (playlistName !== undefined) {
    return { playbackId, file: `${playlistName}.m3u8`, kind: 'playlist', contentType: CONTENT_TYPES.m3u8 };
  }
  if (segSession !== undefined) {
    const ext = segExt as 'ts' | 'm4s';
    return {
      playbackId,
      file: `${segSession}_${segNumber}.${ext}`,
      kind: 'segment',
      contentType: CONTENT_TYPES[ext],
      session: segSession,
      msn: Number(segNumber),
    };
  }
  if (partSession !== undefined) {
    return {
      playbackId,
      file: `${partSession}_${partNumber}.${partIndex}.m4s`,
      kind: 'part',
      contentType: CONTENT_TYPES.m4s,
      session: partSession,
      msn: Number(partNumber),
      part: Number(partIndex),
    };
  }
  return {
    playbackId,
    file: `${initSession}_init.mp4`,
    kind: 'init',
    contentType: CONTENT_TYPES.mp4,
    session: initSession,
  };
}

/** The one non-HLS path the origin answers: the public stream list (functions/origin/streams.ts). */
export const STREAMS_PATH = '/api/streams';

/**
 * The query strings the origin admits, as data (the edge function is generated from it too): on a playlist
 * only, each name at most once, in any order; the private-channel `token` (core/playback-token.ts) and the
 * LL-HLS blocking-reload parameters, whose values must match these anchored patterns (canonical decimals: no
 * sign, no leading zero). `_HLS_part` needs `_HLS_msn` (a 400 otherwise, as the LL-HLS spec says).
 */
export const ORIGIN_QUERY_RULE = {
  token: TOKEN_PATTERN.source,
  blocking: {
    _HLS_msn: String.raw`^(?:0|[1-9]\d{0,14})$`,
    _HLS_part: String.raw`^(?:0|[1-9]\d{0,2})$`,
    _HLS_skip: '^(?:YES|v2)$',
  },
  /** A blocking parameter that needs another one. */
  requires: { _HLS_part: '_HLS_msn' },
} as const;

type BlockingName = keyof typeof ORIGIN_QUERY_RULE.blocking;
const BLOCKING_PATTERNS = Object.fromEntries(
  Object.entries(ORIGIN_QUERY_RULE.blocking).map(([name, source]) => [name, new RegExp(source)]),
) as Record<BlockingName, RegExp>;
const TOKEN_VALUE = new RegExp(ORIGIN_QUERY_RULE.token);

/** A request line's path and query, both checked: what the origin and the task's HLS server accept. */
export interface OriginRequestTarget {
  readonly target: OriginPath;
  /** The private-channel playback token, if given (its signature is checked later, by the origin). */
  readonly token?: string;
}

/**
 * Parses `path[?query]`: the path rule, then the query rule (no decoding; `?` with nothing after it counts as
 * no query). Throws BadRequestError with `Invalid query string` for any query the rule does not admit.
 */
export function parseOriginRequest(url: string): OriginRequestTarget {
  const q = url.indexOf('?');
  const target = parseOriginPath(q === -1 ? url : url.slice(0, q));
  if (q === -1 || q === url.length - 1) return { target };
  if (target.kind !== 'playlist') throw new BadRequestError('Invalid query string');
  const values = new Map<string, string>();
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    if (eq === -1) throw new BadRequestError('Invalid query string');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const pattern = name === 'token' ? TOKEN_VALUE : Object.hasOwn(BLOCKING_PATTERNS, name) ? BLOCKING_PATTERNS[name as BlockingName] : undefined;
    if (!pattern || values.has(name) || !pattern.test(value)) throw new BadRequestError('Invalid query string');
    values.set(name, value);
  }
  for (const [name, needs] of Object.entries(ORIGIN_QUERY_RULE.requires)) {
    if (values.has(name) && !values.has(needs)) throw new BadRequestError('Invalid query string');
  }
  const msn = values.get('_HLS_msn');
  const part = values.get('_HLS_part');
  const skip = values.get('_HLS_skip') as BlockingReload['skip'];
  const blocking: BlockingReload | undefined =
    msn !== undefined || skip !== undefined
      ? { ...(msn !== undefined ? { msn: Number(msn) } : {}), ...(part !== undefined ? { part: Number(part) } : {}), ...(skip ? { skip } : {}) }
      : undefined;
  const token = values.get('token');
  return { target: blocking ? { ...target, blocking } : target, ...(token !== undefined ? { token } : {}) };
}

/** The canonical query of a blocking reload (`_HLS_msn=…&_HLS_part=…&_HLS_skip=…`), as passed to the task. */
export function blockingQuery(b: BlockingReload): string {
  const pairs: string[] = [];
  if (b.msn !== undefined) pairs.push(`_HLS_msn=${b.msn}`);
  if (b.part !== undefined) pairs.push(`_HLS_part=${b.part}`);
  if (b.skip !== undefined) pairs.push(`_HLS_skip=${b.skip}`);
  return pairs.join('&');
}

/** The path to request from the task for a parsed target: its file, plus the canonical blocking query. */
export function upstreamPath(target: OriginPath): string {
  const base = `/${target.playbackId}/${target.file}`;
  return target.blocking ? `${base}?${blockingQuery(target.blocking)}` : base;
}
