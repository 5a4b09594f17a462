/**
 * The RTMP handshake, server side: C0+C1 in, S0+S1+S2 out, then C2 in (whose content is not checked).
 *
 * Two forms exist in the wild:
 * - the plain handshake of the specification (§5.2): S1 is random, S2 echoes C1;
 * - the Flash Player 9 form, used by librtmp (OBS) and FFmpeg: C1 carries an HMAC-SHA256 digest keyed with
 *   "Genuine Adobe Flash Player 001" at one of two offset schemes. A strict client (librtmp with FP9 on, or
 *   FFmpeg when playing) then checks that S1 carries a digest keyed with "Genuine Adobe Flash Media Server 001"
 *   and that S2 ends with a signature derived from the client's digest. When C1 carries a valid digest the
 *   server answers in that form; otherwise it answers plainly.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { RtmpProtocolError } from './chunk-reader.js';

export const RTMP_VERSION = 3;
/** Size of C1, C2, S1 and S2. */
export const HANDSHAKE_SIZE = 1536;
const DIGEST_SIZE = 32;

const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab,
  0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
/** "Genuine Adobe Flash Player 001" followed by 32 constant bytes (62 bytes). C1 digests use its first 30. */
export const FLASH_PLAYER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);
/** "Genuine Adobe Flash Media Server 001" followed by the same 32 bytes (68 bytes). S1 digests use its first 36. */
export const FLASH_MEDIA_SERVER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'), KEY_TAIL]);
const CLIENT_DIGEST_KEY = FLASH_PLAYER_KEY.subarray(0, 30);
const SERVER_DIGEST_KEY = FLASH_MEDIA_SERVER_KEY.subarray(0, 36);

/** Version bytes the server writes into S1 (bytes 4–7) in the digest form; any non-zero value works. */
const SERVER_VERSION = Buffer.from([0x04, 0x05, 0x00, 0x01]);

/**
 * The two digest placements: scheme 0 puts the digest in the first half (offset from bytes 8–11), scheme 1
 * in the second half (offset from bytes 772–775). In both, the offset is the sum of four bytes modulo 728,
 * plus the position just after those four bytes.
 */
export type DigestScheme = 0 | 1;

export function digestOffset(block: Buffer, scheme: DigestScheme): number {
  const base = scheme === 0 ? 8 : 772;
  return ((block[base] + block[base + 1] + block[base + 2] + block[base + 3]) % 728) + base + 4;
}

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-SHA256 of a 1536-byte block with the 32 digest bytes at `offset` left out. */
export function blockDigest(block: Buffer, offset: number, key: Buffer): Buffer {
  return hmac(key, block.subarray(0, offset), block.subarray(offset + DIGEST_SIZE, HANDSHAKE_SIZE));
}

/** The digest a C1 carries, if any: the client's version field is non-zero and one scheme's HMAC matches. */
export function findClientDigest(c1: Buffer): { scheme: DigestScheme; digest: Buffer } | undefined {
  if (c1.length !== HANDSHAKE_SIZE) return undefined;
  if (c1.readUInt32BE(4) === 0) return undefined; // the plain handshake has zeros here
  for (const scheme of [0, 1] as const) {
    const offset = digestOffset(c1, scheme);
    const digest = c1.subarray(offset, offset + DIGEST_SIZE);
    if (blockDigest(c1, offset, CLIENT_DIGEST_KEY).equals(digest)) return { scheme, digest: Buffer.from(digest) };
  }
  return undefined;
}

/** The 32 bytes that end a digest-form S2: HMAC(key = HMAC(FMS key, client digest), S2 without them). */
export function s2Signature(s2: Buffer, clientDigest: Buffer): Buffer {
  const key = hmac(FLASH_MEDIA_SERVER_KEY, clientDigest);
  return hmac(key, s2.subarray(0, HANDSHAKE_SIZE - DIGEST_SIZE));
}

/**
 * S0+S1+S2 (3073 bytes) answering `c1` (1536 bytes). `digest` tells which form was used, for logs and tests.
 */
export function createServerHandshake(c1: Buffer): { response: Buffer; digest: boolean } {
  if (c1.length !== HANDSHAKE_SIZE) throw new RangeError(`C1 must be ${HANDSHAKE_SIZE} bytes`);
  const response = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
  response[0] = RTMP_VERSION;
  const s1 = response.subarray(1, 1 + HANDSHAKE_SIZE);
  const s2 = response.subarray(1 + HANDSHAKE_SIZE);
  randomBytes(HANDSHAKE_SIZE).copy(s1);
  s1.writeUInt32BE(0, 0); // time

  const client = findClientDigest(c1);
  if (!client) {
    s1.writeUInt32BE(0, 4); // zero
    c1.copy(s2); // S2 echoes C1
    return { response, digest: false };
  }
  SERVER_VERSION.copy(s1, 4);
  const offset = digestOffset(s1, client.scheme);
  blockDigest(s1, offset, SERVER_DIGEST_KEY).copy(s1, offset);

  randomBytes(HANDSHAKE_SIZE).copy(s2);
  s2Signature(s2, client.digest).copy(s2, HANDSHAKE_SIZE - DIGEST_SIZE);
  return { response, digest: true };
}

/** What one `ServerHandshake.push` did. */
export type HandshakeStep =
  /** C2 is not complete yet; `response` (S0+S1+S2) is there once C0+C1 are. */
  | { readonly done: false; readonly response?: Buffer }
  /** C2 is complete; `rest` is what followed it in the same read (the first chunks). */
  | { readonly done: true; readonly response?: Buffer; readonly rest: Buffer };

/**
 * The server's side of the handshake as a state machine over bytes cut at any boundary: collect C0+C1
 * (checking the version byte as soon as it arrives), answer S0+S1+S2, skip C2. Holds one 1537-byte buffer
 * until C0+C1 are complete or `release()` is called.
 */
export class ServerHandshake {
  #c0c1: Buffer | null = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
  #filled = 0;
  #c2Left = HANDSHAKE_SIZE;
  #digest = false;
  #released = false;

  /** Whether C1 carried a Flash-style digest (and S1/S2 were built in that form). */
  get digest(): boolean {
    return this.#digest;
  }

  get done(): boolean {
    return this.#c2Left === 0;
  }

  /** Feed bytes. Throws `RtmpProtocolError` on a version other than 3. */
  push(data: Buffer): HandshakeStep {
    if (this.#released) return { done: false };
    if (this.done) return { done: true, rest: data };
    let pos = 0;
    let response: Buffer | undefined;
    const c0c1 = this.#c0c1;
    if (c0c1) {
      const n = Math.min(c0c1.length - this.#filled, data.length);
      data.copy(c0c1, this.#filled, 0, n);
      this.#filled += n;
      pos = n;
      if (this.#filled > 0 && c0c1[0] !== RTMP_VERSION) throw new RtmpProtocolError(`unsupported RTMP version ${c0c1[0]}`);
      if (this.#filled < c0c1.length) return { done: false };
      const answer = createServerHandshake(c0c1.subarray(1));
      this.#digest = answer.digest;
      this.#c0c1 = null;
      response = answer.response;
    }
    const skip = Math.min(this.#c2Left, data.length - pos);
    this.#c2Left -= skip;
    pos += skip;
    if (this.#c2Left > 0) return { done: false, response };
    return { done: true, response, rest: data.subarray(pos) };
  }

  /** Drop the buffer (the session ended); later bytes are ignored. */
  release(): void {
    this.#released = true;
    this.#c0c1 = null;
  }
}
