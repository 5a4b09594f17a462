/**
 * Rules every synthesized Keyframe template must keep, as pure checks over the template JSON. Each returns the
 * offending items (empty when the template is fine), so a test can print them; template-rules.test.ts shows that
 * each check does catch what it names.
 */

type Json = Record<string, any>;

const REGION_CODE = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Every `{ fn: ... }` object in a JSON tree, with its argument. */
function findIntrinsics(node: unknown, fn: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const item of node) findIntrinsics(item, fn, out);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === fn) out.push(value);
      findIntrinsics(value, fn, out);
    }
  }
  return out;
}

/**
 * Mappings keyed by region, and look-ups by AWS::Region: a region the map lacks fails the deploy with
 * "Unable to get mapping".
 */
export function regionKeyedMappings(template: Json): string[] {
  const found: string[] = [];
  for (const [name, map] of Object.entries((template.Mappings ?? {}) as Record<string, Record<string, unknown>>)) {
    const regionKeys = Object.keys(map).filter((k) => REGION_CODE.test(k));
    if (regionKeys.length > 0) found.push(`mapping ${name} is keyed by region (${regionKeys.slice(0, 3).join(', ')}, …)`);
  }
  for (const args of findIntrinsics(template.Resources ?? {}, 'Fn::FindInMap').concat(findIntrinsics(template.Outputs ?? {}, 'Fn::FindInMap'))) {
    const [map, key] = args as [unknown, unknown];
    if (JSON.stringify(key) === JSON.stringify({ Ref: 'AWS::Region' })) found.push(`Fn::FindInMap on AWS::Region in ${JSON.stringify(map)}`);
  }
  return found;
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function principalIsCloudWatch(principal: unknown): boolean {
  if (principal === '*') return true;
  if (principal && typeof principal === 'object') {
    const p = principal as { Service?: unknown; AWS?: unknown };
    if (asList(p.Service as string | string[]).includes('cloudwatch.amazonaws.com')) return true;
    if (asList(p.AWS as string | string[]).includes('*')) return true;
  }
  return false;
}

const publishes = (action: unknown) => asList(action as string | string[]).some((a) => /^sns:(publish|\*)$/i.test(a) || a === '*');

/**
 * SNS topics that alarms notify whose topic policy would refuse CloudWatch: a policy replaces the topic's default
 * one, so it needs an Allow for cloudwatch.amazonaws.com, and no unconditional Deny that covers it.
 */
export function topicPoliciesBlockingCloudWatch(template: Json): string[] {
  const resources = (template.Resources ?? {}) as Record<string, Json>;
  const alarmTopics = new Set<string>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
    for (const action of [...asList(r.Properties?.AlarmActions), ...asList(r.Properties?.OKActions)]) {
      const ref = (action as { Ref?: string }).Ref;
      if (ref && resources[ref]?.Type === 'AWS::SNS::Topic') alarmTopics.add(ref);
    }
  }
  const found: string[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::SNS::TopicPolicy') continue;
    const topics = asList(r.Properties?.Topics)
      .map((t) => (t as { Ref?: string }).Ref)
      .filter((t): t is string => !!t && alarmTopics.has(t));
    if (topics.length === 0) continue;
    const statements = asList(r.Properties?.PolicyDocument?.Statement) as Json[];
    const allows = statements.some((st) => st.Effect === 'Allow' && publishes(st.Action) && principalIsCloudWatch(st.Principal));
    const blanketDeny = statements.some((st) => st.Effect === 'Deny' && publishes(st.Action) && principalIsCloudWatch(st.Principal) && !st.Condition);
    if (!allows) found.push(`${id} (topics ${topics.join(', ')}) has no Allow of sns:Publish for cloudwatch.amazonaws.com`);
    if (blanketDeny) found.push(`${id} (topics ${topics.join(', ')}) denies sns:Publish unconditionally`);
  }
  return found;
}

/**
 * Lambda functions with no alarm on their AWS/Lambda Throttles metric. `exempt` names logical-ID prefixes of
 * functions that only run during deploys (a throttle there fails the deploy, which CloudFormation reports).
 */
export function functionsWithoutThrottleAlarm(template: Json, exempt: readonly string[] = []): string[] {
  const resources = (template.Resources ?? {}) as Record<string, Json>;
  const watched = new Set<string>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
    const p = r.Properties ?? {};
    const stats = [
      p,
      ...asList(p.Metrics)
        .map((m: Json) => m.MetricStat?.Metric)
        .filter(Boolean),
    ] as Json[];
    for (const m of stats) {
      if (m.Namespace !== 'AWS/Lambda' || m.MetricName !== 'Throttles') continue;
      for (const d of asList(m.Dimensions) as Json[]) {
        if (d.Name === 'FunctionName' && d.Value?.Ref) watched.add(d.Value.Ref);
      }
    }
  }
  return Object.entries(resources)
    .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && !watched.has(id) && !exempt.some((prefix) => id.startsWith(prefix)))
    .map(([id]) => id);
}
