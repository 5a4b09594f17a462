/**
 * A local stand-in for the Lambda runtime: it loads a function's entry module by path (core/lambdas.ts, the
 * same entry infra bundles) and builds its handler from an environment written with the function's settings
 * schema, as Lambda builds it from the function's configuration. The local stack therefore never imports
 * functions/: it runs them, like AWS does.
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LAMBDA_ENTRIES, type LambdaDeps, type LambdaModules, type LambdaName } from '../core/lambdas';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

export async function loadLocalFunction<N extends LambdaName>(
  name: N,
  env: Record<string, string>,
  deps: LambdaDeps = {},
): Promise<ReturnType<LambdaModules[N]['createHandler']>> {
  const url = pathToFileURL(resolve(REPO_ROOT, LAMBDA_ENTRIES[name])).href;
  const mod = (await import(url)) as LambdaModules[N];
  if (typeof mod.createHandler !== 'function') throw new Error(`${LAMBDA_ENTRIES[name]} exports no createHandler(env, deps)`);
  return mod.createHandler(env, deps) as ReturnType<LambdaModules[N]['createHandler']>;
}
