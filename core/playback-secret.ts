import { playbackKey } from './playback-token';

/**
 * Where the playback-token secret comes from. One tiny interface, two sources:
 *
 * - a value from configuration (`KEYFRAME_PLAYBACK_SECRET`): the local stack and tests;
 * - a Secrets Manager secret (`KEYFRAME_PLAYBACK_SECRET_ARN`) read through the AWS Parameters and Secrets
 *   Lambda extension on `localhost:2773`: no SDK in the bundle, and the extension authenticates the call with
 *   the function's own session token. The function needs the extension layer and `secretsmanager:GetSecretValue`
 *   on that secret (docs/security.md lists what the template needs).
 *
 * The secret is fetched once per execution environment (cold start), on the first request that needs it,
 * so public playback never waits for it; a failed fetch is retried by the next request.
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

export interface SecretsExtensionOptions {
  /** The secret's ARN or name. */
  readonly secretId: string;
  /** The extension's port: PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, default 2773. */
  readonly port?: number;
  /** AWS_SESSION_TOKEN of the function, which the extension requires as `X-Aws-Parameters-Secrets-Token`. */
  readonly sessionToken?: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Reads a plain-text Secrets Manager secret through the Lambda extension (GetSecretValue response shape). */
export function secretsExtensionPlaybackKey(opts: SecretsExtensionOptions): PlaybackKeySource {
  const doFetch = opts.fetch ?? fetch;
  return memoizedPlaybackKey(async () => {
    const url = `http://localhost:${opts.port ?? 2773}/secretsmanager/get?secretId=${encodeURIComponent(opts.secretId)}`;
    const res = await doFetch(url, {
      headers: { 'X-Aws-Parameters-Secrets-Token': opts.sessionToken ?? '' },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
    });
    if (!res.ok) throw new Error(`the secrets extension answered ${res.status} for the playback secret`);
    const body = (await res.json()) as { SecretString?: unknown };
    if (typeof body.SecretString !== 'string') throw new Error('the playback secret has no SecretString (binary secrets are not supported)');
    return body.SecretString;
  });
}

/** The source an environment configures, or undefined when private playback is not configured. */
export function playbackKeyFromEnv(config: { playbackSecret?: string; playbackSecretArn?: string }, env: Record<string, string | undefined> = process.env): PlaybackKeySource | undefined {
  if (config.playbackSecret !== undefined) return staticPlaybackKey(config.playbackSecret);
  if (config.playbackSecretArn !== undefined) {
    const port = Number(env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? 2773);
    return secretsExtensionPlaybackKey({
      secretId: config.playbackSecretArn,
      port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 2773,
      sessionToken: env.AWS_SESSION_TOKEN,
    });
  }
  return undefined;
}
