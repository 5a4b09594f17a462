import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { App, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../core/table';
import { compose } from '../../infra/app';
import { OUTPUT_KEYS } from '../../infra/output-keys';
import { FUNCTION_URL_UNSUPPORTED_REGIONS } from '../../infra/regions';
import { cdkJsonContext, cfnLintAllRegions, findCfnLint, logicalIdOf, type Synthesized, synthesize } from './synth';
import { functionsWithoutThrottleAlarm, regionKeyedMappings, topicPoliciesBlockingCloudWatch } from './template-rules';
import { originSettings } from '../../core/settings/origin';
import { CACHE_MULTIVARIANT, playlistCacheControl } from '../../core/hls/cache-control';
import { parseOriginPath } from '../../core/hls/paths';
import { RUNGS, SOURCE_RENDITION } from '../../core/ladder';

/**
 * The default deployment (no config): the template properties that matter, cdk-nag, cfn-lint.
 * One synthesis for the whole file, built as on an arm64 machine (the default architecture is the build host's).
 */
let s: Synthesized;
let ids: {
  table: string;
  cluster: string;
  ingestSg: string;
  nlbSg: string;
  originSg: string;
  originFn: string;
  taskEventsFn: string;
  distribution: string;
  functionUrl: string;
  dlq: string;
  segmentPolicy: string;
  playlistPolicy: string;
  corsPolicy: string;
  oac: string;
  targetGroup: string;
  recordingBucket: string;
};

beforeAll(() => {
  s = synthesize({}, { hostArchitecture: 'arm64' });
  const t = s.template;
  ids = {
    table: logicalIdOf(t, 'AWS::DynamoDB::Table'),
    cluster: logicalIdOf(t, 'AWS::ECS::Cluster'),
    ingestSg: s.stack.getLogicalId(s.stack.ingest.securityGroup.node.defaultChild as never),
    nlbSg: s.stack.getLogicalId(s.stack.ingestLoadBalancer.securityGroup.node.defaultChild as never),
    originSg: s.stack.getLogicalId(s.stack.origin.securityGroup.node.defaultChild as never),
    originFn: s.stack.getLogicalId(s.stack.origin.handler.function.node.defaultChild as never),
    taskEventsFn: s.stack.getLogicalId(s.stack.taskStateSync.handler.function.node.defaultChild as never),
    distribution: logicalIdOf(t, 'AWS::CloudFront::Distribution'),
    functionUrl: logicalIdOf(t, 'AWS::Lambda::Url'),
    dlq: logicalIdOf(t, 'AWS::SQS::Queue'),
    segmentPolicy: s.stack.getLogicalId(s.stack.cdn.segmentCachePolicy.node.defaultChild as never),
    playlistPolicy: s.stack.getLogicalId(s.stack.cdn.playlistCachePolicy.node.defaultChild as never),
    corsPolicy: logicalIdOf(t, 'AWS::CloudFront::ResponseHeadersPolicy'),
    oac: s.stack.getLogicalId(s.stack.node.findChild('Cdn').node.findChild('OriginAccessControl').node.defaultChild as never),
    targetGroup: logicalIdOf(t, 'AWS::ElasticLoadBalancingV2::TargetGroup'),
    recordingBucket: s.stack.getLogicalId(s.stack.recordings.bucket.node.defaultChild as never),
  };
}, 180_000);

afterAll(() => s?.dispose());

const resourcesOf = (type: string) => Object.entries(s.template.findResources(type)) as Array<[string, { Properties: Record<string, any> }]>;
const tableArn = () => ({ 'Fn::GetAtt': [ids.table, 'Arn'] });
const indexArn = () => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.table, 'Arn'] }, `/index/${TABLE_SCHEMA.gsi1.name}`]] });

