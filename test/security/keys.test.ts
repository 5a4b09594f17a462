import { describe, expect, it } from 'vitest';
import { hashesEqual, hashStreamKey, keyFingerprint, newStreamKey, STREAM_KEY_PATTERN } from '../../core/model';

describe('stream keys', () => {
  it('carry 192 random bits (24 bytes from the CSPRNG, base64url), never repeat, and look uniform', () => {
    const keys = Array.from({ length: 5_000 }, newStreamKey);
    expect(new Set(keys).size).toBe(keys.length);
    let ones = 0;
    for (const k of keys) {
      expect(k).toMatch(STREAM_KEY_PATTERN);
      const raw = Buffer.from(k.slice(3), 'base64url');
      expect(raw).toHaveLength(24);
      for (const byte of raw) for (let b = byte; b; b >>= 1) ones += b & 1;
    }
    // 5,000 × 192 bits: the share of ones is 0.5 with σ ≈ 0.0005; 0.003 is 6σ.
    expect(Math.abs(ones / (keys.length * 192) - 0.5)).toBeLessThan(0.003);
  });

  it('are stored and compared only as SHA-256 hashes, in constant time', () => {
    const key = newStreamKey();
    const hash = hashStreamKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(3));
    expect(hashStreamKey(key)).toBe(hash);
    expect(hashesEqual(hash, hashStreamKey(key))).toBe(true);
    expect(hashesEqual(hash, hashStreamKey(`${key}x`))).toBe(false);
    expect(hashesEqual(hash, hash.slice(0, 62))).toBe(false);
    expect(hashesEqual('', '')).toBe(false);
    expect(hashesEqual(hash, 'not hex at all')).toBe(false);
    // The fingerprint logged for refused keys: 32 bits of the hash, nothing of the key.
    expect(keyFingerprint(key)).toBe(hash.slice(0, 8));
  });
});
