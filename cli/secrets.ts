import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { playbackKey } from '../core/playback-token';
import { UsageError } from '../core/channels';
import { cliSettings, type CliSettings } from '../core/settings/cli';

/**
 * Where `keyframe playback-url` gets the playback secret to sign tokens with:
 * - KEYFRAME_PLAYBACK_SECRET, if set (anywhere);
 * - locally, `<stateDir>/playback-secret`, written by the local stack;
 * - for a deployed stack, its Secrets Manager secret (by ARN or name), read with the AWS SDK.
 */

/** The slice of `@aws-sdk/client-secrets-manager` used here; tests pass a fake. */
export interface SecretsManagerLike {
  getSecretString(secretId: string): Promise<string | undefined>;
}

const SDK_MODULE = '@aws-sdk/client-secrets-manager';

/** Loads the SDK lazily, so the rest of the CLI works without it. */
export async function sdkSecretsManager(region?: string): Promise<SecretsManagerLike> {
  type Sdk = {
    SecretsManagerClient: new (config: { region?: string }) => { send(command: unknown): Promise<{ SecretString?: string }> };
    GetSecretValueCommand: new (input: { SecretId: string }) => unknown;
  };
  let sdk: Sdk;
  try {
    sdk = (await import(/* @vite-ignore */ SDK_MODULE)) as Sdk;
  } catch {
    throw new UsageError(
      `reading a deployed stack's playback secret needs the package ${SDK_MODULE} (npm install ${SDK_MODULE}); or set KEYFRAME_PLAYBACK_SECRET`,
    );
  }
  const client = new sdk.SecretsManagerClient(region ? { region } : {});
  return {
    async getSecretString(secretId) {
      const out = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }));
      return out.SecretString;
    },
  };
}

export async function localPlaybackSecret(dir: string, settings: Partial<Pick<CliSettings, 'playbackSecret'>> = cliSettings.load()): Promise<Buffer> {
  if (settings.playbackSecret) return playbackKey(settings.playbackSecret);
  const file = join(dir, 'playback-secret');
  let secret: string;
  try {
    secret = (await readFile(file, 'utf8')).trim();
  } catch {
    throw new UsageError(`no playback secret in ${file}: start the local stack once (npm start), or set KEYFRAME_PLAYBACK_SECRET`);
  }
  return playbackKey(secret);
}

export async function deployedPlaybackSecret(
  opts: { secretId?: string; region?: string },
  settings: Partial<Pick<CliSettings, 'playbackSecret' | 'playbackSecretArn'>> = cliSettings.load(),
  secrets?: SecretsManagerLike,
): Promise<Buffer> {
  if (settings.playbackSecret) return playbackKey(settings.playbackSecret);
  const secretId = opts.secretId ?? settings.playbackSecretArn;
  if (!secretId) {
    throw new UsageError(
      "this stack's playback secret is unknown: pass --secret-id <arn or name> (the stack's PlaybackSecretArn output), or set KEYFRAME_PLAYBACK_SECRET",
    );
  }
  const client = secrets ?? (await sdkSecretsManager(opts.region));
  const value = await client.getSecretString(secretId);
  if (!value) throw new UsageError(`secret ${secretId} has no string value`);
  return playbackKey(value);
}
