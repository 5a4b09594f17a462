import { HttpError, NotFoundError } from '../../../core/errors';
import {
  CACHE_RECORDING_EVENT_PLAYLIST,
  CACHE_RECORDING_POSTER,
  CACHE_RECORDING_SEGMENT,
  CACHE_RECORDING_VOD_PLAYLIST,
  isEndedPlaylist,
} from '../../../core/hls/cache-control';
import type { RecordingPath } from '../../../core/hls/paths';
import type { Recording } from '../../../core/model';
import type { RecordingStore } from '../../../core/store';
import { type RecordingObject, type RecordingObjectSource, RecordingStorageError } from '../recording-objects';
import { CORS_HEADERS } from './respond';
import type { OriginResponse, RequestInfo } from './types';

/**
 * The recordings stage: `/recordings/<playbackId>/<recordingId>/<file>` from the recordings bucket.
 *
 * - The playlist and the poster are checked against the recording's item first: no item, or an item of another
 *   playback ID, is a 404 (so a guessed recording ID under a known playback ID reveals nothing); a private
 *   recording needs a valid token for its playback ID, exactly as a live playlist does (403 otherwise).
 * - Segments and inits are served without a look-up or token: their names carry the recording ID (16 random-ish
 *   characters) and the publish session, learnt from the playlist, as live segments' names are.
 * - The object's own Cache-Control is passed through (the recorder sets one on each); without one, the type's:
 *   an `EVENT` playlist 1 s, a `VOD` playlist 60 s, a poster a day, segments and inits immutable.
 *
 * On a deployed stack CloudFront sends segments and inits straight to the bucket (OAC); locally, and for the
 * playlist and poster everywhere, this is the one server.
 */

export interface RecordingServerOptions {
  /** Unset: recordings are not configured (no bucket), and every recordings path is a 404. */
  readonly objects?: RecordingObjectSource;
  readonly recordings?: Pick<RecordingStore, 'getRecording'>;
  /** How long a recording item (or its absence) is reused; look-ups of one ID in flight are shared. */
  readonly cacheMs: number;
  readonly maxBodyBytes: number;
  readonly now: () => number;
  /** The private-channel token check (pipeline/authorize.ts). */
  readonly authorize: (target: { readonly playbackId: string }, token: string | undefined, info: RequestInfo) => Promise<void>;
}

export type RecordingServer = (target: RecordingPath, token: string | undefined, head: boolean, info: RequestInfo) => Promise<OriginResponse>;

export function createRecordingServer(opts: RecordingServerOptions): RecordingServer {
  const items = new Map<string, { at: number; recording: Recording | undefined }>();
  const lookups = new Map<string, Promise<Recording | undefined>>();
  const inflight = new Map<string, Promise<RecordingObject | undefined>>();

  async function recording(id: string): Promise<Recording | undefined> {
    const cached = items.get(id);
    if (cached && opts.now() - cached.at < opts.cacheMs) return cached.recording;
    const pending = lookups.get(id);
    if (pending) return pending;
    const store = opts.recordings;
    if (!store) return undefined;
    const reading = store.getRecording(id);
    lookups.set(id, reading);
    try {
      const found = await reading;
      if (opts.cacheMs > 0) {
        items.delete(id);
        items.set(id, { at: opts.now(), recording: found });
        if (items.size > 10_000) items.delete(items.keys().next().value as string);
      }
      return found;
    } finally {
      lookups.delete(id);
    }
  }

  function object(objects: RecordingObjectSource, key: string): Promise<RecordingObject | undefined> {
    const pending = inflight.get(key);
    if (pending) return pending;
    const fetching = objects.get(key, { maxBytes: opts.maxBodyBytes });
    inflight.set(key, fetching);
    const forget = () => inflight.delete(key);
    fetching.then(forget, forget);
    return fetching;
  }

  return async function serveRecording(target, token, head, info) {
    info.recordingId = target.recordingId;
    const objects = opts.objects;
    if (!objects || !opts.recordings) {
      info.recordings = 'unconfigured';
      throw new HttpError(404, 'NotFound', 'No such recording', {
        cause: new Error('recordings are not configured: KEYFRAME_RECORDING_BUCKET is unset'),
      });
    }
    const guarded = target.kind === 'recording-playlist' || target.kind === 'poster';
    if (guarded) {
      let item: Recording | undefined;
      try {
        item = await recording(target.recordingId);
      } catch (err) {
        throw new HttpError(503, 'ServiceUnavailable', 'Recording lookup failed', { cause: err });
      }
      if (!item || item.playbackId !== target.playbackId) {
        info.recordings = 'unknown';
        throw new NotFoundError('No such recording');
      }
      if (item.private === true) await opts.authorize(target, token, info);
    }
    let found: RecordingObject | undefined;
    try {
      found = await object(objects, target.key);
    } catch (err) {
      info.recordings = 'storage-failed';
      throw storageError(err);
    }
    if (!found) {
      info.recordings = 'no-object';
      throw new NotFoundError('No such file');
    }
    info.recordings = 'served';
    const cacheControl = found.cacheControl ?? defaultCacheControl(target, found.body);
    return {
      statusCode: 200,
      headers: { ...CORS_HEADERS, 'Content-Type': target.contentType, 'Cache-Control': cacheControl },
      body: head ? Buffer.alloc(0) : found.body,
    };
  };
}

/** Cache-Control for a recording's object that has none of its own. */
export function defaultCacheControl(target: Pick<RecordingPath, 'kind'>, body: Buffer): string {
  switch (target.kind) {
    case 'recording-playlist':
      return isEndedPlaylist(body.toString('utf8')) ? CACHE_RECORDING_VOD_PLAYLIST : CACHE_RECORDING_EVENT_PLAYLIST;
    case 'poster':
      return CACHE_RECORDING_POSTER;
    default:
      return CACHE_RECORDING_SEGMENT;
  }
}

function storageError(err: unknown): HttpError {
  if (err instanceof RecordingStorageError) {
    if (err.kind === 'too-large') return new HttpError(502, 'BadGateway', 'Recording object too large', { cause: err });
    if (err.kind === 'unavailable') return new HttpError(503, 'ServiceUnavailable', 'Recording storage unavailable', { cause: err });
  }
  return new HttpError(502, 'BadGateway', 'Recording storage failed', { cause: err });
}
