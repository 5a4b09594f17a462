import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { compose } from '../../infra/app';
import type { KeyframeConfig } from '../../infra/config';
import { REPO_ROOT } from '../../infra/paths';
import { COMMERCIAL_REGIONS } from '../../infra/regions';
import type { KeyframeStack } from '../../infra/stack';

/** Shared by the infra tests: one synthesis per test file (esbuild bundling makes each take seconds). */
export interface Synthesized {
  readonly app: App;
  readonly stack: KeyframeStack;
  readonly config: KeyframeConfig;
  readonly template: Template;
  /** The synthesized template, as a file (for cfn-lint). */
  readonly templatePath: string;
  /** Runs cdk-nag's AwsSolutions pack over the app; unacknowledged findings, as `rule at path` lines. */
  nagFindings(): string[];
  dispose(): void;
}

/** The context in cdk.json, so tests synthesize what `cdk synth` would. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export function synthesize(
  context: Record<string, unknown> = {},
  opts: { playerDirectory?: string; deployRegion?: string; hostArchitecture?: string } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'keyframe-cdk-'));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...context } });
  const { stack, config } = compose(app, {
    playerDirectory: opts.playerDirectory ?? null,
    deployRegion: opts.deployRegion,
    hostArchitecture: opts.hostArchitecture,
  });
  const template = Template.fromStack(stack);
  const templatePath = join(outdir, 'template-under-test.json');
  writeFileSync(templatePath, JSON.stringify(template.toJSON()));
  return {
    app,
    stack,
    config,
    template,
    templatePath,
    nagFindings: () =>
      new AwsSolutionsChecks(app)
        .validateScope(app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** The cfn-lint executable, or undefined (with a line in the test output) when it is not installed. */
export function findCfnLint(): string | undefined {
  const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.warn('cfn-lint not installed: skipped');
    return undefined;
  }
  return 'cfn-lint';
}

export interface CfnLintMatch {
  readonly Level: string;
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path?: unknown[] };
}

/** Runs cfn-lint on a template (for these regions); returns its error-level findings as lines. */
export function cfnLintErrors(executable: string, templatePath: string, regions: readonly string[] = ['us-east-1']): string[] {
  const run = spawnSync(executable, ['--format', 'json', '--regions', ...regions, '--', templatePath], { encoding: 'utf8' });
  if (run.error) throw run.error;
  // Exit status bits: 2 = errors, 4 = warnings, 8 = informational; anything else is cfn-lint failing.
  if (run.status === null || (run.status & 1) !== 0 || run.status > 14) {
    throw new Error(`cfn-lint failed (status ${run.status}): ${run.stderr}`);
  }
  const matches = JSON.parse(run.stdout || '[]') as CfnLintMatch[];
  return matches.filter((m) => m.Level === 'Error').map((m) => `${m.Rule.Id} ${m.Message} at ${JSON.stringify(m.Location.Path ?? [])}`);
}

/** The logical ID of the one resource of a type whose properties match, failing if not exactly one. */
export function logicalIdOf(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const found = Object.keys(template.findResources(type, { Properties: props }));
  if (found.length !== 1) throw new Error(`expected one ${type} matching, found ${found.length}: ${found.join(', ')}`);
  return found[0];
}

/**
 * cfn-lint once over every commercial region. Errors that a resource type does not exist in a region are split
 * out by type (`missingTypes`: type → regions), since they name regions the stack cannot use; `errors` holds the rest.
 */
export function cfnLintAllRegions(executable: string, templatePath: string): { errors: string[]; missingTypes: Record<string, string[]> } {
  const missingTypes: Record<string, string[]> = {};
  const errors: string[] = [];
  for (const line of cfnLintErrors(executable, templatePath, COMMERCIAL_REGIONS)) {
    const m = /^E3006 Resource type '([^']+)' does not exist in '([a-z0-9-]+)'/.exec(line);
    if (m) (missingTypes[m[1]] ??= []).push(m[2]);
    else errors.push(line);
  }
  for (const regions of Object.values(missingTypes)) regions.sort();
  return { errors, missingTypes };
}
