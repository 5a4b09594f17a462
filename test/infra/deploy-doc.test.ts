import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, contextKey } from '../../infra/config';
import { REPO_ROOT } from '../../infra/paths';
import { FUNCTION_URL_UNSUPPORTED_REGIONS, SUPPORTED_REGIONS } from '../../infra/regions';

/** docs/deploy.md keeps up with the code: every setting documented, the region lists exact, every option priced. */
const doc = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
const section = (title: string) => {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start === -1) throw new Error(`docs/deploy.md has no "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 4);
  return doc.slice(start, end === -1 ? undefined : end);
};
const regionsIn = (text: string) => new Set(text.match(/\b[a-z]{2}-[a-z]+-\d\b/g) ?? []);

describe('docs/deploy.md', () => {
  it('has a row in the settings table for every config key', () => {
    const rows = section('Settings')
      .split('\n')
      .filter((l) => l.startsWith('| `keyframe:'));
    const documented = new Set(rows.flatMap((r) => r.split('|')[1].match(/keyframe:[A-Za-z]+/g) ?? []));
    expect(CONFIG_KEYS.map(contextKey).filter((k) => !documented.has(k))).toEqual([]);
  });

  it('lists exactly the supported regions, and names every region ruled out', () => {
    const text = section('Regions');
    const [supported, ruledOut] = text.split('**Ruled out');
    expect([...regionsIn(supported)].sort()).toEqual([...SUPPORTED_REGIONS].sort());
    const out = ruledOut.slice(0, ruledOut.indexOf('The template'));
    expect([...regionsIn(out)].sort()).toEqual([...FUNCTION_URL_UNSUPPORTED_REGIONS].sort());
  });

  it('prices every option that costs something', () => {
    const cost = section('Cost');
    const priced = ['natGateways', 'wafRateLimit', 'webAclArn', 'originShieldRegion', 'cdnAccessLogs', 'ecsExec', 'taskEventsReservedConcurrency'];
    for (const key of priced) {
      expect(cost, key).toContain(`keyframe:${key}`);
    }
    expect(cost).toMatch(/CloudFront Functions \| \$0\.10 per million/);
  });
});
