import { Aws, CfnCondition, Duration, Fn, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  type CfnAlarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Distribution } from 'aws-cdk-lib/aws-cloudfront';
import type { FargateService, ICluster } from 'aws-cdk-lib/aws-ecs';
import type { NetworkLoadBalancer, NetworkTargetGroup } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../core/metrics';

/** The EMF namespace and dimension of docs/architecture.md ("Metrics"). */
export { METRICS_NAMESPACE };
/** Origin 5xx share of requests (percent) that raises the alarm. */
export const ORIGIN_5XX_RATE_THRESHOLD_PERCENT = 5;
/** CloudFront error rates (percent of viewer requests) that raise the alarms. 4xx is high: players probe ahead of live. */
export const CDN_5XX_RATE_THRESHOLD_PERCENT = 5;
export const CDN_4XX_RATE_THRESHOLD_PERCENT = 25;
/** Share of the account's Lambda concurrency quota that raises the account alarm, and the origin's own alarm. */
export const ACCOUNT_CONCURRENCY_ALARM_PERCENT = 80;
export const ORIGIN_CONCURRENCY_ALARM_PERCENT = 50;
/**
 * The capacity alarm: the average task's IngestLoad above this share of the scaling target for
 * LOAD_ALARM_MINUTES. Target tracking brings the average back to the target within minutes (a policy alarm, a new
 * task's start); staying above it means scaling cannot: the service is at maxTasks, or new tasks do not start.
 */
export const LOAD_ALARM_PERCENT = 125;
export const LOAD_ALARM_MINUTES = 15;

