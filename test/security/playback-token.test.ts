import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { staticPlaybackKey } from '../../core/playback-secret';
import { MAX_TOKEN_TTL_SECONDS, playbackKey, signPlaybackToken, tokenExpiry, tokenFromQuery, verifyPlaybackToken } from '../../core/playback-token';

const KEY = playbackKey('test-playback-secret-0123456789abcdef');
const ID = 'AbCdEfGhIjKl';
const NOW = Date.UTC(2026, 0, 1);
const EXP = NOW / 1000 + 3600;

describe('playback tokens', () => {
  it('are compact, URL-safe, and verify for their playback ID until they expire', () => {
    const token = signPlaybackToken(KEY, ID, EXP);
    expect(token).toMatch(/^\d{10}\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(verifyPlaybackToken(KEY, ID, token, NOW)).toBe('valid');
    expect(verifyPlaybackToken(KEY, ID, token, EXP * 1000 - 1)).toBe('valid');
    expect(verifyPlaybackToken(KEY, ID, token, EXP * 1000)).toBe('expired');
    expect(verifyPlaybackToken(KEY, 'ZZZZZZZZZZZZ', token, NOW)).toBe('bad-signature');
    expect(verifyPlaybackToken(playbackKey('another-secret-0123456789abcdefghij'), ID, token, NOW)).toBe('bad-signature');
    expect(verifyPlaybackToken(KEY, ID, undefined, NOW)).toBe('missing');
    expect(verifyPlaybackToken(KEY, ID, '', NOW)).toBe('missing');
  });

  it('cannot be extended: changing the expiry breaks the signature', () => {
    const [, sig] = signPlaybackToken(KEY, ID, EXP).split('.');
    expect(verifyPlaybackToken(KEY, ID, `${EXP + 86_400}.${sig}`, NOW)).toBe('bad-signature');
  });

  it('refuses tokens expiring absurdly far ahead, and non-canonical encodings', () => {
    const far = NOW / 1000 + MAX_TOKEN_TTL_SECONDS + 120;
    expect(verifyPlaybackToken(KEY, ID, signPlaybackToken(KEY, ID, far), NOW)).toBe('malformed');
    const token = signPlaybackToken(KEY, ID, EXP);
    // The last base64url character carries 2 unused bits: another character decodes to the same bytes.
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[(alphabet.indexOf(last) & ~3) | ((alphabet.indexOf(last) + 1) & 3)];
    expect(verifyPlaybackToken(KEY, ID, token.slice(0, -1) + twin, NOW)).toBe('malformed');
  });

  it('any change to a valid token is refused (property)', () => {
    const token = signPlaybackToken(KEY, ID, EXP);
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.string({ minLength: 0, maxLength: 3 }), fc.nat(2), (at, insert, mode) => {
        const changed =
          mode === 0
            ? token.slice(0, at) + insert + token.slice(at + 1)
            : mode === 1
              ? token.slice(0, at) + insert + token.slice(at)
              : token.slice(0, at);
        fc.pre(changed !== token);
        expect(verifyPlaybackToken(KEY, ID, changed, NOW)).not.toBe('valid');
      }),
      { numRuns: 2000 },
    );
  });

  it('a token has one spelling: a leading zero on the expiry is malformed, in the path rule and the query (counterexample [0,"0",1])', () => {
    const token = signPlaybackToken(KEY, ID, EXP);
    expect(verifyPlaybackToken(KEY, ID, token, NOW)).toBe('valid');
    for (const variant of [`0${token}`, `00${token}`]) {
      expect(verifyPlaybackToken(KEY, ID, variant, NOW), variant).toBe('malformed');
      expect(tokenFromQuery(`token=${variant}`), variant).toBeNull();
    }
  });

  it('expiries are rounded up to the minute, within bounds', () => {
    expect(tokenExpiry(3600, NOW + 1)).toBe(NOW / 1000 + 3660);
    expect(tokenExpiry(3600, NOW)).toBe(NOW / 1000 + 3600);
    expect(() => tokenExpiry(59, NOW)).toThrow(RangeError);
    expect(() => tokenExpiry(MAX_TOKEN_TTL_SECONDS, NOW)).toThrow(RangeError);
    expect(() => tokenExpiry(1.5, NOW)).toThrow(RangeError);
  });

  it('only `token=<exp>.<sig>` is a query string', () => {
    const token = signPlaybackToken(KEY, ID, EXP);
    expect(tokenFromQuery(undefined)).toBeUndefined();
    expect(tokenFromQuery(`token=${token}`)).toBe(token);
    for (const q of [
      '',
      'token=',
      `token=${token}&x=1`,
      `x=1&token=${token}`,
      `token=${token}&token=${token}`,
      `TOKEN=${token}`,
      `token=${token.replace('.', '%2E')}`,
      `token=${token}#`,
      `token[]=${token}`,
      `token=${token} `,
    ]) {
      expect(tokenFromQuery(q), q).toBeNull();
    }
  });

  it('refuses short secrets', () => {
    expect(() => playbackKey('short')).toThrow(/at least 32 characters/);
    expect(() => staticPlaybackKey('x'.repeat(31))).toThrow();
  });
});