describe('CloudFront', () => {
  it('caches segments long, honouring the origin max-age, with no cookies, headers or query strings in the key', () => {
    s.template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: {
        MinTTL: 0,
        DefaultTTL: 86_400,
        MaxTTL: 1_209_600,
        ParametersInCacheKeyAndForwardedToOrigin: {
          CookiesConfig: { CookieBehavior: 'none' },
          HeadersConfig: { HeaderBehavior: 'none' },
          QueryStringsConfig: { QueryStringBehavior: 'none' },
          EnableAcceptEncodingGzip: false,
          EnableAcceptEncodingBrotli: false,
        },
      },
    });
  });

  it("caches playlists as the origin says, up to the multivariant playlist's 2 s (media ones 1 s with 1 s segments)", () => {
    const policy = s.template.toJSON().Resources[ids.playlistPolicy].Properties.CachePolicyConfig;
    expect(policy).toMatchObject({
      // Min 0: a media playlist's max-age=1 is kept, not raised; max 2: the multivariant playlist's max-age=2 is not cut.
      MinTTL: 0,
      DefaultTTL: 1,
      MaxTTL: 2,
      ParametersInCacheKeyAndForwardedToOrigin: {
        CookiesConfig: { CookieBehavior: 'none' },
        HeadersConfig: { HeaderBehavior: 'none' },
        // The private-playback token and the LL-HLS blocking parameters: viewers asking for the same part share one request.
        QueryStringsConfig: { QueryStringBehavior: 'whitelist', QueryStrings: ['token', '_HLS_msn', '_HLS_part', '_HLS_skip'] },
      },
    });
  });

  it('routes *.m3u8 to the playlist policy and everything else to the segment policy, over HTTPS with CORS', () => {
    s.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultCacheBehavior: {
          CachePolicyId: { Ref: ids.segmentPolicy },
          ResponseHeadersPolicyId: { Ref: ids.corsPolicy },
          ViewerProtocolPolicy: 'redirect-to-https',
          AllowedMethods: ['GET', 'HEAD', 'OPTIONS'],
          Compress: false,
        },
        CacheBehaviors: Match.arrayWith([
          Match.objectLike({
            PathPattern: '*.m3u8',
            CachePolicyId: { Ref: ids.playlistPolicy },
            ResponseHeadersPolicyId: { Ref: ids.corsPolicy },
            ViewerProtocolPolicy: 'redirect-to-https',
          }),
        ]),
        HttpVersion: 'http2and3',
        PriceClass: 'PriceClass_100',
      },
    });
  });

  it("sends a ladder's playlists (multivariant and renditions) to the origin on the playlist policy, their media on the segment policy", () => {
    const config = s.template.toJSON().Resources[ids.distribution].Properties.DistributionConfig;
    type Behaviour = { PathPattern?: string; TargetOriginId: string; CachePolicyId: unknown; Compress: boolean };
    // CloudFront's path patterns: case-sensitive globs (`*` any characters, `?` one), the first match wins.
    const glob = (pattern: string) => {
      const body = pattern
        .replace(/^\//, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.');
      return new RegExp(`^/?${body}$`);
    };
    const behaviourFor = (path: string): Behaviour =>
      (config.CacheBehaviors as Behaviour[]).find((b) => glob(b.PathPattern as string).test(path)) ?? config.DefaultCacheBehavior;
    const functionOrigin = config.DefaultCacheBehavior.TargetOriginId;
    const P = '/AbCdEf123456';
    for (const file of ['index.m3u8', `${SOURCE_RENDITION}.m3u8`, ...RUNGS.map((r) => `${r.name}.m3u8`)]) {
      // The origin's path rule takes each as a playlist (`[a-z0-9_]{1,32}.m3u8`)...
      expect(parseOriginPath(`${P}/${file}`).kind, file).toBe('playlist');
      // ...and CloudFront sends it to the origin function with the playlist policy (token and _HLS_* in the key).
      expect(behaviourFor(`${P}/${file}`), file).toMatchObject({
        PathPattern: '*.m3u8',
        TargetOriginId: functionOrigin,
        CachePolicyId: { Ref: ids.playlistPolicy },
        Compress: true,
      });
    }
    for (const file of ['k3j9x0a1b2_42.m4s', 'k3j9x0a1b2_42.2.m4s', 'k3j9x0a1b2_init.mp4', 'k3j9x0a1b2_42.ts']) {
      expect(behaviourFor(`${P}/${file}`), file).toMatchObject({ TargetOriginId: functionOrigin, CachePolicyId: { Ref: ids.segmentPolicy } });
    }
    const policy = s.template.toJSON().Resources[ids.playlistPolicy].Properties.CachePolicyConfig;
    const keyed = policy.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStrings;
    expect(keyed).toEqual(expect.arrayContaining(['token', '_HLS_msn', '_HLS_part', '_HLS_skip']));
    // Each playlist type's max-age survives the edge: none is raised (min 0) and none is cut (max ≥ each).
    const maxAge = (cc: string) => Number(/max-age=(\d+)/.exec(cc)?.[1]);
    const multivariant = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p.m3u8\n';
    const llRendition = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.334\n';
    expect(playlistCacheControl(multivariant, 1)).toBe(CACHE_MULTIVARIANT);
    for (const body of [multivariant, llRendition, '#EXTM3U\n#EXT-X-TARGETDURATION:1\n']) {
      const age = maxAge(playlistCacheControl(body, 1));
      expect(policy.MinTTL).toBeLessThanOrEqual(age);
      expect(policy.MaxTTL).toBeGreaterThanOrEqual(age);
    }
  });

  it('admits rendition playlists at the edge with LL-HLS reloads and a token, and refuses names the origin would', () => {
    const fnId = s.stack.getLogicalId(s.stack.cdn.viewerRequestFunction.node.defaultChild as never);
    const sandbox: Record<string, unknown> = {};
    runInNewContext(`${s.template.toJSON().Resources[fnId].Properties.FunctionCode}\nthis.handler = handler;`, sandbox);
    const handler = sandbox.handler as (e: unknown) => { statusCode?: number };
    const at = (uri: string, querystring: Record<string, { value: string }> = {}) =>
      handler({ request: { method: 'GET', uri, querystring, headers: {} } }).statusCode ?? 'passed';
    const token = { value: `1767225600.${'A'.repeat(43)}` };
    expect(at('/AbCdEf123456/720p.m3u8', { _HLS_msn: { value: '42' }, _HLS_part: { value: '1' } })).toBe('passed');
    expect(at(`/AbCdEf123456/${SOURCE_RENDITION}.m3u8`, { _HLS_msn: { value: '42' }, _HLS_skip: { value: 'YES' }, token })).toBe('passed');
    expect(at('/AbCdEf123456/index.m3u8', { token })).toBe('passed');
    expect(at('/AbCdEf123456/720P.m3u8')).toBe(400);
    expect(at(`/AbCdEf123456/${'a'.repeat(33)}.m3u8`)).toBe(400);
  });

  it('caches errors for 1 s, with no custom error pages', () => {
    const config = s.template.toJSON().Resources[ids.distribution].Properties.DistributionConfig;
    expect(config.CustomErrorResponses).toEqual([400, 403, 404, 500, 502, 503, 504].map((ErrorCode) => ({ ErrorCode, ErrorCachingMinTTL: 1 })));
  });

  it('allows any origin to GET/HEAD/OPTIONS (CORS)', () => {
    s.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        CorsConfig: {
          AccessControlAllowOrigins: { Items: ['*'] },
          AccessControlAllowMethods: { Items: ['GET', 'HEAD', 'OPTIONS'] },
          AccessControlAllowCredentials: false,
        },
      },
    });
  });

  it('leaves Origin Shield off by default', () => {
    const config = s.template.toJSON().Resources[ids.distribution].Properties.DistributionConfig;
    // The origin function, and the recordings bucket (segments and inits).
    expect(config.Origins).toHaveLength(2);
    expect(config.Origins[0].OriginShield).toEqual({ Enabled: false });
  });
});

