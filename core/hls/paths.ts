import { BadRequestError } from '../errors';
import { PLAYBACK_ID_PATTERN, RECORDING_ID_PATTERN, RECORDING_PLAYLIST, RECORDINGS_PREFIX, recordingPrefix, SESSION_ID_PATTERN } from '../model';
import { TOKEN_PATTERN } from '../playback-token';

/**
 * Strict parsing of origin paths (docs/architecture.md, "HTTP paths"). Anchored patterns decide: there is no
 * decoding and no normalization, so `%`, `..`, `//`, `\` and anything else the patterns do not name are 400
 * before any look-up happens. The only query strings are those of `ORIGIN_QUERY_RULE`.
 *
 * Two families of paths:
 * - live, `/<playbackId>/<file>` (`ORIGIN_PATH_RULE`, `parseOriginRequest`): served by the ingest task's HLS
 *   server, through the origin;
 * - recordings, `/recordings/<playbackId>/<recordingId>/<file>` (`RECORDING_PATH_RULE`): objects of the
 *   recordings bucket, served by the origin (playlists and posters, which may need a token) or, on a deployed
 *   stack, straight from S3 through CloudFront (segments and inits). The task never serves them.
 * `parseViewerRequest` parses both (what the origin answers).
 */

/** Live kinds: what the task's HLS server serves. `thumbnail` is the stream's current JPEG. */
export type FileKind = 'playlist' | 'segment' | 'part' | 'init' | 'thumbnail';

/** An LL-HLS blocking playlist reload (`_HLS_msn`, `_HLS_part`, `_HLS_skip`), validated. */
export interface BlockingReload {
  readonly msn?: number;
  /** Only with `msn`. */
  readonly part?: number;
  readonly skip?: 'YES' | 'v2';
}

export interface OriginPath {
  readonly playbackId: string;
  /** The file name as requested, e.g. `index.m3u8`, `k3j9x0a1b2_42.ts`, `k3j9x0a1b2_init.mp4`, `thumbnail.jpg`. */
  readonly file: string;
  readonly kind: FileKind;
  readonly contentType: string;
  /** Publish session that prefixes segment and init names; undefined for playlists and thumbnails. */
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
  jpg: 'image/jpeg',
} as const;

/** A live stream's current thumbnail, in its playback folder: `/<playbackId>/thumbnail.jpg`. */
export const THUMBNAIL_FILE = 'thumbnail.jpg';
/** A recording's poster, in its folder next to `index.m3u8`. */
export const RECORDING_POSTER = 'poster.jpg';