export interface ObservabilityProps {
  readonly cluster: ICluster;
  readonly service: FargateService;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** IngestLoad per task (the scaling metric, IngestService.loadMetric) and the target the service scales to. */
  readonly loadMetric: Metric;
  readonly targetLoadPerTask: number;
  /** What a task's CPU holds, in load units (the dashboard's ceiling line). */
  readonly taskLoadCapacity: number;
  readonly loadBalancer: NetworkLoadBalancer;
  readonly targetGroup: NetworkTargetGroup;
  readonly originFunction: IFunction;
  readonly taskEventsFunction: IFunction;
  /** The task-events function's reserved concurrency: its concurrency alarm fires at this cap. @default - none */
  readonly taskEventsReservedConcurrency?: number;
  /** The account's Lambda concurrency quota in this region (the concurrency alarms are shares of it). @default 1000 */
  readonly lambdaConcurrencyQuota?: number;
  readonly deadLetterQueue: IQueue;
  readonly distribution: Distribution;
  /** Subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
}

/**
 * A dashboard and the alarms that say the platform is broken: the origin failing, task-state sync failing
 * (errors or dead letters), fewer ingest tasks running or healthy than the minimum, ingest load staying above
 * the scaling target (scaling cannot keep up), any function throttled or near
 * its concurrency limit, and (in us-east-1, where CloudFront's metrics are) viewer error rates. Alarms notify an
 * SNS topic whose policy lets CloudWatch publish.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarmTopic: Topic;
  readonly origin5xxRateAlarm: Alarm;
  readonly originErrorsAlarm: Alarm;
  readonly taskEventsErrorsAlarm: Alarm;
  readonly deadLetterAlarm: Alarm;
  readonly runningTasksAlarm: Alarm;
  readonly healthyTargetsAlarm: Alarm;
  /** IngestLoad stays above the scaling target: more publishes (or ladders) than maxTasks tasks hold. */
  readonly loadAlarm: Alarm;
  /** One per function (origin, task-events): a throttled call never runs, so no other alarm sees it. */
  readonly throttleAlarms: Alarm[] = [];
  readonly concurrencyAlarms: Alarm[] = [];
  /** CloudFront 5xx and 4xx rates; created only when the stack is in us-east-1 (template condition). */
  readonly cdnAlarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'Keyframe alarms', enforceSSL: true });
    // enforceSSL gives the topic a policy of its own, which replaces the default one; without this statement it
    // holds only the TLS deny, and CloudWatch's alarm actions would be refused ("no resource-based policy allows").
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
        },
      }),
    );
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    const notify = new SnsAction(this.alarmTopic);

    const keyframe = (metricName: string, service: string, statistic = 'Sum', label?: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service },
        statistic,
        period: Duration.minutes(1),
        label,
      });

    const originRequests = keyframe('OriginRequests', 'origin');
    const origin4xx = keyframe('Origin4xx', 'origin');
    const origin5xx = keyframe('Origin5xx', 'origin');
    const origin5xxRate = new MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { requests: originRequests, errors: origin5xx },
      period: Duration.minutes(1),
      label: 'Origin 5xx (% of requests)',
    });
    const runningTasks = new Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: props.cluster.clusterName, ServiceName: props.service.serviceName },
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
    const dlqVisible = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: Duration.minutes(5),
    });

    this.origin5xxRateAlarm = new Alarm(this, 'Origin5xxRateAlarm', {
      alarmDescription: `Keyframe origin: more than ${ORIGIN_5XX_RATE_THRESHOLD_PERCENT}% of requests answered 5xx (tasks unreachable or failing)`,
      metric: origin5xxRate,
      threshold: ORIGIN_5XX_RATE_THRESHOLD_PERCENT,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.originErrorsAlarm = new Alarm(this, 'OriginErrorsAlarm', {
      alarmDescription: 'Keyframe origin function: invocations failed (crash or timeout; CloudFront saw 5xx)',
      metric: props.originFunction.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 5,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.taskEventsErrorsAlarm = new Alarm(this, 'TaskEventsErrorsAlarm', {
      alarmDescription: 'Keyframe task-events function: invocations failed (task records may be stale)',
      metric: props.taskEventsFunction.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = new Alarm(this, 'TaskEventsDeadLetterAlarm', {
      alarmDescription: 'Keyframe task-events: events in the dead-letter queue (not applied; routes to stopped tasks may linger until they expire)',
      metric: dlqVisible,
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.runningTasksAlarm = new Alarm(this, 'IngestRunningTasksAlarm', {
      alarmDescription: `Keyframe ingest: fewer than ${props.minTasks} task(s) running`,
      metric: runningTasks,
      threshold: props.minTasks,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      // Container Insights reports nothing until the first task has run for a while (a new stack), so missing data
      // keeps the alarm's state instead of breaching; the NLB's healthy-target count below covers "no task at all".
      treatMissingData: TreatMissingData.MISSING,
    });
    this.healthyTargetsAlarm = new Alarm(this, 'IngestHealthyTargetsAlarm', {
      alarmDescription: `Keyframe ingest: fewer than ${props.minTasks} healthy task(s) behind the NLB (publishes are refused or land on too few tasks)`,
      metric: props.targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1) }),
      threshold: props.minTasks,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      treatMissingData: TreatMissingData.MISSING,
    });
    const loadThreshold = Math.ceil((props.targetLoadPerTask * LOAD_ALARM_PERCENT) / 100);
    this.loadAlarm = new Alarm(this, 'IngestLoadAlarm', {
      alarmDescription:
        `Keyframe ingest: load above ${LOAD_ALARM_PERCENT}% of the scaling target (${loadThreshold} of ${props.targetLoadPerTask} units per task) ` +
        `for ${LOAD_ALARM_MINUTES} minutes; scaling is not keeping up (at maxTasks=${props.maxTasks}, or new tasks do not start), ` +
        'so ladders may fall back to passthrough',
      metric: props.loadMetric,
      threshold: loadThreshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: LOAD_ALARM_MINUTES,
      datapointsToAlarm: LOAD_ALARM_MINUTES,
      // No data: no task is reporting (nothing live yet, or no task at all, which the task alarms cover).
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const quota = props.lambdaConcurrencyQuota ?? 1000;
    const functions = [
      {
        id: 'Origin',
        name: 'origin',
        fn: props.originFunction,
        throttles: 5,
        concurrency: Math.ceil((quota * ORIGIN_CONCURRENCY_ALARM_PERCENT) / 100),
      },
      { id: 'TaskEvents', name: 'task-events', fn: props.taskEventsFunction, throttles: 1, concurrency: props.taskEventsReservedConcurrency },
    ];
    for (const f of functions) {
      this.throttleAlarms.push(
        new Alarm(this, `${f.id}ThrottlesAlarm`, {
          alarmDescription: `Keyframe ${f.name} function: invocations throttled (they never ran, so its own metrics and logs miss them)`,
          metric: f.fn.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) }),
          threshold: f.throttles,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      if (f.concurrency !== undefined) {
        this.concurrencyAlarms.push(
          new Alarm(this, `${f.id}ConcurrencyAlarm`, {
            alarmDescription:
              f.id === 'Origin'
                ? `Keyframe origin function: ${f.concurrency} concurrent executions, ${ORIGIN_CONCURRENCY_ALARM_PERCENT}% of the account's quota (${quota}); a flood or cache misses`
                : `Keyframe task-events function: at its reserved concurrency (${f.concurrency}); more events are throttled and retried`,
            metric: f.fn.metric('ConcurrentExecutions', { statistic: 'Maximum', period: Duration.minutes(1) }),
            threshold: f.concurrency,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: 3,
            datapointsToAlarm: 2,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
        );
      }
    }
    const accountThreshold = Math.ceil((quota * ACCOUNT_CONCURRENCY_ALARM_PERCENT) / 100);
    const claimedConcurrency = new Metric({
      namespace: 'AWS/Lambda',
      metricName: 'ClaimedAccountConcurrency',
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    this.concurrencyAlarms.push(
      new Alarm(this, 'AccountConcurrencyAlarm', {
        alarmDescription: `Lambda in this region: ${accountThreshold} of the account's ${quota} concurrent executions claimed; every function throttles at the quota`,
        metric: claimedConcurrency,
        threshold: accountThreshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    // CloudFront publishes its metrics in us-east-1 only, and an alarm can only watch metrics of its own region:
    // these two exist when the stack is in us-east-1 (docs/deploy.md says how to add them elsewhere).
    const inUsEast1 = new CfnCondition(this, 'InUsEast1', { expression: Fn.conditionEquals(Aws.REGION, 'us-east-1') });
    const cdnRate = (metricName: string) =>
      new Metric({
        namespace: 'AWS/CloudFront',
        metricName,
        dimensionsMap: { DistributionId: props.distribution.distributionId, Region: 'Global' },
        statistic: 'Average',
        period: Duration.minutes(1),
      });
    for (const [id, metricName, threshold, what] of [
      ['Cdn5xxRateAlarm', '5xxErrorRate', CDN_5XX_RATE_THRESHOLD_PERCENT, 'origin failing, throttled or timing out'],
      ['Cdn4xxRateAlarm', '4xxErrorRate', CDN_4XX_RATE_THRESHOLD_PERCENT, 'e.g. 403 when Origin Access Control cannot invoke the origin'],
    ] as const) {
      const alarm = new Alarm(this, id, {
        alarmDescription: `Keyframe CloudFront: more than ${threshold}% of viewer requests answered ${metricName.slice(0, 3)} (${what})`,
        metric: cdnRate(metricName),
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      (alarm.node.defaultChild as CfnAlarm).cfnOptions.condition = inUsEast1;
      this.cdnAlarms.push(alarm);
    }

    for (const alarm of [
      this.origin5xxRateAlarm,
      this.originErrorsAlarm,
      this.taskEventsErrorsAlarm,
      this.deadLetterAlarm,
      this.runningTasksAlarm,
      this.healthyTargetsAlarm,
      this.loadAlarm,
      ...this.throttleAlarms,
      ...this.concurrencyAlarms,
      ...this.cdnAlarms,
    ]) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }

    // CloudFront publishes its metrics in us-east-1 only, with Region=Global.
    const cloudfront = (metricName: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/CloudFront',
        metricName,
        dimensionsMap: { DistributionId: props.distribution.distributionId, Region: 'Global' },
        statistic,
        period: Duration.minutes(1),
        region: 'us-east-1',
      });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: stack.stackName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Keyframe: ${stack.stackName}\nOrigin, ingest, task-state sync and CDN. Alarms notify the AlarmTopic output.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Origin requests', left: [originRequests, origin4xx, origin5xx], width: 8 }),
      new GraphWidget({
        title: 'Origin 5xx rate (%)',
        left: [origin5xxRate],
        leftAnnotations: [{ value: ORIGIN_5XX_RATE_THRESHOLD_PERCENT, label: 'alarm' }],
        width: 8,
      }),
      new GraphWidget({
        title: 'Origin latency (ms) and upstream failures',
        left: [keyframe('OriginLatency', 'origin', 'p50', 'p50'), keyframe('OriginLatency', 'origin', 'p99', 'p99')],
        right: [keyframe('UpstreamFailures', 'origin')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Active streams per task (max / avg of heartbeats)',
        left: [keyframe('ActiveStreams', 'ingest', 'Maximum', 'max'), keyframe('ActiveStreams', 'ingest', 'Average', 'avg')],
        width: 6,
      }),
      new GraphWidget({
        title: 'Ingest load per task (load units: passthrough 1, a ladder its CPU)',
        left: [props.loadMetric.with({ statistic: 'Maximum', label: 'max' }), props.loadMetric.with({ label: 'avg (scaled on)' })],
        leftAnnotations: [
          { value: props.targetLoadPerTask, label: 'scaling target' },
          { value: loadThreshold, label: 'alarm' },
          { value: props.taskLoadCapacity, label: 'task CPU' },
        ],
        width: 6,
      }),
      new GraphWidget({
        title: 'Ingest tasks',
        left: [runningTasks, props.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1) })],
        leftAnnotations: [
          { value: props.minTasks, label: 'minTasks' },
          { value: props.maxTasks, label: 'maxTasks' },
        ],
        width: 6,
      }),
      new GraphWidget({
        title: 'Ingest CPU / memory (%)',
        left: [props.service.metricCpuUtilization(), props.service.metricMemoryUtilization()],
        width: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'NLB flows (RTMP connections)',
        left: [
          props.loadBalancer.metrics.activeFlowCount({ period: Duration.minutes(1) }),
          props.loadBalancer.metrics.newFlowCount({ period: Duration.minutes(1) }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Task events',
        left: [keyframe('TaskEventsApplied', 'task-events'), keyframe('TaskEventsStale', 'task-events'), keyframe('RoutesPurged', 'task-events')],
        right: [props.taskEventsFunction.metricErrors({ period: Duration.minutes(1) }), dlqVisible],
        width: 8,
      }),
      new GraphWidget({
        title: 'Lambda throttles and concurrency',
        left: [
          props.originFunction.metricThrottles({ period: Duration.minutes(1), label: 'origin throttles' }),
          props.taskEventsFunction.metricThrottles({ period: Duration.minutes(1), label: 'task-events throttles' }),
        ],
        right: [
          props.originFunction.metric('ConcurrentExecutions', { statistic: 'Maximum', period: Duration.minutes(1), label: 'origin concurrency' }),
          claimedConcurrency.with({ label: 'account (claimed)' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'CloudFront (us-east-1)',
        left: [cloudfront('Requests', 'Sum')],
        right: [cloudfront('5xxErrorRate', 'Average'), cloudfront('4xxErrorRate', 'Average')],
        width: 8,
      }),
    );
  }

  /** The dashboard in the CloudWatch console. */
  get dashboardUrl(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}
