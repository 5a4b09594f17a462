import type { Route } from '../../../core/model';

export interface OriginRequest {
  readonly method: string;
  /** Raw path, plus `?query` if the request had one (refused, except those of `ORIGIN_QUERY_RULE`, core/hls/paths.ts). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface OriginResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type BodySource = 'hit' | 'miss' | 'coalesced';

/** What one request did, filled in by the stages, for its log line. */
export interface RequestInfo {
  playbackId?: string;
  file?: string;
  routeCache?: 'hit' | 'miss' | 'coalesced';
  bodyCache?: BodySource;
  /** Private channel playlists: the outcome of the token check. */
  token?: string;
  /** Recordings paths: the recording asked for, and what became of the request. */
  recordingId?: string;
  recordings?: 'unconfigured' | 'unknown' | 'no-object' | 'storage-failed' | 'served';
  /** The task stopped answering: its route was dropped from the cache and resolved once more. */
  reresolved?: 'gone' | 'moved' | 'same';
}

export type { Route };
