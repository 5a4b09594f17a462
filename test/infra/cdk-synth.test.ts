import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths';

/**
 * The real CLI, the way a user runs it: `npx cdk synth`, offline, with no AWS credentials and no Docker.
 * One successful synthesis (it bundles both functions and stages the image context), plus one that the
 * config check stops before any bundling.
 */
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function cdkSynth(extraArgs: string[]) {
  const outdir = mkdtempSync(join(tmpdir(), 'keyframe-cdk-cli-'));
  outdirs.push(outdir);
  // No credentials, no region, no instance metadata: synthesis must not need any of them.
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_VERSION_CHECK: 'true' };
  for (const name of Object.keys(env)) {
    if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|REGION|DEFAULT_REGION)$/.test(name)) delete env[name];
  }
  env.AWS_CONFIG_FILE = join(outdir, 'no-aws-config');
  env.AWS_SHARED_CREDENTIALS_FILE = join(outdir, 'no-aws-credentials');
  const run = spawnSync('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', outdir, ...extraArgs], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { ...run, outdir };
}

describe('npx cdk synth', () => {
  it('synthesizes the stack offline and exits 0', { timeout: 180_000 }, () => {
    const run = cdkSynth([]);
    expect(run.error).toBeUndefined();
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const templatePath = join(run.outdir, 'Keyframe.template.json');
    expect(existsSync(templatePath)).toBe(true);
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as { Resources: Record<string, { Type: string }> };
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of ['AWS::ECS::Service', 'AWS::CloudFront::Distribution', 'AWS::DynamoDB::Table', 'AWS::Lambda::Url']) {
      expect(types.has(type), type).toBe(true);
    }
  });

  it('stops on a bad config with the message naming the key, the value and the fix', { timeout: 120_000 }, () => {
    const run = cdkSynth(['-c', 'keyframe:segmentSeconds=0']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('keyframe:segmentSeconds="0": out of range. Fix: set an integer from 1 to 10 (default 1)');
  });
});
