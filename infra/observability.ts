import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
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
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The EMF namespace and dimension of docs/architecture.md ("Metrics"). */
export const METRICS_NAMESPACE = 'Keyframe';
/** Origin 5xx share of requests (percent) that raises the alarm. */
export const ORIGIN_5XX_RATE_THRESHOLD_PERCENT = 5;

export interface ObservabilityProps {
  readonly cluster: ICluster;
  readonly service: FargateService;
  readonly minTasks: number;
  readonly loadBalancer: NetworkLoadBalancer;
  readonly targetGroup: NetworkTargetGroup;
  readonly originFunction: IFunction;
  readonly taskEventsFunction: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly distribution: Distribution;
  /** Subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
}

/**
 * A dashboard and the alarms that say the platform is broken: the origin failing, task-state sync failing
 * (errors or dead letters), fewer ingest tasks running than the minimum. Alarms notify an SNS topic.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarmTopic: Topic;
  readonly origin5xxRateAlarm: Alarm;
  readonly originErrorsAlarm: Alarm;
  readonly taskEventsErrorsAlarm: Alarm;
  readonly deadLetterAlarm: Alarm;
  readonly runningTasksAlarm: Alarm;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'Keyframe alarms', enforceSSL: true });
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
      // No data from Container Insights means no task reported: treat it as too few.
      treatMissingData: TreatMissingData.BREACHING,
    });
    for (const alarm of [
      this.origin5xxRateAlarm,
      this.originErrorsAlarm,
      this.taskEventsErrorsAlarm,
      this.deadLetterAlarm,
      this.runningTasksAlarm,
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
        left: [
          keyframe('OriginLatency', 'origin', 'p50', 'p50'),
          keyframe('OriginLatency', 'origin', 'p99', 'p99'),
        ],
        right: [keyframe('UpstreamFailures', 'origin')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Active streams per task (max / avg of heartbeats)',
        left: [
          keyframe('ActiveStreams', 'ingest', 'Maximum', 'max'),
          keyframe('ActiveStreams', 'ingest', 'Average', 'avg'),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Ingest tasks',
        left: [runningTasks, props.targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1) })],
        leftAnnotations: [{ value: props.minTasks, label: 'minTasks' }],
        width: 8,
      }),
      new GraphWidget({
        title: 'Ingest CPU / memory (%)',
        left: [props.service.metricCpuUtilization(), props.service.metricMemoryUtilization()],
        width: 8,
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
        left: [
          keyframe('TaskEventsApplied', 'task-events'),
          keyframe('TaskEventsStale', 'task-events'),
          keyframe('RoutesPurged', 'task-events'),
        ],
        right: [props.taskEventsFunction.metricErrors({ period: Duration.minutes(1) }), dlqVisible],
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
