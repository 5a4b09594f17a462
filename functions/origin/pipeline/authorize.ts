import { HttpError } from '../../../core/errors';
import type { PlaybackKeySource } from '../../../core/playback-secret';
import { verifyPlaybackToken } from '../../../core/playback-token';
import type { RequestInfo } from './types';

/**
 * Stage 3, authorize: a private channel's playlist or thumbnail, and a private recording's playlist or poster,
 * need a valid token for its playback ID (403 otherwise). Segments need none: their names carry the session id
 * (and a recording's, its id), learnt from a playlist.
 */
export function createAuthorizer(opts: { readonly playbackKey?: PlaybackKeySource; readonly now: () => number }) {
  return async function authorize(target: { readonly playbackId: string }, token: string | undefined, info: RequestInfo): Promise<void> {
    if (!opts.playbackKey) {
      info.token = 'unconfigured';
      throw new HttpError(503, 'ServiceUnavailable', 'Private playback is unavailable', {
        cause: new Error('a private channel was requested but no playback secret is configured'),
      });
    }
    let key: Buffer;
    try {
      key = await opts.playbackKey.get();
    } catch (err) {
      info.token = 'secret-unavailable';
      throw new HttpError(503, 'ServiceUnavailable', 'Private playback is unavailable', { cause: err });
    }
    const check = verifyPlaybackToken(key, target.playbackId, token, opts.now());
    info.token = check;
    if (check === 'valid') return;
    const message = check === 'missing' ? 'Playback token required' : check === 'expired' ? 'Playback token expired' : 'Playback token invalid';
    throw new HttpError(403, 'Forbidden', message);
  };
}
