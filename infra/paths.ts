import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAMBDA_ENTRIES } from '../core/lambdas';

/** The repository root: the Docker build context of the ingest image and the root of every Lambda entry. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const PATHS = {
  ingestDockerfile: 'ingest/Dockerfile',
  originEntry: LAMBDA_ENTRIES.origin,
  taskEventsEntry: LAMBDA_ENTRIES.taskEvents,
  lockFile: 'package-lock.json',
  /** The built player page. When it exists at synth, the stack serves it under /watch/. */
  playerDist: 'player/dist',
} as const;

export function repoPath(relative: string, root = REPO_ROOT): string {
  return join(root, relative);
}

/** The player build directory if it has been built (has an index.html), else undefined. */
export function builtPlayerDir(root = REPO_ROOT): string | undefined {
  const dir = repoPath(PATHS.playerDist, root);
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}