describe('origin access', () => {
  it('gives the function URL AWS_IAM auth', () => {
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [ids.originFn, 'Arn'] },
    });
  });

  it('signs every origin request with an OAC for Lambda', () => {
    s.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    });
    const origin = s.template.toJSON().Resources[ids.distribution].Properties.DistributionConfig.Origins[0];
    expect(origin.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [ids.oac, 'Id'] });
    expect(origin.DomainName).toEqual({ 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': [ids.functionUrl, 'FunctionUrl'] }] }] });
  });

  it('lets only this distribution invoke the origin function, and only through its URL', () => {
    const sourceArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: ids.distribution }]],
    };
    const onOrigin = resourcesOf('AWS::Lambda::Permission').filter(
      ([, r]) =>
        JSON.stringify(r.Properties.FunctionName).includes(ids.functionUrl) || JSON.stringify(r.Properties.FunctionName).includes(ids.originFn),
    );
    expect(onOrigin.map(([, r]) => r.Properties)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'lambda:InvokeFunctionUrl', Principal: 'cloudfront.amazonaws.com', SourceArn: sourceArn }),
        expect.objectContaining({
          Action: 'lambda:InvokeFunction',
          Principal: 'cloudfront.amazonaws.com',
          SourceArn: sourceArn,
          InvokedViaFunctionUrl: true,
        }),
      ]),
    );
    // Nothing else: every permission on the origin function is CloudFront's, scoped to this distribution.
    expect(onOrigin).toHaveLength(2);
    for (const [, r] of onOrigin) expect(r.Properties).not.toHaveProperty('FunctionUrlAuthType', 'NONE');
  });
});

describe('task-state sync', () => {
  it('matches ECS task state changes of this cluster only', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [ids.cluster, 'Arn'] }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [ids.taskEventsFn, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        }),
      ],
    });
  });

  it('sends events the function fails on to the same dead-letter queue after Lambda retries', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
      Environment: {
        Variables: Match.objectLike({ KEYFRAME_TABLE: { Ref: ids.table }, KEYFRAME_CLUSTER_ARN: { 'Fn::GetAtt': [ids.cluster, 'Arn'] } }),
      },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.taskEventsFn },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
    });
  });
});

describe('security groups', () => {
  const ingressTo = (groupId: string) =>
    resourcesOf('AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(groupId));

  it("lets only the origin function reach the tasks' HLS port, and only the NLB reach RTMP and health", () => {
    const rules = ingressTo(ids.ingestSg).map((p) => ({
      port: p.FromPort,
      toPort: p.ToPort,
      from: p.SourceSecurityGroupId?.['Fn::GetAtt']?.[0],
      cidr: p.CidrIp ?? p.CidrIpv6,
    }));
    expect(rules).toEqual(
      expect.arrayContaining([
        { port: 8080, toPort: 8080, from: ids.originSg, cidr: undefined },
        { port: 1935, toPort: 1935, from: ids.nlbSg, cidr: undefined },
        { port: 8081, toPort: 8081, from: ids.nlbSg, cidr: undefined },
      ]),
    );
    expect(rules).toHaveLength(3);
    const inline = s.template.toJSON().Resources[ids.ingestSg].Properties.SecurityGroupIngress;
    expect(inline).toBeUndefined();
  });

  it('opens RTMP (1935) on the NLB to the world, and nothing else', () => {
    const nlbSg = s.template.toJSON().Resources[ids.nlbSg].Properties;
    expect(nlbSg.SecurityGroupIngress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 1935, ToPort: 1935 })]);
    expect(ingressTo(ids.nlbSg)).toEqual([]);
  });

  it("lets the origin function out only to HTTPS and the tasks' HLS port", () => {
    const inline = s.template.toJSON().Resources[ids.originSg].Properties.SecurityGroupEgress;
    expect(inline).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })]);
    s.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [ids.originSg, 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [ids.ingestSg, 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
  });
});

