import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The domain: channels (secret key → public playback ID), routes (playback ID → ingest task) and tasks.
 * Secret stream keys never leave the CLI that minted them: the table holds only their SHA-256.
 */

export type ChannelState = 'active' | 'revoked';

export interface Channel {
  readonly playbackId: string;
  readonly name: string;
  readonly keyHash: string;
  readonly state: ChannelState;
  readonly createdAt: string;
  /** Private playback: playlists need a signed, expiring token (functions/shared/playback-token.ts). */
  readonly private?: boolean;
  /** Recording on: each publish is recorded to S3 (docs/recording.md). Takes effect from the next publish. */
  readonly record?: boolean;
  /** Quality ladder: rung names (core/ladder.ts), highest first; absent: passthrough only. From the next publish. */
  readonly ladder?: readonly string[];
}

export interface Route {
  readonly playbackId: string;
  readonly taskArn: string;
  /** Private IP (or 127.0.0.1 locally) of the task that serves the HLS files. */
  readonly host: string;
  /** HTTP port of the task's HLS server. */
  readonly port: number;
  /** Random id of this publish; segment names start with it, and only its owner may delete the route. */
  readonly session: string;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  /** Epoch ms after which the route is dead even if the item still exists (TTL deletion is lazy). */
  readonly expiresAt: number;
  /** Media sequence number of the newest segment the task has written. */
  readonly mediaSequence: number;
  readonly discontinuitySequence: number;
  /** Copied from the channel at publish time, so the origin decides with its one route look-up. */
  readonly private?: boolean;
  /** What the task's packager measured, as of the last heartbeat (for `keyframe status`; never public). */
  readonly health?: StreamHealthReport;
  /** The recording this publish writes to (recorded channels only): its live EVENT playlist is the rewind. */
  readonly recordingId?: string;
}

/** A stream's health as the ingest measures it (ingest/packager `health()`), written with each heartbeat. */
export interface StreamHealthReport {
  readonly video?: {
    readonly codec: string;
    readonly width: number;
    readonly height: number;
    readonly frameRate?: number;
    readonly bitrateBps?: number;
    readonly keyframeIntervalSeconds?: number;
  };
  readonly audio?: { readonly codec: string; readonly sampleRate: number; readonly channels: number; readonly bitrateBps?: number };
  /** Spread of (arrival − media time), ms. */
  readonly jitterMs?: number;
  readonly segments?: number;
  readonly discontinuities?: number;
  /** A ladder channel's transcoder (docs/ladder.md): its state and the rungs being made now. */
  readonly ladder?: { readonly state: string; readonly rungs: readonly string[] };
  readonly warnings: readonly { readonly code: string; readonly message: string }[];
}

export type TaskStatus = 'PROVISIONING' | 'PENDING' | 'ACTIVATING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'DEPROVISIONING' | 'STOPPED';

export interface TaskRecord {
  readonly taskArn: string;
  readonly ip?: string;
  readonly status: TaskStatus;
  /** `detail.version` of the ECS event that wrote this record. Orders events. */
  readonly version: number;
  readonly updatedAt: string;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE36 = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(alphabet: string, length: number): string {
  // Rejection sampling keeps the distribution uniform.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export const PLAYBACK_ID_PATTERN = /^[A-Za-z0-9]{12}$/;
export const SESSION_ID_PATTERN = /^[a-z0-9]{10}$/;
export const STREAM_KEY_PATTERN = /^kf_[A-Za-z0-9_-]{32}$/;
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Public playback ID: 12 base62 characters (~71 bits), like Amazon IVS. */
export function newPlaybackId(): string {
  return randomString(BASE62, 12);
}

/** Publish session id: 10 base36 characters. Prefixes segment names so they never repeat across publishes. */
export function newSessionId(): string {
  return randomString(BASE36, 10);
}

/** Secret stream key: `kf_` + 24 random bytes in base64url (192 bits of entropy). */
export function newStreamKey(): string {
  return `kf_${randomBytes(24).toString('base64url')}`;
}

/** The only form of a stream key that is ever stored. Keys are random, so a fast hash is enough. */
export function hashStreamKey(key: string): string {
  return createHash('sha256').update(`keyframe:stream-key:${key}`).digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function hashesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ab.length === bb.length && ab.length > 0 && timingSafeEqual(ab, bb);
}

/** A short, non-reversible tag for logging a refused key without the key itself. */
export function keyFingerprint(key: string): string {
  return hashStreamKey(key).slice(0, 8);
}

export function validateChannelName(name: string): string | undefined {
  return CHANNEL_NAME_PATTERN.test(name)
    ? undefined
    : `channel name ${JSON.stringify(name)} is invalid: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`;
}

export function isRouteLive(route: Route, now: number = Date.now()): boolean {
  return route.expiresAt > now;
}

/** `recording` while live; `ready` when complete; `incomplete` with gaps; `failed` when nothing was kept. */
export type RecordingState = 'recording' | 'ready' | 'failed' | 'incomplete';

/** Media the recording lacks: segments `fromMsn`..`toMsn` (inclusive) of one publish were not kept. */
export interface RecordingGap {
  /** The packager session whose segments are missing. */
  readonly session: string;
  readonly fromMsn: number;
  readonly toMsn: number;
  /** EXT-X-PROGRAM-DATE-TIME of the first missing segment, epoch ms. */
  readonly startedAt: number;
  readonly seconds: number;
  /**
   * Why: `spool-full` (S3 too slow or down for longer than the spool holds), `upload-abandoned` (drain deadline),
   * `missing-init` (segments whose init segment could not be kept).
   */
  readonly reason: 'spool-full' | 'upload-abandoned' | 'missing-init';
}

/** One recorded broadcast (reconnects within the window included): its objects are under `recordings/<playbackId>/<id>/`. */
export interface Recording {
  /** `[a-z0-9]{16}`, sorts by start time. */
  readonly id: string;
  readonly playbackId: string;
  readonly channelName: string;
  readonly state: RecordingState;
  /** Epoch ms of the first segment (its program date-time). */
  readonly startedAt: number;
  /** Epoch ms when the last publish ended; absent while recording. */
  readonly endedAt?: number;
  /** Sum of the segment durations in the playlist. */
  readonly durationSeconds: number;
  /** Segments in the playlist (uploaded). */
  readonly segmentCount: number;
  readonly gaps: readonly RecordingGap[];
  readonly updatedAt: number;
  /** Copied from the channel when the recording starts: its playlist and poster need a playback token. */
  readonly private?: boolean;
}

export const RECORDING_ID_PATTERN = /^[a-z0-9]{16}$/;

/** A recording id: the start time in base36 (9 characters, sortable until 5188) and 7 random base36 characters. */
export function newRecordingId(now: number = Date.now()): string {
  return now.toString(36).padStart(9, '0').slice(-9) + randomString(BASE36, 7);
}

/** The recordings bucket's one prefix: the task may write and delete only under it (infra/recordings.ts). */
export const RECORDINGS_PREFIX = 'recordings/';
/** A recording's playlist, in its folder. */
export const RECORDING_PLAYLIST = 'index.m3u8';

/** `recordings/<playbackId>/<recordingId>/`: a recording's folder in the bucket, and its path under the playback base. */
export function recordingPrefix(playbackId: string, recordingId: string): string {
  return `${RECORDINGS_PREFIX}${playbackId}/${recordingId}/`;
}
