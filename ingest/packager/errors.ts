/**
 * The one error type of the packager. `Packager.push()` never throws: it returns a `PackagerError` (and keeps
 * it in `Packager.error`), and the caller closes the RTMP session with `rtmpDescription` as the status text.
 */

/** Why the packager refused a stream. */
export type PackagerErrorCode =
  /** A codec we do not package (HEVC, AV1, VP6, MP3, Speex…). `rtmpDescription` names the OBS setting. */
  | 'unsupported-codec'
  /** Bytes that do not parse: truncated headers, NALU lengths past the tag, garbage. */
  | 'malformed'
  /** A single sample bigger than the object budget. */
  | 'too-large'
  /** Media arrives so much faster than real time that numbering from the clock cannot keep up. */
  | 'faster-than-realtime'
  /** A push after `end()`. */
  | 'ended'
  /** An output callback threw, or a bug; `cause` holds the original. */
  | 'internal';

/** A typed refusal. `message` is for logs; `rtmpDescription` is safe to send to the publisher. */
export class PackagerError extends Error {
  override readonly name = 'PackagerError';
  readonly code: PackagerErrorCode;
  /** Text for the RTMP `NetStream.Publish.Rejected` / `onStatus` description. */
  readonly rtmpDescription: string;

  constructor(code: PackagerErrorCode, message: string, options: { rtmpDescription?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rtmpDescription = options.rtmpDescription ?? message;
  }
}

/** Shorthand for a `malformed` error; thrown inside the parsers and caught by `push()`. */
export function malformed(message: string): PackagerError {
  return new PackagerError('malformed', message);
}

const OBS_VIDEO = 'in OBS → Settings → Output set Video Encoder to x264 or another H.264 encoder';
const OBS_AUDIO = 'in OBS → Settings → Output set Audio Encoder to AAC';

/** A refusal for a video codec we do not package, naming the setting to change. */
export function unsupportedVideo(codec: string): PackagerError {
  const text = `${codec} video is not supported; ${OBS_VIDEO}`;
  return new PackagerError('unsupported-codec', text, { rtmpDescription: text });
}

/** A refusal for an audio codec we do not package, naming the setting to change. */
export function unsupportedAudio(codec: string): PackagerError {
  const text = `${codec} audio is not supported; ${OBS_AUDIO}`;
  return new PackagerError('unsupported-codec', text, { rtmpDescription: text });
}