/** The body of an anchored `^…$` pattern, to compose it into a larger one. */
function inner(re: RegExp): string {
  const src = re.source;
  if (!src.startsWith('^') || !src.endsWith('$')) throw new Error(`not an anchored pattern: ${src}`);
  return src.slice(1, -1);
}
function escapeRe(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
const PID = inner(PLAYBACK_ID_PATTERN);
const SESSION = inner(SESSION_ID_PATTERN);

/**
 * The path rule as data, so that the origin's parser (below) and the CloudFront viewer-request function that
 * rejects bad shapes at the edge (infra/edge/viewer-request.ts) are built from one definition.
 */
export const ORIGIN_PATH_RULE = {
  /**
   * RegExp source (no flags) of the live anchored pattern: playbackId / (rendition playlist | segment | init
   * segment | LL-HLS part `<session>_<msn>.<index>.m4s`, index canonical decimal below 1000 | `thumbnail.jpg`).
   */
  pattern:
    `^\\/(${PID})\\/(?:([a-z0-9_]{1,32})\\.m3u8|(${SESSION})_(\\d{1,15})\\.(ts|m4s)|(${SESSION})_init\\.mp4` +
    `|(${SESSION})_(\\d{1,15})\\.(0|[1-9]\\d{0,2})\\.m4s|(${escapeRe(THUMBNAIL_FILE)}))$`,
  /** The capture group that holds a playlist's name: set only for playlists (token and blocking-reload query). */
  playlistGroup: 2,
  /** The capture group set only for the thumbnail (token query only). */
  thumbnailGroup: 10,
  maxLength: MAX_PATH_LENGTH,
} as const;

const PATH_PATTERN = new RegExp(ORIGIN_PATH_RULE.pattern);

/** Parses a request path (as received, query included if any). Throws BadRequestError for anything else. */
export function parseOriginPath(path: string): OriginPath {
  if (path.length > MAX_PATH_LENGTH) throw new BadRequestError('Path too long');
  const m = PATH_PATTERN.exec(path);
  if (!m) throw new BadRequestError('Invalid path');
  const [, playbackId, playlistName, segSession, segNumber, segExt, initSession, partSession, partNumber, partIndex, thumbnail] = m;
  if (thumbnail !== undefined) {
    return { playbackId, file: THUMBNAIL_FILE, kind: 'thumbnail', contentType: CONTENT_TYPES.jpg };
  }
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

/** Recording kinds: objects of the recordings bucket (`recordings/<playbackId>/<recordingId>/<file>`). */
export type RecordingFileKind = 'recording-playlist' | 'poster' | 'recording-segment' | 'recording-init';

export interface RecordingPath {
  readonly playbackId: string;
  readonly recordingId: string;
  /** The file name as requested: `index.m3u8`, `poster.jpg`, `<session>_init.mp4` or `<session>_<msn>.m4s`. */
  readonly file: string;
  readonly kind: RecordingFileKind;
  readonly contentType: string;
  /** The object's key in the recordings bucket: `recordings/<playbackId>/<recordingId>/<file>`. */
  readonly key: string;
  /** Segments and inits: the publish session that prefixes their names. */
  readonly session?: string;
  /** Segments: the media sequence number. */
  readonly msn?: number;
}

/**
 * The recordings path rule as data (the edge function is generated from it too): `/recordings/` playbackId /
 * recordingId / (`index.m3u8` | `poster.jpg` | `<session>_init.mp4` | `<session>_<msn>.m4s`). CMAF only: the
 * recorder keeps the packager's fMP4 segments, never parts.
 */
export const RECORDING_PATH_RULE = {
  pattern:
    `^\\/${escapeRe(RECORDINGS_PREFIX)}(${PID})\\/(${inner(RECORDING_ID_PATTERN)})\\/(?:(${escapeRe(RECORDING_PLAYLIST)})|(${escapeRe(RECORDING_POSTER)})` +
    `|(${SESSION})_init\\.mp4|(${SESSION})_(\\d{1,15})\\.m4s)$`,
  /** The capture groups set only for the playlist and the poster: the two kinds that may carry a token. */
  playlistGroup: 3,
  posterGroup: 4,
  /** The path prefix every recording path has (and nothing else has). */
  prefix: `/${RECORDINGS_PREFIX}`,
  maxLength: MAX_PATH_LENGTH,
} as const;

const RECORDING_PATTERN = new RegExp(RECORDING_PATH_RULE.pattern);

/** Parses a recordings path (no query). Throws BadRequestError for anything else. */
export function parseRecordingPath(path: string): RecordingPath {
  if (path.length > MAX_PATH_LENGTH) throw new BadRequestError('Path too long');
  const m = RECORDING_PATTERN.exec(path);
  if (!m) throw new BadRequestError('Invalid path');
  const [, playbackId, recordingId, playlist, poster, initSession, segSession, segNumber] = m;
  const base = { playbackId, recordingId };
  const at = (file: string) => ({ ...base, file, key: `${recordingPrefix(playbackId, recordingId)}${file}` });
  if (playlist !== undefined) return { ...at(RECORDING_PLAYLIST), kind: 'recording-playlist', contentType: CONTENT_TYPES.m3u8 };
  if (poster !== undefined) return { ...at(RECORDING_POSTER), kind: 'poster', contentType: CONTENT_TYPES.jpg };
  if (initSession !== undefined) {
    return { ...at(`${initSession}_init.mp4`), kind: 'recording-init', contentType: CONTENT_TYPES.mp4, session: initSession };
  }
  return {
    ...at(`${segSession}_${segNumber}.m4s`),
    kind: 'recording-segment',
    contentType: CONTENT_TYPES.m4s,
    session: segSession,
    msn: Number(segNumber),
  };
}

/** `/<playbackId>/thumbnail.jpg`: a live stream's thumbnail URL (relative to the playback base). */
export function thumbnailPath(playbackId: string): string {
  return `/${playbackId}/${THUMBNAIL_FILE}`;
}
/** `/recordings/<playbackId>/<recordingId>/index.m3u8`: a recording's playlist URL (relative). */
export function recordingPlaylistPath(playbackId: string, recordingId: string): string {
  return `/${recordingPrefix(playbackId, recordingId)}${RECORDING_PLAYLIST}`;
}
/** `/recordings/<playbackId>/<recordingId>/poster.jpg`: a recording's poster URL (relative). */
export function recordingPosterPath(playbackId: string, recordingId: string): string {
  return `/${recordingPrefix(playbackId, recordingId)}${RECORDING_POSTER}`;
}

/** The one non-HLS path the origin answers: the public stream list (functions/origin/streams.ts). */
export const STREAMS_PATH = '/api/streams';

/**
 * The query strings the origin admits, as data (the edge function is generated from it too), each name at most
 * once, in any order: on a live playlist, the private-channel `token` (core/playback-token.ts) and the LL-HLS
 * blocking-reload parameters, whose values must match these anchored patterns (canonical decimals: no sign, no
 * leading zero); on a thumbnail, a recording's playlist or its poster, `token` only; on anything else, none.
 * `_HLS_part` needs `_HLS_msn` (a 400 otherwise, as the LL-HLS spec says).
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

/** What a query may hold on a path: token and blocking-reload parameters, the token alone, or nothing. */
type QueryAllowance = 'playlist' | 'token' | 'none';

/** The query's name → value pairs, checked against what the path admits. */
function parseQuery(query: string, allowance: QueryAllowance): Map<string, string> {
  const values = new Map<string, string>();
  if (query === '') return values;
  if (allowance === 'none') throw new BadRequestError('Invalid query string');
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq === -1) throw new BadRequestError('Invalid query string');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const pattern =
      name === 'token'
        ? TOKEN_VALUE
        : allowance === 'playlist' && Object.hasOwn(BLOCKING_PATTERNS, name)
          ? BLOCKING_PATTERNS[name as BlockingName]
          : undefined;
    if (!pattern || values.has(name) || !pattern.test(value)) throw new BadRequestError('Invalid query string');
    values.set(name, value);
  }
  return values;
}

