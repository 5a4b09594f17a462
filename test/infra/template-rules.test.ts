import { describe, expect, it } from 'vitest';
import { functionsWithoutThrottleAlarm, regionKeyedMappings, topicPoliciesBlockingCloudWatch } from './template-rules';

/** The checks themselves, on small hand-written templates: each catches what it names and passes the fixed form. */

describe('regionKeyedMappings', () => {
  it('finds a mapping keyed by region and a FindInMap on AWS::Region', () => {
    const template = {
      Mappings: { LayerMap: { 'eu-west-1': { arm64: 'arn:x' }, 'us-east-1': { arm64: 'arn:y' } }, Sizes: { small: { cpu: 256 } } },
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Layers: [{ 'Fn::FindInMap': ['LayerMap', { Ref: 'AWS::Region' }, 'arm64'] }] } },
      },
    };
    const found = regionKeyedMappings(template);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^mapping LayerMap is keyed by region/);
    expect(found[1]).toMatch(/AWS::Region/);
  });

  it('passes a template with no region-keyed mapping', () => {
    expect(regionKeyedMappings({ Mappings: { Sizes: { small: { cpu: 256 } } }, Resources: {} })).toEqual([]);
    expect(regionKeyedMappings({ Resources: {} })).toEqual([]);
  });
});

const alarmOn = (topic: string) => ({ Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: topic }] } });
const sslDeny = {
  Effect: 'Deny',
  Principal: '*',
  Action: 'sns:Publish',
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const cloudWatchAllow = { Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' };

describe('topicPoliciesBlockingCloudWatch', () => {
  const withPolicy = (statements: unknown[]) => ({
    Resources: {
      Topic: { Type: 'AWS::SNS::Topic' },
      Alarm: alarmOn('Topic'),
      Policy: { Type: 'AWS::SNS::TopicPolicy', Properties: { Topics: [{ Ref: 'Topic' }], PolicyDocument: { Statement: statements } } },
    },
  });

  it('finds the deny-only policy enforceSSL writes, and an unconditional deny', () => {
    expect(topicPoliciesBlockingCloudWatch(withPolicy([sslDeny]))).toEqual([
      'Policy (topics Topic) has no Allow of sns:Publish for cloudwatch.amazonaws.com',
    ]);
    expect(topicPoliciesBlockingCloudWatch(withPolicy([cloudWatchAllow, { Effect: 'Deny', Principal: '*', Action: 'sns:*' }]))).toEqual([
      'Policy (topics Topic) denies sns:Publish unconditionally',
    ]);
  });

  it('passes a policy that allows CloudWatch next to the TLS deny, and topics no alarm uses', () => {
    expect(topicPoliciesBlockingCloudWatch(withPolicy([sslDeny, cloudWatchAllow]))).toEqual([]);
    const unused = withPolicy([sslDeny]);
    delete (unused.Resources as Record<string, unknown>).Alarm;
    expect(topicPoliciesBlockingCloudWatch(unused)).toEqual([]);
  });
});

describe('functionsWithoutThrottleAlarm', () => {
  const throttleAlarm = (fn: string) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }] },
  });
  const errorsAlarm = (fn: string) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }] },
  });

  it('finds a function whose only alarm is on errors', () => {
    const template = {
      Resources: {
        A: { Type: 'AWS::Lambda::Function' },
        B: { Type: 'AWS::Lambda::Function' },
        AThrottles: throttleAlarm('A'),
        BErrors: errorsAlarm('B'),
      },
    };
    expect(functionsWithoutThrottleAlarm(template)).toEqual(['B']);
  });

  it('counts throttle alarms written as metric math, and skips exempt deploy-time handlers', () => {
    const template = {
      Resources: {
        A: { Type: 'AWS::Lambda::Function' },
        CustomDeployHandler1: { Type: 'AWS::Lambda::Function' },
        Math: {
          Type: 'AWS::CloudWatch::Alarm',
          Properties: {
            Metrics: [
              {
                Id: 'm',
                MetricStat: {
                  Metric: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'A' } }] },
                },
              },
            ],
          },
        },
      },
    };
    expect(functionsWithoutThrottleAlarm(template, ['CustomDeployHandler'])).toEqual([]);
    expect(functionsWithoutThrottleAlarm(template)).toEqual(['CustomDeployHandler1']);
  });
});