describe('IAM', () => {
  const dynamoStatements = () =>
    resourcesOf('AWS::IAM::Policy').flatMap(([id, r]) =>
      (r.Properties.PolicyDocument.Statement as Array<Record<string, any>>)
        .filter((st) => [st.Action].flat().some((a: string) => a.startsWith('dynamodb:')))
        .map((st) => ({ policy: id, actions: [st.Action].flat() as string[], resource: st.Resource })),
    );

  it('scopes every DynamoDB statement to the table and its one index, by name', () => {
    const statements = dynamoStatements();
    expect(statements).toHaveLength(3);
    for (const st of statements) {
      expect(st.resource).toEqual([tableArn(), indexArn()]);
      expect(st.actions.every((a) => !a.includes('*'))).toBe(true);
    }
  });

  it('grants each component only the actions it uses', () => {
    const byPolicy = Object.fromEntries(dynamoStatements().map((st) => [st.policy, [...st.actions].sort()]));
    const policyOf = (roleLogicalIdPrefix: string) => Object.keys(byPolicy).find((id) => id.startsWith(roleLogicalIdPrefix));
    expect(byPolicy[policyOf('OriginHandlerRole') as string]).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']);
    const readWrite = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
    expect(byPolicy[policyOf('TaskStateSyncHandlerRole') as string]).toEqual(readWrite);
    expect(byPolicy[policyOf('IngestTaskDefinitionTaskRole') as string]).toEqual(readWrite);
  });

  it("lets the ingest task set scale-in protection on this cluster's tasks only", () => {
    s.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'ecs:UpdateTaskProtection',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':ecs:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':task/',
                  { Ref: ids.cluster },
                  '/*',
                ],
              ],
            },
          },
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^IngestTaskDefinitionTaskRole') }],
    });
  });

  it("lets the ingest task read only its own cluster's tasks and services, for deploys while live (ingest/deployment.ts)", () => {
    const arnIn = (kind: 'task' | 'service') => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':ecs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${kind}/`, { Ref: ids.cluster }, '/*'],
      ],
    });
    const ecsStatements = resourcesOf('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('IngestTaskDefinitionTaskRole'))
      .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Array<Record<string, any>>)
      .filter((st) => [st.Action].flat().some((a: string) => a.startsWith('ecs:')))
      .map((st) => ({ Action: st.Action, Effect: st.Effect, Resource: st.Resource, Condition: st.Condition }));
    expect(ecsStatements).toEqual([
      { Action: 'ecs:UpdateTaskProtection', Effect: 'Allow', Resource: arnIn('task'), Condition: undefined },
      { Action: 'ecs:DescribeTasks', Effect: 'Allow', Resource: arnIn('task'), Condition: undefined },
      { Action: 'ecs:DescribeServices', Effect: 'Allow', Resource: arnIn('service'), Condition: undefined },
    ]);
  });

  it('lets each role do only what its code does: no wildcard actions, no PassRole, secrets read only by the origin', () => {
    const statements = resourcesOf('AWS::IAM::Policy').flatMap(([id, r]) =>
      (r.Properties.PolicyDocument.Statement as Array<Record<string, any>>).map((st) => ({
        policy: id,
        actions: [st.Action].flat() as string[],
        resource: st.Resource,
      })),
    );
    for (const st of statements) {
      expect(
        st.actions.filter((a) => a.endsWith(':*') || a === '*'),
        st.policy,
      ).toEqual([]);
      expect(st.actions, st.policy).not.toContain('iam:PassRole');
    }
    const secretReaders = statements.filter((st) => st.actions.includes('secretsmanager:GetSecretValue'));
    expect(secretReaders.map((st) => st.policy.replace(/[0-9A-F]{8}$/, ''))).toEqual(['OriginHandlerRoleDefaultPolicy']);
    expect(secretReaders[0].resource).toEqual({ Ref: Object.keys(s.template.findResources('AWS::SecretsManager::Secret'))[0] });
    // The ingest task role: the table, task protection, and reading its own task and service; nothing else.
    const ingest = statements.filter((st) => st.policy.startsWith('IngestTaskDefinitionTaskRole')).flatMap((st) => st.actions);
    expect([...new Set(ingest)].sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'ecs:DescribeServices',
      'ecs:DescribeTasks',
      'ecs:UpdateTaskProtection',
      's3:DeleteObject',
      's3:PutObject',
    ]);
    // The origin role: the table, the playback secret, and reading recordings.
    const origin = statements.filter((st) => st.policy.startsWith('OriginHandlerRole')).flatMap((st) => st.actions);
    expect([...new Set(origin)].filter((a) => a.startsWith('s3:'))).toEqual(['s3:GetObject']);
  });

  it('attaches no managed policies to any role', () => {
    for (const [, role] of resourcesOf('AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('private playback and the upstream guard', () => {
  it('generates the token key in Secrets Manager and hands the origin its ARN (no layer), the VPC CIDR and the HLS port', () => {
    s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    const origin = resourcesOf('AWS::Lambda::Function').find(([id]) => id.startsWith('OriginHandler'))![1].Properties;
    const secretId = Object.keys(s.template.findResources('AWS::SecretsManager::Secret'))[0];
    expect(origin.Environment.Variables).toMatchObject({
      KEYFRAME_PLAYBACK_SECRET_ARN: { Ref: secretId },
      KEYFRAME_UPSTREAM_CIDRS: { 'Fn::GetAtt': [expect.stringMatching(/^NetworkVpc/), 'CidrBlock'] },
      KEYFRAME_UPSTREAM_PORTS: '8080',
      // Successes are sampled (errors never are): about 1.2 KB a line otherwise.
      KEYFRAME_LOG_SAMPLE_RATE: '0.05',
    });
    // Every variable the origin gets is one it reads (core/settings/origin.ts).
    expect(Object.keys(origin.Environment.Variables).filter((v) => !originSettings.variables.includes(v) && !v.startsWith('AWS_'))).toEqual([]);
    // The origin reads the secret with the bundled AWS SDK: no extension layer, whose ARN differs per region.
    expect(origin.Layers).toBeUndefined();
    s.template.hasOutput('PlaybackSecretArn', { Value: { Ref: secretId } });
  });
});

describe('NLB', () => {
  it('listens on TCP 1935 only (no TLS listener without a certificate), with a stated idle timeout', () => {
    const listeners = resourcesOf('AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    expect(listeners).toEqual([
      expect.objectContaining({
        Port: 1935,
        Protocol: 'TCP',
        DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: ids.targetGroup } }],
        ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '350' }],
      }),
    ]);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internet-facing',
      SecurityGroups: [{ 'Fn::GetAtt': [ids.nlbSg, 'GroupId'] }],
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }]),
    });
  });

  it('targets task IPs, health-checks GET /healthz on 8081, and drains as long as the task does', () => {
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      Port: 1935,
      Protocol: 'TCP',
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '8081',
      HealthCheckPath: '/healthz',
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: String(s.config.drainSeconds) },
        { Key: 'preserve_client_ip.enabled', Value: 'false' },
      ]),
    });
  });
});

describe('ingest service', () => {
  it('runs the container arm64, non-blocking awslogs, a node health check, and stops drain + 10 s after SIGTERM', () => {
    const taskDef = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties;
    expect(taskDef.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    expect(taskDef).toMatchObject({ Cpu: '1024', Memory: '2048', RequiresCompatibilities: ['FARGATE'] });
    const [container] = taskDef.ContainerDefinitions;
    expect(container.StopTimeout).toBe(s.config.drainSeconds + 10);
    expect(container.StopTimeout).toBeLessThanOrEqual(120);
    expect(container.HealthCheck.Command.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(container.HealthCheck.Command[3]).toContain('http://127.0.0.1:8081/healthz');
    expect(container.LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { mode: 'non-blocking' } });
    expect(container.LinuxParameters.InitProcessEnabled).toBe(true);
    expect(container.PortMappings.map((p: { ContainerPort: number }) => p.ContainerPort)).toEqual([1935, 8080, 8081]);
    const env = Object.fromEntries(container.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    expect(env).toMatchObject({
      KEYFRAME_TABLE: { Ref: ids.table },
      KEYFRAME_SEGMENT_SECONDS: '1',
      KEYFRAME_PLAYLIST_SIZE: '6',
      KEYFRAME_DRAIN_SECONDS: '110',
      KEYFRAME_RTMP_PORT: '1935',
      KEYFRAME_HLS_PORT: '8080',
      KEYFRAME_HEALTH_PORT: '8081',
    });
    expect(env).not.toHaveProperty('KEYFRAME_TASK_ARN');
    // Behind the NLB every publisher arrives from an NLB address: no per-address cap.
    expect(env.KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP).toBe('Infinity');
  });

  it('deploys without dropping below the running count, rolls back a failed deploy, and scales between min and max', () => {
    s.template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      // ECS never stops a task (and its live publishes) just to even out the zones; ECS Exec is opt-in.
      AvailabilityZoneRebalancing: 'DISABLED',
      EnableExecuteCommand: false,
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      LoadBalancers: [{ ContainerName: 'ingest', ContainerPort: 1935, TargetGroupArn: { Ref: ids.targetGroup } }],
      // Left to the scaling target, so a deploy never resets a scaled-out service.
      DesiredCount: Match.absent(),
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: s.config.minTasks,
      MaxCapacity: s.config.maxTasks,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    s.template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it("scales on load per task (the average of each task's IngestLoad, streamsPerTask with ladders off) as well as on CPU", () => {
    const policies = resourcesOf('AWS::ApplicationAutoScaling::ScalingPolicy').map(([, r]) => r.Properties);
    const custom = policies.filter((p) => p.TargetTrackingScalingPolicyConfiguration?.CustomizedMetricSpecification);
    expect(custom).toHaveLength(1);
    expect(custom[0].TargetTrackingScalingPolicyConfiguration).toMatchObject({
      // Ladders off: a passthrough stream is one load unit, so the target is the stream count it always was.
      TargetValue: s.config.streamsPerTask,
      CustomizedMetricSpecification: {
        Namespace: 'Keyframe',
        MetricName: 'IngestLoad',
        Dimensions: [{ Name: 'service', Value: 'ingest' }],
        Statistic: 'Average',
      },
      ScaleOutCooldown: 60,
      ScaleInCooldown: 300,
    });
    expect(s.config.streamsPerTask).toBe(20);
    const cpu = policies.find(
      (p) => p.TargetTrackingScalingPolicyConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType === 'ECSServiceAverageCPUUtilization',
    );
    expect(cpu?.TargetTrackingScalingPolicyConfiguration.TargetValue).toBe(60);
  });

  it('keeps the passthrough task size with ladders off, and gives the task no ladder budget', () => {
    const taskDef = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties;
    expect(taskDef).toMatchObject({ Cpu: '1024', Memory: '2048' });
    const env = Object.fromEntries(taskDef.ContainerDefinitions[0].Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    // Set even when 0: the task's own default counts the machine's cores, and on Fargate that is the host's.
    expect(env.KEYFRAME_LADDER_CPU_BUDGET).toBe('0');
  });

  it('shows the load per task on the dashboard against the scaling target', () => {
    const [, dashboard] = resourcesOf('AWS::CloudWatch::Dashboard')[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('IngestLoad');
    expect(body).toContain('scaling target');
  });
});

describe('functions', () => {
  it('run Node.js 22 or newer on arm64, bundled (no Docker)', () => {
    const fns = resourcesOf('AWS::Lambda::Function').map(([, r]) => r.Properties);
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      const major = Number(/^nodejs(\d+)\.x$/.exec(fn.Runtime)?.[1]);
      expect(major).toBeGreaterThanOrEqual(22);
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.Handler).toBe('index.handler');
      expect(fn.LoggingConfig.LogGroup).toBeDefined();
    }
  });

  it('puts the origin in the private subnets with its own security group, 512 MB and 10 s', () => {
    const origin = s.template.toJSON().Resources[ids.originFn].Properties;
    expect(origin).toMatchObject({ MemorySize: 512, Timeout: 10 });
    expect(origin.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [ids.originSg, 'GroupId'] }]);
    expect(origin.VpcConfig.SubnetIds.map((x: { Ref: string }) => x.Ref)).toEqual([
      expect.stringMatching(/^NetworkVpcPrivateSubnet1/),
      expect.stringMatching(/^NetworkVpcPrivateSubnet2/),
    ]);
    expect(origin.Environment.Variables).toMatchObject({ KEYFRAME_TABLE: { Ref: ids.table }, KEYFRAME_SEGMENT_SECONDS: '1' });
  });
});

describe('routing table', () => {
  it('has the keys, index and TTL of functions/shared/table.ts, on demand with PITR, retained', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE_SCHEMA.gsi1.name,
            KeySchema: [
              { AttributeName: TABLE_SCHEMA.gsi1.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE_SCHEMA.gsi1.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      },
    });
  });
});

describe('observability', () => {
  it("gives every log group a retention, Container Insights' own included, created before the service", () => {
    const groups = resourcesOf('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(5);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(30);
    const insightsId = s.stack.getLogicalId(s.stack.ingest.insightsLogGroup.node.defaultChild as never);
    expect(s.template.toJSON().Resources[insightsId].Properties.LogGroupName).toEqual({
      'Fn::Join': ['', ['/aws/ecs/containerinsights/', { Ref: ids.cluster }, '/performance']],
    });
    const service = Object.values(s.template.findResources('AWS::ECS::Service'))[0] as { DependsOn?: string[] };
    expect(service.DependsOn).toContain(insightsId);
  });

  const alarms = () => resourcesOf('AWS::CloudWatch::Alarm');
  const described = (text: string) => alarms().find(([, a]) => String(a.Properties.AlarmDescription).includes(text))?.[1].Properties;

  it('alarms on origin 5xx rate, function errors, dead letters and too few running or healthy tasks', () => {
    expect(described('of requests answered 5xx')?.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' }),
        expect.objectContaining({
          Id: 'errors',
          MetricStat: expect.objectContaining({ Metric: expect.objectContaining({ MetricName: 'Origin5xx', Namespace: 'Keyframe' }) }),
        }),
      ]),
    );
    expect(described('task-events function: invocations failed')).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
    expect(described('dead-letter queue')).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS' });
    for (const text of ['task(s) running', 'healthy task(s) behind the NLB']) {
      expect(described(text)).toMatchObject({ ComparisonOperator: 'LessThanThreshold', Threshold: s.config.minTasks });
    }
    expect(described('task(s) running')).toMatchObject({ MetricName: 'RunningTaskCount', Namespace: 'ECS/ContainerInsights' });
    expect(described('healthy task(s) behind the NLB')).toMatchObject({ MetricName: 'HealthyHostCount', Namespace: 'AWS/NetworkELB' });
    // Load that scaling cannot bring back to the target: 125% of 20 units for 15 minutes in a row.
    expect(described('ingest: load above 125% of the scaling target')).toMatchObject({
      Namespace: 'Keyframe',
      MetricName: 'IngestLoad',
      Dimensions: [{ Name: 'service', Value: 'ingest' }],
      Statistic: 'Average',
      Period: 60,
      Threshold: 25,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 15,
      DatapointsToAlarm: 15,
      TreatMissingData: 'notBreaching',
    });
    for (const [id, alarm] of alarms()) {
      expect(alarm.Properties.AlarmActions, id).toHaveLength(1);
      expect(alarm.Properties.OKActions, id).toHaveLength(1);
    }
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it("does not alarm on a new stack's missing data: no alarm treats missing data as breaching", () => {
    for (const [id, alarm] of alarms()) expect(alarm.Properties.TreatMissingData, id).not.toBe('breaching');
  });

  it('alarms on throttles for every function, and on concurrency near the caps', () => {
    // The BucketDeployment handler runs only during a deploy (not in the default stack, which has no player).
    expect(functionsWithoutThrottleAlarm(s.template.toJSON(), ['CustomCDKBucketDeployment'])).toEqual([]);
    expect(described('task-events function: at its reserved concurrency (5)')).toMatchObject({
      MetricName: 'ConcurrentExecutions',
      Threshold: 5,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids.taskEventsFn } }],
    });
    expect(described('origin function: 500 concurrent executions')).toMatchObject({ MetricName: 'ConcurrentExecutions', Threshold: 500 });
    expect(described("of the account's 1000 concurrent executions")).toMatchObject({ MetricName: 'ClaimedAccountConcurrency', Threshold: 800 });
  });

  it('alarms on CloudFront 5xx and 4xx rates when the stack is in us-east-1, where those metrics are', () => {
    for (const metric of ['5xxErrorRate', '4xxErrorRate']) {
      const [id, alarm] = alarms().find(([, a]) => a.Properties.MetricName === metric) as [string, { Properties: Record<string, any> }];
      const resource = s.template.toJSON().Resources[id];
      expect(resource.Condition).toBeDefined();
      expect(s.template.toJSON().Conditions[resource.Condition]).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
      expect(alarm.Properties).toMatchObject({
        Namespace: 'AWS/CloudFront',
        Dimensions: expect.arrayContaining([{ Name: 'Region', Value: 'Global' }]),
      });
    }
  });

  it('lets CloudWatch publish to the alarm topic, next to the TLS-only deny', () => {
    expect(topicPoliciesBlockingCloudWatch(s.template.toJSON())).toEqual([]);
    const policy = resourcesOf('AWS::SNS::TopicPolicy')[0][1].Properties.PolicyDocument.Statement as Array<Record<string, any>>;
    expect(policy.find((st) => st.Sid === 'AllowCloudWatchAlarms')).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(policy.some((st) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false')).toBe(true);
  });
});

describe('every region', () => {
  it('holds no region-keyed mapping (a new region would fail with "Unable to get mapping")', () => {
    expect(regionKeyedMappings(s.template.toJSON())).toEqual([]);
  });

  it('refuses, before creating anything, the regions without Lambda function URLs', () => {
    const rule = s.template.toJSON().Rules.SupportedRegion.Assertions[0];
    expect(rule.Assert).toEqual({ 'Fn::Not': [{ 'Fn::Contains': [[...FUNCTION_URL_UNSUPPORTED_REGIONS], { Ref: 'AWS::Region' }] }] });
    expect(rule.AssertDescription).toMatch(/no function URLs/);
  });

  it('gives task-state sync reserved concurrency, so an origin flood cannot starve it', () => {
    const fn = s.template.toJSON().Resources[ids.taskEventsFn].Properties;
    expect(fn.ReservedConcurrentExecutions).toBe(5);
    expect(s.template.toJSON().Resources[ids.originFn].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('recordings and thumbnails', () => {
  const distributionConfig = () => resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
  const policyConfig = (id: string) => s.template.toJSON().Resources[id].Properties.CachePolicyConfig;
  const idOf = (c: { node: { defaultChild?: unknown } }) => s.stack.getLogicalId(c.node.defaultChild as never);

  it('puts the recordings and thumbnail behaviours first, in order: origin, origin, bucket (OAC), origin', () => {
    const config = distributionConfig();
    const behaviors = config.CacheBehaviors as Array<{ PathPattern: string; TargetOriginId: string; CachePolicyId: unknown; Compress: boolean }>;
    expect(behaviors.map((b) => b.PathPattern)).toEqual(['/recordings/*.m3u8', '/recordings/*.jpg', '/recordings/*', '/*/thumbnail.jpg', '*.m3u8']);
    const functionOrigin = config.DefaultCacheBehavior.TargetOriginId;
    const byPattern = Object.fromEntries(behaviors.map((b) => [b.PathPattern, b]));
    expect(byPattern['/recordings/*.m3u8'].TargetOriginId).toBe(functionOrigin);
    expect(byPattern['/recordings/*.jpg'].TargetOriginId).toBe(functionOrigin);
    expect(byPattern['/*/thumbnail.jpg'].TargetOriginId).toBe(functionOrigin);
    const bucketOrigin = config.Origins.find((o: { Id: string }) => o.Id === byPattern['/recordings/*'].TargetOriginId);
    expect(bucketOrigin.DomainName).toEqual({ 'Fn::GetAtt': [ids.recordingBucket, 'RegionalDomainName'] });
    expect(bucketOrigin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    const recordingsOac = s.stack.node.findChild('Recordings').node.findChild('AccessControl');
    expect(bucketOrigin.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [idOf(recordingsOac), 'Id'] });
    s.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    // Each type its own cache policy.
    expect(byPattern['/recordings/*.m3u8'].CachePolicyId).toEqual({ Ref: idOf(s.stack.recordings.originCachePolicy) });
    expect(byPattern['/recordings/*.jpg'].CachePolicyId).toEqual({ Ref: idOf(s.stack.recordings.originCachePolicy) });
    expect(byPattern['/recordings/*'].CachePolicyId).toEqual({ Ref: idOf(s.stack.recordings.objectCachePolicy) });
    expect(byPattern['/*/thumbnail.jpg'].CachePolicyId).toEqual({ Ref: idOf(s.stack.cdn.thumbnailCachePolicy) });
    expect(byPattern['/recordings/*'].Compress).toBe(false);
  });

  it('caches thumbnails 5 s keyed on the token, recordings via the origin by its max-age keyed on the token, objects a year', () => {
    expect(policyConfig(idOf(s.stack.cdn.thumbnailCachePolicy))).toMatchObject({
      MinTTL: 0,
      DefaultTTL: 5,
      MaxTTL: 5,
      ParametersInCacheKeyAndForwardedToOrigin: {
        QueryStringsConfig: { QueryStringBehavior: 'whitelist', QueryStrings: ['token'] },
        CookiesConfig: { CookieBehavior: 'none' },
        HeadersConfig: { HeaderBehavior: 'none' },
      },
    });
    expect(policyConfig(idOf(s.stack.recordings.originCachePolicy))).toMatchObject({
      MinTTL: 0,
      DefaultTTL: 1,
      MaxTTL: 86_400,
      ParametersInCacheKeyAndForwardedToOrigin: { QueryStringsConfig: { QueryStringBehavior: 'whitelist', QueryStrings: ['token'] } },
    });
    expect(policyConfig(idOf(s.stack.recordings.objectCachePolicy))).toMatchObject({
      MinTTL: 86_400,
      MaxTTL: 365 * 86_400,
      ParametersInCacheKeyAndForwardedToOrigin: { QueryStringsConfig: { QueryStringBehavior: 'none' } },
    });
  });

  it('keeps the bucket private, encrypted, TLS-only, retained, with recordings expiring after 30 days', () => {
    const bucket = s.template.toJSON().Resources[ids.recordingBucket];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(bucket.Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ Id: 'RecordingRetention', Prefix: 'recordings/', ExpirationInDays: 30, Status: 'Enabled' }),
    );
    const [policy] = resourcesOf('AWS::S3::BucketPolicy').filter(([, p]) => JSON.stringify(p.Properties.Bucket).includes(ids.recordingBucket));
    const statements = policy[1].Properties.PolicyDocument.Statement as Array<Record<string, any>>;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // CloudFront may read objects, for this distribution only; nobody else is allowed anything by the policy.
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ Action: 's3:GetObject', Principal: { Service: 'cloudfront.amazonaws.com' } });
    expect(JSON.stringify(allows[0].Condition)).toContain(ids.distribution);
  });

  it('gives the task role put/delete and the origin role get, each on <bucket>/recordings/* only', () => {
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.recordingBucket, 'Arn'] }, '/recordings/*']] };
    const s3Statements = resourcesOf('AWS::IAM::Policy').flatMap(([id, r]) =>
      (r.Properties.PolicyDocument.Statement as Array<Record<string, any>>)
        .filter((st) => [st.Action].flat().some((a: string) => a.startsWith('s3:')))
        .map((st) => ({ policy: id.replace(/[0-9A-F]{8}$/, ''), actions: [st.Action].flat().sort(), resource: st.Resource })),
    );
    expect(s3Statements.filter((st) => !st.policy.startsWith('Player') && !st.policy.startsWith('Custom'))).toEqual([
      { policy: 'IngestTaskDefinitionTaskRoleDefaultPolicy', actions: ['s3:DeleteObject', 's3:PutObject'], resource: objects },
      { policy: 'OriginHandlerRoleDefaultPolicy', actions: ['s3:GetObject'], resource: objects },
    ]);
  });

  it('hands the bucket to the tasks and the origin, and the spool cap within the default task storage', () => {
    const taskDef = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties;
    const env = Object.fromEntries(taskDef.ContainerDefinitions[0].Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    expect(env).toMatchObject({
      KEYFRAME_RECORDING_BUCKET: { Ref: ids.recordingBucket },
      KEYFRAME_RECORDING_SPOOL_MIB: '8192',
      AWS_REGION: { Ref: 'AWS::Region' },
    });
    expect(env).not.toHaveProperty('KEYFRAME_S3_ENDPOINT');
    // 8 GiB of spool fits the 20 GiB Fargate includes: no (charged) size set.
    expect(taskDef.EphemeralStorage).toBeUndefined();
    const origin = resourcesOf('AWS::Lambda::Function').find(([id]) => id.startsWith('OriginHandler'))![1].Properties;
    expect(origin.Environment.Variables.KEYFRAME_RECORDING_BUCKET).toEqual({ Ref: ids.recordingBucket });
    expect(origin.Environment.Variables).not.toHaveProperty('KEYFRAME_S3_ENDPOINT');
  });

  it('runs the edge function that admits thumbnails and recordings and refuses their bad shapes', () => {
    const fnId = s.stack.getLogicalId(s.stack.cdn.viewerRequestFunction.node.defaultChild as never);
    const code = s.template.toJSON().Resources[fnId].Properties.FunctionCode as string;
    const sandbox: Record<string, unknown> = {};
    runInNewContext(`${code}\nthis.handler = handler;`, sandbox);
    const handler = sandbox.handler as (e: unknown) => { statusCode?: number };
    const token = { token: { value: `1767225600.${'A'.repeat(43)}` } };
    const at = (uri: string, querystring: Record<string, { value: string }> = {}) =>
      handler({ request: { method: 'GET', uri, querystring, headers: {} } }).statusCode ?? 'passed';
    const R = '/recordings/AbCdEf123456/mh3k2j1a0bcdefgh';
    expect(at('/AbCdEf123456/thumbnail.jpg', token)).toBe('passed');
    expect(at(`${R}/index.m3u8`, token)).toBe('passed');
    expect(at(`${R}/poster.jpg`, token)).toBe('passed');
    expect(at(`${R}/k3j9x0a1b2_3.m4s`)).toBe('passed');
    expect(at(`${R}/k3j9x0a1b2_3.m4s`, token)).toBe(400);
    expect(at(`${R}/../index.m3u8`)).toBe(400);
    expect(at('/AbCdEf123456/thumbnail.jpg', { _HLS_msn: { value: '1' } })).toBe(400);
  });
});

