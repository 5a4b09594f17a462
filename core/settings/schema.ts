/**
 * Typed settings schemas. Each service (origin, task-events, ingest, local stack, CLI) declares its environment
 * variables once, here in core/settings/, and both sides use that one declaration:
 *
 * - the reader calls `schema.load(env)`: every variable is parsed and validated, and a bad value fails at start-up
 *   with an error that names the variable, the value and what is expected;
 * - the writer (infra, the local stack, tests) calls `schema.toEnv({...})`: the keys are the schema's own, typed,
 *   so a variable that is written but not read, or required but not written, fails the type check.
 *
 * `process.env` is read only here (`load()` without an argument): nowhere else in production code.
 *
 * No schema library: the needs are a handful of scalar kinds with ranges and derived defaults, and the two
 * directions (load and toEnv) from one declaration, which is 150 lines; zod or valibot would add a dependency
 * to the Lambda bundles and still need the toEnv half written by hand (docs/architecture.md, "Settings").
 */
import { ConfigError } from './env';

export { ConfigError };

export type Env = Readonly<Record<string, string | undefined>>;

/** One variable: its name, how it parses and prints, and its default (possibly derived from earlier values). */
export interface Setting<T, Required extends boolean = boolean> {
  readonly env: string;
  readonly required: Required;
  readonly doc: string;
  /** A default, or a function of the values parsed before this one (in declaration order). */
  readonly default?: T | ((earlier: Record<string, unknown>) => T);
  parse(raw: string): T;
  format(value: T): string;
}

type ValueOf<S> = S extends Setting<infer T, boolean> ? T : never;
type RequiredKeys<S> = { [K in keyof S]: S[K] extends Setting<unknown, true> ? K : never }[keyof S];
type OptionalKeys<S> = Exclude<keyof S, RequiredKeys<S>>;

/** What `load()` returns: every key, parsed. */
export type SettingsOf<S> = { readonly [K in keyof S]: ValueOf<S[K]> };
/** What `toEnv()` takes: the required keys, and any of the others. */
export type SettingsInput<S> = { readonly [K in RequiredKeys<S>]: ValueOf<S[K]> } & { readonly [K in OptionalKeys<S>]?: ValueOf<S[K]> };

export interface SettingsSchema<S extends Record<string, Setting<any>>> {
  readonly service: string;
  readonly settings: S;
  /** The environment variable names, in declaration order. */
  readonly variables: readonly string[];
  /** Parse and validate. Without an argument, reads `process.env` (the one place that does). */
  load(env?: Env): SettingsOf<S>;
  /** The environment for these values; unset keys are left out, so the reader's default applies. */
  toEnv(values: SettingsInput<S>): Record<string, string>;
}

/**
 * The process's environment as a whole, for a child process that must inherit it (PATH, HOME, the AWS
 * variables): the local stack's ingest tasks. Not for reading settings: use a schema's `load()`.
 */
export function inheritedEnvironment(): Record<string, string | undefined> {
  return { ...process.env };
}

/** The AWS SDK's warning about this Node version (20, supported here until the Lambda runtimes move on). */
export function quietAwsSdkVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export function defineSettings<S extends Record<string, Setting<any>>>(service: string, settings: S): SettingsSchema<S> {
  const entries = Object.entries(settings) as [string, Setting<unknown>][];
  const names = entries.map(([, s]) => s.env);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${service} settings: ${dup} is declared twice`);
  return {
    service,
    settings,
    variables: names,
    load(env: Env = process.env) {
      const out: Record<string, unknown> = {};
      for (const [key, s] of entries) {
        const raw = env[s.env];
        if (raw === undefined || raw === '') {
          if (s.default !== undefined)
            out[key] = typeof s.default === 'function' ? (s.default as (e: Record<string, unknown>) => unknown)(out) : s.default;
          else if (s.required) throw new ConfigError(`${s.env} is not set; ${s.doc}`);
          else out[key] = undefined;
          continue;
        }
        out[key] = s.parse(raw);
      }
      return out as SettingsOf<S>;
    },
    toEnv(values) {
      const out: Record<string, string> = {};
      for (const [key, s] of entries) {
        const v = (values as Record<string, unknown>)[key];
        if (v !== undefined) out[s.env] = s.format(v);
      }
      return out;
    },
  };
}

interface Common<T> {
  readonly doc?: string;
  readonly default?: T | ((earlier: Record<string, unknown>) => T);
}

type Req<O> = O extends { default: unknown } ? false : true;

/** A non-empty string. Required unless it has a default. */
export function text<O extends Common<string>>(env: string, opts: O = {} as O): Setting<string, Req<O>> {
  return {
    env,
    required: (opts.default === undefined) as Req<O>,
    doc: opts.doc ?? 'set it to a non-empty string',
    default: opts.default,
    parse: (raw) => raw,
    format: (v) => v,
  };
}

/** A string that may be absent; `check` returns a problem ("is too short; …") or undefined. */
export function optionalText(
  env: string,
  opts: { doc?: string; check?: (v: string) => string | undefined } = {},
): Setting<string | undefined, false> {
  return {
    env,
    required: false,
    doc: opts.doc ?? 'optional',
    parse(raw) {
      const problem = opts.check?.(raw);
      if (problem) throw new ConfigError(`${env} ${problem}`);
      return raw;
    },
    format: (v) => v ?? '',
  };
}

export interface NumberRange {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  /** Also accept `Infinity` (any case). */
  readonly allowInfinity?: boolean;
}

/** A number in a range. Required unless it has a default. */
export function number<O extends Common<number> & NumberRange>(env: string, opts: O): Setting<number, Req<O>> {
  const kind = opts.integer ? 'an integer' : 'a number';
  return {
    env,
    required: (opts.default === undefined) as Req<O>,
    doc: opts.doc ?? `set it to ${kind} from ${opts.min} to ${opts.max}`,
    default: opts.default,
    parse(raw) {
      if (opts.allowInfinity && /^infinity$/i.test(raw.trim())) return Infinity;
      const value = Number(raw);
      if (!Number.isFinite(value) || (opts.integer && !Number.isInteger(value))) {
        throw new ConfigError(`${env}=${JSON.stringify(raw)} is not ${kind}`);
      }
      if (value < opts.min) throw new ConfigError(`${env}=${raw} is below the minimum ${opts.min}`);
      if (value > opts.max) throw new ConfigError(`${env}=${raw} is above the maximum ${opts.max}`);
      return value;
    },
    format: (v) => (v === Infinity ? 'Infinity' : String(v)),
  };
}

/** true/false (also 1/0, yes/no, on/off). */
export function flag<O extends Common<boolean>>(env: string, opts: O = {} as O): Setting<boolean, Req<O>> {
  return {
    env,
    required: (opts.default === undefined) as Req<O>,
    doc: opts.doc ?? 'set it to true or false',
    default: opts.default,
    parse(raw) {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${env}=${JSON.stringify(raw)} is not a boolean; use true or false`);
    },
    format: (v) => String(v),
  };
}

/** One of a fixed set of words. */
export function oneOf<const W extends string, O extends Common<W>>(env: string, words: readonly W[], opts: O = {} as O): Setting<W, Req<O>> {
  return {
    env,
    required: (opts.default === undefined) as Req<O>,
    doc: opts.doc ?? `set it to one of ${words.join(', ')}`,
    default: opts.default,
    parse(raw) {
      const found = words.find((w) => w.toLowerCase() === raw.toLowerCase());
      if (found === undefined) throw new ConfigError(`${env}=${JSON.stringify(raw)} is not one of ${words.join(', ')}`);
      return found;
    },
    format: (v) => v,
  };
}
