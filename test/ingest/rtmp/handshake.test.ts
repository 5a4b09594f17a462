import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  blockDigest,
  createServerHandshake,
  digestOffset,
  type DigestScheme,
  findClientDigest,
  FLASH_MEDIA_SERVER_KEY,
  FLASH_PLAYER_KEY,
  HANDSHAKE_SIZE,
  s2Signature,
  ServerHandshake,
} from '../../../ingest/rtmp/handshake.js';
import { RtmpProtocolError } from '../../../ingest/rtmp/chunk-reader.js';
import { createRtmpServer, type RtmpServer } from '../../../ingest/rtmp/index.js';
import { plainC1, RawClient } from './helpers.js';

/** A C1 as librtmp builds it with the Flash Player 9 handshake: version bytes and a digest. */
function digestC1(scheme: DigestScheme): Buffer {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 0);
  c1.set([9, 0, 124, 2], 4);
  const offset = digestOffset(c1, scheme);
  blockDigest(c1, offset, FLASH_PLAYER_KEY.subarray(0, 30)).copy(c1, offset);
  return c1;
}

/** What a strict client (librtmp FP9, FFmpeg when playing) checks of S1 and S2. */
function verifyLikeStrictClient(c1: Buffer, response: Buffer, scheme: DigestScheme): void {
  expect(response[0]).toBe(3);
  const s1 = response.subarray(1, 1 + HANDSHAKE_SIZE);
  const s2 = response.subarray(1 + HANDSHAKE_SIZE);
  expect(s1.readUInt32BE(4)).not.toBe(0);
  const offset = digestOffset(s1, scheme);
  expect(s1.subarray(offset, offset + 32)).toEqual(blockDigest(s1, offset, FLASH_MEDIA_SERVER_KEY.subarray(0, 36)));
  const clientOffset = digestOffset(c1, scheme);
  const clientDigest = c1.subarray(clientOffset, clientOffset + 32);
  expect(s2.subarray(HANDSHAKE_SIZE - 32)).toEqual(s2Signature(s2, clientDigest));
}

describe('handshake (unit)', () => {
  it('answers a plain C1 with S2 echoing C1', () => {
    const c1 = plainC1();
    expect(findClientDigest(c1)).toBeUndefined();
    const { response, digest } = createServerHandshake(c1);
    expect(digest).toBe(false);
    expect(response.length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(response[0]).toBe(3);
    expect(response.readUInt32BE(1 + 4)).toBe(0);
    expect(response.subarray(1 + HANDSHAKE_SIZE)).toEqual(c1);
  });

  for (const scheme of [0, 1] as const) {
    it(`answers a digest C1 (scheme ${scheme}) with a digest S1 and signed S2`, () => {
      const c1 = digestC1(scheme);
      expect(findClientDigest(c1)?.scheme).toBe(scheme);
      const { response, digest } = createServerHandshake(c1);
      expect(digest).toBe(true);
      verifyLikeStrictClient(c1, response, scheme);
    });
  }

  it('answers plainly when the version bytes are set but the digest is wrong', () => {
    const c1 = digestC1(0);
    c1[digestOffset(c1, 0)] ^= 0xff;
    expect(findClientDigest(c1)).toBeUndefined();
    expect(createServerHandshake(c1).digest).toBe(false);
  });
});

describe('handshake (over TCP)', () => {
  let server: RtmpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('completes a digest handshake a strict client verifies, then serves connect', async () => {
    server = createRtmpServer({ onPublish: () => ({ accept: false }) });
    const { port } = await server.listen(0, '127.0.0.1');
    const client = await RawClient.open(port);
    const c1 = digestC1(1);
    const response = await client.handshake(c1);
    verifyLikeStrictClient(c1, response, 1);
    expect(server.sessions()[0]?.digestHandshake).toBe(true);
    const result = await client.connectApp();
    expect(result.name).toBe('_result');
    client.destroy();
  });
});

describe('ServerHandshake (the state machine)', () => {
  it('answers once C0+C1 are in, however they are cut, and hands back what follows C2', () => {
    const hs = new ServerHandshake();
    const c1 = plainC1();
    const after = Buffer.from('first chunk');
    const input = Buffer.concat([Buffer.from([3]), c1, Buffer.alloc(HANDSHAKE_SIZE, 7), after]);
    const responses: Buffer[] = [];
    let rest: Buffer | undefined;
    for (let i = 0; i < input.length; i += 500) {
      const step = hs.push(input.subarray(i, i + 500));
      if (step.response) responses.push(step.response);
      if (step.done) {
        rest = Buffer.concat([step.rest, input.subarray(i + 500)]);
        break;
      }
    }
    expect(responses).toHaveLength(1);
    expect(responses[0].length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(responses[0].subarray(1 + HANDSHAKE_SIZE)).toEqual(c1); // plain form: S2 echoes C1
    expect(hs.digest).toBe(false);
    expect(hs.done).toBe(true);
    expect(rest).toEqual(after);
  });

  it('refuses a wrong version on the first byte, before C1 is complete', () => {
    expect(() => new ServerHandshake().push(Buffer.from([6]))).toThrow(RtmpProtocolError);
  });

  it('ignores bytes once released', () => {
    const hs = new ServerHandshake();
    hs.release();
    expect(hs.push(Buffer.concat([Buffer.from([3]), plainC1(), Buffer.alloc(HANDSHAKE_SIZE)]))).toEqual({ done: false });
  });
});
