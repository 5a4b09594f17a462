import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CURRENT_VERSION_EXPIRED_FLAGS, FLAGS } from 'aws-cdk-lib/cx-api';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths';

/**
 * cdk.json pins every aws-cdk-lib feature flag whose unset behaviour differs from the recommended one, at the value
 * the template was reviewed with. An aws-cdk-lib upgrade that adds a flag fails here until someone decides its value
 * (and reads the synthesized diff), instead of the flag staying silently unset.
 */
const context = (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
/** A list, not a behaviour switch: CDK's partition list for region facts (unset is fine). */
const NOT_PINNED = new Set(['@aws-cdk/core:target-partitions']);

describe('cdk.json feature flags', () => {
  it('pins every flag whose default is not the recommended value', () => {
    const expired = new Set<string>(CURRENT_VERSION_EXPIRED_FLAGS);
    const unpinned = Object.entries(FLAGS)
      .filter(([name]) => !expired.has(name) && !NOT_PINNED.has(name))
      .filter(([, flag]) => JSON.stringify(flag.unconfiguredBehavesLike?.v2) !== JSON.stringify(flag.recommendedValue))
      .map(([name]) => name)
      .filter((name) => !(name in context));
    expect(unpinned).toEqual([]);
  });

  it('pins only flags this aws-cdk-lib knows', () => {
    const flagLike = Object.keys(context).filter((k) => k.startsWith('@aws-cdk') && k !== '@aws-cdk/core:enableTelemetry');
    expect(flagLike.length).toBeGreaterThan(50);
    expect(flagLike.filter((k) => !(k in FLAGS))).toEqual([]);
  });
});
