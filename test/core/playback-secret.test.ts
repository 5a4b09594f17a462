import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import {
  playbackKeyFromSettings,
  refreshingPlaybackKey,
  sdkSecretStringReader,
  type SecretStringReader,
  secretsManagerPlaybackKey,
} from '../../core/playback-secret';

const SECRET_A = 'secret-a-0123456789abcdef0123456789abcdef';
const SECRET_B = 'secret-b-0123456789abcdef0123456789abcdef';
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kf/playback';

/** A reader that answers from a script and records each call; each answer can be held until released. */
function scriptedReader(answers: Array<string | Error | undefined>) {
  const calls: string[] = [];
  const reader: SecretStringReader = {
    async getSecretString(secretId) {
      calls.push(secretId);
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { reader, calls };
}

describe('the Secrets Manager playback key (cache and refresh over the SDK adapter)', () => {
  it('reads once for concurrent first requests, then answers from memory until the refresh interval', async () => {
    let t = 1_000;
    const { reader, calls } = scriptedReader([SECRET_A]);
    const source = secretsManagerPlaybackKey({ secretId: ARN, reader, refreshMs: 60_000, now: () => t });
    const [a, b, c] = await Promise.all([source.get(), source.get(), source.get()]);
    expect(a.toString()).toBe(SECRET_A);
    expect(b).toBe(a);
    expect(c).toBe(a);
    t += 59_999;
    await source.get();
    expect(calls).toEqual([ARN]);
  });

  it('picks up a rotated secret in the background, never making a request wait', async () => {
    let t = 0;
    const { reader, calls } = scriptedReader([SECRET_A, SECRET_B]);
    const source = secretsManagerPlaybackKey({ secretId: ARN, reader, refreshMs: 60_000, now: () => t });
    expect((await source.get()).toString()).toBe(SECRET_A);
    t = 60_000;
    // Due for a refresh: this request still gets the held key, and starts one reload.
    expect((await source.get()).toString()).toBe(SECRET_A);
    await vi.waitFor(async () => expect((await source.get()).toString()).toBe(SECRET_B), { timeout: 5_000 });
    expect(calls).toEqual([ARN, ARN]);
  });

  it('keeps the held key when a refresh fails, and retries only after retryMs', async () => {
    let t = 0;
    const errors: string[] = [];
    const { reader, calls } = scriptedReader([SECRET_A, new Error('throttled'), SECRET_B]);
    const source = secretsManagerPlaybackKey({
      secretId: ARN,
      reader,
      refreshMs: 60_000,
      retryMs: 10_000,
      now: () => t,
      onRefreshError: (err) => errors.push(err.message),
    });
    await source.get();
    t = 60_000;
    expect((await source.get()).toString()).toBe(SECRET_A);
    await vi.waitFor(() => expect(errors).toEqual(['throttled']), { timeout: 5_000 });
    t = 69_999;
    expect((await source.get()).toString()).toBe(SECRET_A);
    expect(calls).toHaveLength(2);
    t = 70_000;
    await source.get();
    await vi.waitFor(async () => expect((await source.get()).toString()).toBe(SECRET_B), { timeout: 5_000 });
    expect(calls).toHaveLength(3);
  });

  it('rejects the first request when the first read fails, and the next request tries again', async () => {
    const { reader, calls } = scriptedReader([new Error('no route to Secrets Manager'), SECRET_A]);
    const source = secretsManagerPlaybackKey({ secretId: ARN, reader });
    await expect(source.get()).rejects.toThrow('no route to Secrets Manager');
    expect((await source.get()).toString()).toBe(SECRET_A);
    expect(calls).toHaveLength(2);
  });

  it('refuses a binary secret and a secret too short to be a key', async () => {
    await expect(secretsManagerPlaybackKey({ secretId: ARN, reader: scriptedReader([undefined]).reader }).get()).rejects.toThrow(/no SecretString/);
    await expect(secretsManagerPlaybackKey({ secretId: ARN, reader: scriptedReader(['short']).reader }).get()).rejects.toThrow(
      /at least 32 characters/,
    );
  });

  it('refreshing cache works over any loader', async () => {
    let n = 0;
    const source = refreshingPlaybackKey(async () => `${++n}`.padEnd(40, 'x'), { refreshMs: 0, now: () => 0 });
    expect((await source.get()).toString()).toBe('1'.padEnd(40, 'x'));
    await vi.waitFor(async () => expect((await source.get()).toString()).toBe('2'.padEnd(40, 'x')), { timeout: 5_000 });
  });
});

describe('playbackKeyFromSettings', () => {
  it('prefers a configured secret, uses the ARN through the reader, and is off when neither is set', async () => {
    expect((await playbackKeyFromSettings({ playbackSecret: SECRET_A })?.get())?.toString()).toBe(SECRET_A);
    const { reader, calls } = scriptedReader([SECRET_B]);
    expect((await playbackKeyFromSettings({ playbackSecretArn: ARN }, { reader })?.get())?.toString()).toBe(SECRET_B);
    expect(calls).toEqual([ARN]);
    expect(playbackKeyFromSettings({})).toBeUndefined();
  });
});

describe('the SDK adapter (real @aws-sdk/client-secrets-manager against a local endpoint)', () => {
  it('sends a signed GetSecretValue for the secret and returns its SecretString', async () => {
    const seen: Array<{ target: string | undefined; auth: string | undefined; body: unknown }> = [];
    const body = (req: IncomingMessage) =>
      new Promise<string>((resolve) => {
        let s = '';
        req.on('data', (c: Buffer) => (s += c.toString()));
        req.on('end', () => resolve(s));
      });
    const server = createServer((req, res) => {
      void body(req).then((text) => {
        seen.push({ target: req.headers['x-amz-target'] as string | undefined, auth: req.headers.authorization, body: JSON.parse(text) });
        const answer = { ARN, Name: 'kf/playback', SecretString: SECRET_A };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const reader = sdkSecretStringReader({
        region: 'eu-west-1',
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'test-secret-key' },
      });
      expect(await reader.getSecretString(ARN)).toBe(SECRET_A);
      expect(seen).toHaveLength(1);
      expect(seen[0].target).toBe('secretsmanager.GetSecretValue');
      expect(seen[0].auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
      expect(seen[0].body).toEqual({ SecretId: ARN });
    } finally {
      server.close();
    }
  });

  it('fails within its timeout when the endpoint never answers', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const reader = sdkSecretStringReader({
        region: 'eu-west-1',
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'test-secret-key' },
        timeoutMs: 300,
      });
      await expect(reader.getSecretString(ARN)).rejects.toThrow();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