describe('the edge', () => {
  it('runs the generated viewer-request function on every behavior, with no web ACL by default', () => {
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    const fnId = s.stack.getLogicalId(s.stack.cdn.viewerRequestFunction.node.defaultChild as never);
    const association = [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } }];
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual(association);
    for (const b of config.CacheBehaviors) expect(b.FunctionAssociations, b.PathPattern).toEqual(association);
    expect(config.WebACLId).toBeUndefined();
    const fn = s.template.toJSON().Resources[fnId].Properties;
    expect(fn.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.FunctionCode).toMatch(/^\/\/ Generated by infra\/edge\/viewer-request\.ts/);
    expect(fn.AutoPublish).toBe(true);
  });
});

describe('outputs', () => {
  it('gives the RTMP URL, playback base URL, table name and the stream-key command; no RTMPS or player by default', () => {
    const outputs = s.template.toJSON().Outputs;
    expect(JSON.stringify(outputs[OUTPUT_KEYS.rtmpUrl].Value)).toMatch(/rtmp:\/\/.*DNSName.*\/live/);
    expect(JSON.stringify(outputs[OUTPUT_KEYS.playbackBaseUrl].Value)).toMatch(/https:\/\/.*CdnDistribution.*DomainName/);
    expect(outputs[OUTPUT_KEYS.tableName].Value).toEqual({ Ref: ids.table });
    expect(outputs[OUTPUT_KEYS.createStreamKeyCommand].Value).toEqual({
      'Fn::Join': ['', ['npx keyframe keys create <name> --stack Keyframe --region ', { Ref: 'AWS::Region' }]],
    });
    expect(outputs).not.toHaveProperty(OUTPUT_KEYS.rtmpsUrl);
    expect(outputs).not.toHaveProperty(OUTPUT_KEYS.ingestDnsTarget);
    expect(outputs).not.toHaveProperty(OUTPUT_KEYS.playerUrl);
    // The CLI's `recordings delete --stack` removes objects from this bucket.
    expect(outputs[OUTPUT_KEYS.recordingBucketName].Value).toEqual({ Ref: ids.recordingBucket });
  });
});