/** `[path, query]` of `path[?query]` (`?` with nothing after it counts as no query). */
function splitUrl(url: string): [string, string] {
  const q = url.indexOf('?');
  return q === -1 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

/**
 * Parses a live `path[?query]`: the path rule, then the query rule (no decoding; `?` with nothing after it
 * counts as no query). Throws BadRequestError with `Invalid query string` for any query the rule does not
 * admit. This is what the task's HLS server accepts: a recordings path is a 400 here.
 */
export function parseOriginRequest(url: string): OriginRequestTarget {
  const [path, query] = splitUrl(url);
  const target = parseOriginPath(path);
  if (query === '') return { target };
  const values = parseQuery(query, target.kind === 'playlist' ? 'playlist' : target.kind === 'thumbnail' ? 'token' : 'none');
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

/** A request line the origin answers: a live target (the task's) or a recordings object (the bucket's). */
export type ViewerRequestTarget =
  | ({ readonly source: 'live' } & OriginRequestTarget)
  | { readonly source: 'recording'; readonly target: RecordingPath; readonly token?: string };

/**
 * Parses `path[?query]` as the origin sees it: a recordings path (`RECORDING_PATH_RULE`, a `token` query on its
 * playlist and poster only) or a live one (`parseOriginRequest`). Throws BadRequestError for anything else.
 */
export function parseViewerRequest(url: string): ViewerRequestTarget {
  const [path, query] = splitUrl(url);
  if (!path.startsWith(RECORDING_PATH_RULE.prefix)) return { source: 'live', ...parseOriginRequest(url) };
  const target = parseRecordingPath(path);
  const token = parseQuery(query, target.kind === 'recording-playlist' || target.kind === 'poster' ? 'token' : 'none').get('token');
  return { source: 'recording', target, ...(token !== undefined ? { token } : {}) };
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
