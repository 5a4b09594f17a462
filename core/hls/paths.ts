import { BadRequestError } from '../errors';

/**
 * Strict parsing of origin paths (docs/architecture.md, "HTTP paths"). One anchored pattern decides: there
 * is no decoding, no normalization and no query string, so `%`, `..`, `//`, `\`, `?` and anything else the
 * pattern does not name are 400 before any look-up happens.
 */

export type FileKind = 'playlist' | 'segment' | 'init';

export interface OriginPath {
  readonly playbackId: string;
  /** The file name as requested, e.g. `index.m3u8`, `k3j9x0a1b2_42.ts`, `k3j9x0a1b2_init.mp4`. */
  readonly file: string;
  readonly kind: FileKind;
  readonly contentType: string;
  /** Publish session that prefixes segment and init names; undefined for playlists. */
  readonly session?: string;
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
  /** RegExp source (no flags) of the one anchored pattern: playbackId / (rendition playlist | segment | init segment). */
  pattern: String.raw`^\/([A-Za-z0-9]{12})\/(?:([a-z0-9_]{1,32})\.m3u8|([a-z0-9]{10})_(\d{1,15})\.(ts|m4s)|([a-z0-9]{10})_init\.mp4)$`,
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
  const [, playbackId, playlistName, segSession, segNumber, segExt, initSession] = m;
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
