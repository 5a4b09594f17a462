import { playbackKey } from './playback-token';

/**
 * Where the playback-token secret comes from. One tiny interface, two sources:
 *
 * - a value from configuration (`KEYFRAME_PLAYBACK_SECRET`): the local stack and tests;
 * - a Secrets Manager secret (`KEYFRAME_PLAYBACK_SECRET_ARN`) read with the AWS SDK
 *   (`@aws-sdk/client-secrets-manager`, bundled into the function like the DynamoDB client). The function needs
 *   `secretsmanager:GetSecretValue` on that secret and a route to the Secrets Manager endpoint (the origin
 *   reaches it through the VPC's NAT). No Lambda layer and no region-keyed layer ARN: the same template deploys
 *   in every region.
 *
 * The secret is read on the first request that needs it (so public playback never waits for it), kept in
 * memory, and re-read in the background every `refreshMs` (default 5 minutes) so a rotated secret is picked up
 * without a cold start. A failed first read rejects that request and the next request tries again; a failed
 * refresh keeps serving the key already held and tries again after `retryMs`.
 */
export interface PlaybackKeySource {
  /** The HMAC key. Rejects if the secret cannot be read or is too short. */
  get(): Promise<Buffer>;
}

export function staticPlaybackKey(secret: string): PlaybackKeySource {
  const key = playbackKey(secret);
  return { get: () => Promise.resolve(key) };
}

/** Memoizes a loader: one fetch in flight at a time, kept once it succeeds, forgotten if it fails. */
export function memoizedPlaybackKey(load: () => Promise<string>): PlaybackKeySource {
  let pending: Promise<Buffer> | undefined;
  return {
    get() {
      if (!pending) {
        const p = load().then(playbackKey);
        pending = p;
        p.catch(() => {
          if (pending === p) pending = undefined;
        });
      }
      return pending;
    },
  };
}

/** How often a held secret is re-read. */
export const DEFAULT_SECRET_REFRESH_MS = 5 * 60_000;
/** After a failed refresh, how long until the next attempt (the held key is used meanwhile). */
export const DEFAULT_SECRET_RETRY_MS = 10_000;

export interface RefreshingKeyOptions {
  /** @default DEFAULT_SECRET_REFRESH_MS */
  readonly refreshMs?: number;
  /** @default DEFAULT_SECRET_RETRY_MS */
  readonly retryMs?: number;
  /** Called when a background refresh fails (the held key stays in use). */
  readonly onRefreshError?: (err: Error) => void;
  readonly now?: () => number;
}

/**
 * An in-memory cache over a loader, with refresh: the first `get()` waits for the load (concurrent callers share
 * it); later calls answer from memory at once and, once the key is `refreshMs` old, start one background reload.
 */
export function refreshingPlaybackKey(load: () => Promise<string>, opts: RefreshingKeyOptions = {}): PlaybackKeySource {
  const refreshMs = opts.refreshMs ?? DEFAULT_SECRET_REFRESH_MS;
  const retryMs = opts.retryMs ?? DEFAULT_SECRET_RETRY_MS;
  const now = opts.now ?? Date.now;
  let held: { key: Buffer; loadedAt: number } | undefined;
  let inflight: Promise<Buffer> | undefined;
  let lastFailureAt = -Infinity;

  const start = (): Promise<Buffer> => {
    const p = (async () => playbackKey(await load()))();
    inflight = p;
    // Settled in the same reaction that settles `p`, so a caller resuming from `await p` sees the new state.
    p.then(
      (key) => {
        held = { key, loadedAt: now() };
        if (inflight === p) inflight = undefined;
      },
      () => {
        lastFailureAt = now();
        if (inflight === p) inflight = undefined;
      },
    );
    return p;
  };

  return {
    get() {
      if (!held) return inflight ?? start();
      const t = now();
      if (!inflight && t - held.loadedAt >= refreshMs && t - lastFailureAt >= retryMs) {
        start().catch((err: Error) => opts.onRefreshError?.(err));
      }
      return Promise.resolve(held.key);
    },
  };
}

/** The slice of Secrets Manager the origin uses: the thin adapter the tests replace. */
export interface SecretStringReader {
  /** The secret's current SecretString; undefined if it has none (a binary secret). */
  getSecretString(secretId: string): Promise<string | undefined>;
}

export interface SdkSecretReaderOptions {
  /** @default - the SDK's (AWS_REGION in Lambda) */
  readonly region?: string;
  /** A different endpoint (tests against a local server). */
  readonly endpoint?: string;
  /** @default - the SDK's default chain (the function's role in Lambda) */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Per call, retries included. @default 3000 */
  readonly timeoutMs?: number;
}

/**
 * GetSecretValue through `@aws-sdk/client-secrets-manager`. The SDK module is loaded on the first read, so a cold
 * start that serves only public playback never pays for it; one client is reused after that.
 */
export function sdkSecretStringReader(opts: SdkSecretReaderOptions = {}): SecretStringReader {
  type Sdk = typeof import('@aws-sdk/client-secrets-manager');
  let client: Promise<{ sdk: Sdk; client: InstanceType<Sdk['SecretsManagerClient']> }> | undefined;
  const connect = () => {
    client ??= import('@aws-sdk/client-secrets-manager').then((sdk) => ({
      sdk,
      client: new sdk.SecretsManagerClient({
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        maxAttempts: 2,
      }),
    }));
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
  return {
    async getSecretString(secretId) {
      const { sdk, client: c } = await connect();
      const out = await c.send(new sdk.GetSecretValueCommand({ SecretId: secretId }), {
        abortSignal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
      });
      return out.SecretString;
    },
  };
}

export interface SecretsManagerKeyOptions extends RefreshingKeyOptions {
  /** The secret's ARN or name. */
  readonly secretId: string;
  /** @default sdkSecretStringReader() */
  readonly reader?: SecretStringReader;
}

/** The playback key from a plain-text Secrets Manager secret, cached in memory and refreshed. */
export function secretsManagerPlaybackKey(opts: SecretsManagerKeyOptions): PlaybackKeySource {
  const reader = opts.reader ?? sdkSecretStringReader();
  return refreshingPlaybackKey(async () => {
    const value = await reader.getSecretString(opts.secretId);
    if (typeof value !== 'string') throw new Error('the playback secret has no SecretString (binary secrets are not supported)');
    return value;
  }, opts);
}

/** The source a configuration names, or undefined when private playback is not configured. */
export function playbackKeyFromSettings(
  config: { playbackSecret?: string; playbackSecretArn?: string },
  deps: Omit<SecretsManagerKeyOptions, 'secretId'> = {},
): PlaybackKeySource | undefined {
  if (config.playbackSecret !== undefined) return staticPlaybackKey(config.playbackSecret);
  if (config.playbackSecretArn !== undefined) return secretsManagerPlaybackKey({ ...deps, secretId: config.playbackSecretArn });
  return undefined;
}
