/**
 * The composition root: `cdk.json` runs this file (`npx tsx infra/app.ts`). It reads and validates the
 * config once, builds the one stack, and registers cdk-nag's AwsSolutions pack as a synth-time validation
 * plugin, so `cdk synth` fails on any finding that is not acknowledged with a reason
 * (`Validations.of(construct).acknowledge(...)` next to the resource).
 *
 * The stack is environment-agnostic (no account/region, no lookups): it synthesizes offline and deploys to
 * whatever account and region the CLI's credentials point at.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, type KeyframeConfig, loadConfig } from './config';
import { builtPlayerDir, REPO_ROOT } from './paths';
import { KeyframeStack } from './stack';
import { synthSettings } from '../core/settings/synth';

export interface ComposeOptions {
  /** Built player page to serve under /watch/. @default - player/dist if it has been built */
  readonly playerDirectory?: string | null;
  /** @default REPO_ROOT */
  readonly repoRoot?: string;
  /** The region `cdk deploy` targets, when known at synth: region rules are then checked at synth too. */
  readonly deployRegion?: string;
  /** The build machine's CPU architecture (for `keyframe:ingestArchitecture=host`). @default os.arch() */
  readonly hostArchitecture?: string;
}

export interface Composed {
  readonly app: App;
  readonly config: KeyframeConfig;
  readonly stack: KeyframeStack;
}

/** Builds the app: config from the app's context, the stack, and the cdk-nag checks. */
export function compose(app: App, options: ComposeOptions = {}): Composed {
  const config = loadConfig(app.node.getAllContext(), { deployRegion: options.deployRegion });
  const playerDirectory = options.playerDirectory === null ? undefined : (options.playerDirectory ?? builtPlayerDir(options.repoRoot ?? REPO_ROOT));
  const stack = new KeyframeStack(app, config.stackName, {
    stackName: config.stackName,
    config,
    playerDirectory,
    repoRoot: options.repoRoot,
    hostArchitecture: options.hostArchitecture,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, config, stack };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // Build the player page (player/dist) so every synth and deploy ships the current player under /watch/.
  if (!synthSettings.load().skipPlayerBuild) {
    const { writePlayerDist } = await import('../player/build');
    await writePlayerDist();
  }
  try {
    compose(new App(), { deployRegion: synthSettings.load().deployRegion }).app.synth();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Keyframe config is invalid (cdk.json "context" or -c flags):\n${err.issues.map((i) => `  - ${i}`).join('\n')}`);
      process.exit(1);
    }
    throw err;
  }
}