describe('checks', () => {
  it('leaves no cdk-nag AwsSolutions finding unacknowledged', () => {
    expect(s.nagFindings()).toEqual([]);
  });

  it('acknowledges only findings that exist, each with a reason', () => {
    const acknowledged: Array<{ path: string; rule: string; reason: string }> = [];
    for (const c of s.app.node.findAll()) {
      for (const m of c.node.metadata) {
        if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [key, reason] of Object.entries(m.data as Record<string, string>)) {
          const rule = key.replace(/^annotation::/i, '');
          if (rule.startsWith('AwsSolutions-')) acknowledged.push({ path: c.node.path, rule, reason });
        }
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    // The same app with every acknowledgement ignored: what cdk-nag finds on its own.
    const original = Validations.prototype.acknowledge;
    const bareOutdir = mkdtempSync(join(tmpdir(), 'keyframe-cdk-bare-'));
    let raw: Array<{ rule: string; path: string }>;
    try {
      Validations.prototype.acknowledge = () => undefined;
      const bare = new App({ outdir: bareOutdir, context: cdkJsonContext() });
      compose(bare, { playerDirectory: null });
      raw = new AwsSolutionsChecks(bare)
        .validateScope(bare)
        .violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })));
    } finally {
      Validations.prototype.acknowledge = original;
      rmSync(bareOutdir, { recursive: true, force: true });
    }
    for (const ack of acknowledged) {
      expect(String(ack.reason).length, `${ack.rule} at ${ack.path}`).toBeGreaterThan(40);
      const used = raw.some((f) => f.rule === ack.rule && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)));
      expect(used, `stale acknowledgement ${ack.rule} at ${ack.path}`).toBe(true);
    }
  });

  const cfnLint = findCfnLint();
  it.runIf(cfnLint)('passes cfn-lint in every commercial region but those without function URLs, which the rule refuses', () => {
    const { errors, missingTypes } = cfnLintAllRegions(cfnLint as string, s.templatePath);
    expect(errors).toEqual([]);
    expect(missingTypes).toEqual({ 'AWS::Lambda::Url': [...FUNCTION_URL_UNSUPPORTED_REGIONS].sort() });
  });
});
