/**
 * Environment getters. Each throws an error that names the variable, the bad value and what is expected,
 * so a misconfigured task or function fails at start-up with a message an operator can act on.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function getString(name: string, opts: { default?: string; env?: Env } = {}): string {
  const raw = (opts.env ?? process.env)[name];
  if (raw === undefined || raw === '') {
    if (opts.default !== undefined) return opts.default;
    throw new ConfigError(`${name} is not set; set it to a non-empty string`);
  }
  return raw;
}

export function getOptionalString(name: string, env: Env = process.env): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

export function getNumber(name: string, opts: { default?: number; min?: number; max?: number; integer?: boolean; env?: Env } = {}): number {
  const raw = (opts.env ?? process.env)[name];
  if (raw === undefined || raw === '') {
    if (opts.default !== undefined) return opts.default;
    throw new ConfigError(`${name} is not set; set it to a number`);
  }
  const value = Number(raw);
  const kind = opts.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(value) || (opts.integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not ${kind}`);
  }
  if (opts.min !== undefined && value < opts.min) {
    throw new ConfigError(`${name}=${raw} is below the minimum ${opts.min}`);
  }
  if (opts.max !== undefined && value > opts.max) {
    throw new ConfigError(`${name}=${raw} is above the maximum ${opts.max}`);
  }
  return value;
}

export function getBoolean(name: string, opts: { default?: boolean; env?: Env } = {}): boolean {
  const raw = (opts.env ?? process.env)[name];
  if (raw === undefined || raw === '') {
    if (opts.default !== undefined) return opts.default;
    throw new ConfigError(`${name} is not set; set it to true or false`);
  }
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a boolean; use true or false`);
}
