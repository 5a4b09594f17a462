import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Playback tokens for private channels: `<exp>.<sig>`, where `exp` is the expiry in epoch seconds (decimal)
 * and `sig` is the base64url HMAC-SHA256 (43 characters, unpadded) of `keyframe:playback:v1:<playbackId>:<exp>`
 * under the deployment's playback secret. A token is bound to one playback ID and one expiry; it carries
 * nothing else, so it stays short enough for a query string (`?token=1767225600.AbC…`, about 60 characters).
 *
 * The secret never leaves the origin and whoever mints URLs (the CLI); the token reveals nothing about it.
 * Verification recomputes the signature and compares the raw bytes with `timingSafeEqual`.
 */

/**
 * The query string a playlist request may carry, and nothing else: exactly one `token` of the strict form. The
 * expiry is canonical decimal (no leading zero), so each valid token has exactly one spelling and no variant of
 * it can bust a CDN cache entry.
 */
export const TOKEN_QUERY_PATTERN = /^token=([1-9][0-9]{0,11}\.[A-Za-z0-9_-]{43})$/;
export const TOKEN_PATTERN = /^([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;
/** Shortest secret accepted (characters of the configured string, used as UTF-8 key bytes). */
export const MIN_SECRET_LENGTH = 32;
/** Longest lifetime a token may have: a token expiring later than this from now is refused, whoever minted it. */
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export class PlaybackSecretError extends Error {
  override readonly name = 'PlaybackSecretError';
}

/** The HMAC key for a configured secret string. Throws if it is too short to be a real secret. */
export function playbackKey(secret: string): Buffer {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new PlaybackSecretError(`the playback secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return Buffer.from(secret, 'utf8');
}

function signature(key: Buffer, playbackId: string, exp: number): Buffer {
  return createHmac('sha256', key).update(`keyframe:playback:v1:${playbackId}:${exp}`).digest();
}

/**
 * Mints a token for `playbackId` valid until `exp` (epoch seconds). Callers usually round `exp` up (see
 * `tokenExpiry`) so tokens minted close together are identical and share CDN cache entries.
 */
export function signPlaybackToken(key: Buffer, playbackId: string, exp: number): string {
  if (!Number.isSafeInteger(exp) || exp <= 0 || exp >= 1e12) throw new RangeError(`token expiry ${exp} is not an epoch second`);
  return `${exp}.${signature(key, playbackId, exp).toString('base64url')}`;
}

/** Expiry for a token minted now with `ttlSeconds`: rounded up to the next whole minute. */
export function tokenExpiry(ttlSeconds: number, nowMs: number = Date.now()): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TOKEN_TTL_SECONDS - 60) {
    throw new RangeError(`token lifetime must be an integer from 60 to ${MAX_TOKEN_TTL_SECONDS - 60} seconds, got ${ttlSeconds}`);
  }
  return Math.ceil((nowMs / 1000 + ttlSeconds) / 60) * 60;
}

export type TokenCheck = 'valid' | 'missing' | 'malformed' | 'expired' | 'bad-signature';

/**
 * Checks a token for `playbackId` at `nowMs`. Never throws on hostile input. The signature comparison is
 * constant-time over the 32 raw bytes; the format and expiry checks before it depend only on public data.
 */
export function verifyPlaybackToken(key: Buffer, playbackId: string, token: string | undefined, nowMs: number = Date.now()): TokenCheck {
  if (token === undefined || token === '') return 'missing';
  const m = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
  if (!m) return 'malformed';
  const exp = Number(m[1]);
  const given = Buffer.from(m[2], 'base64url');
  if (given.length !== 32 || given.toString('base64url') !== m[2]) return 'malformed';
  const now = nowMs / 1000;
  if (exp <= now) return 'expired';
  if (exp > now + MAX_TOKEN_TTL_SECONDS) return 'malformed';
  return timingSafeEqual(given, signature(key, playbackId, exp)) ? 'valid' : 'bad-signature';
}

/** The token of a query string (without `?`) of the one allowed form, `undefined` for none, `null` if refused. */
export function tokenFromQuery(query: string | undefined): string | undefined | null {
  if (query === undefined) return undefined;
  const m = TOKEN_QUERY_PATTERN.exec(query);
  return m ? m[1] : null;
}
