import { Duration } from 'aws-cdk-lib';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { KeyframeFunction } from './node-function';
import { PATHS } from './paths';
import type { RoutingTable } from './routing-table';
import { taskEventsSettings } from '../core/settings/task-events';

export interface TaskStateSyncProps {
  readonly cluster: ICluster;
  readonly table: RoutingTable;
  readonly logRetention: RetentionDays;
  /** Reserved concurrency, so a flood of origin invocations cannot starve task-state sync. @default - none */
  readonly reservedConcurrency?: number;
}

/**
 * Keeps the task records true: `ECS Task State Change` events of this cluster only → the task-events
 * function, which registers RUNNING tasks and purges STOPPED ones with their routes.
 *
 * Nothing is dropped silently. EventBridge retries delivery and sends what it cannot deliver to the
 * dead-letter queue; Lambda retries a failed invocation twice and then sends the event to the same queue.
 */
export class TaskStateSync extends Construct {
  readonly handler: KeyframeFunction;
  readonly deadLetterQueue: Queue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: TaskStateSyncProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.handler = new KeyframeFunction(this, 'Handler', {
      entry: PATHS.taskEventsEntry,
      description: 'Keyframe: applies ECS task state changes to the routing table',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: taskEventsSettings.toEnv({
        tableName: props.table.tableName,
        clusterArn: props.cluster.clusterArn,
        logLevel: 'INFO',
      }),
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    // Task records (get, conditional put/update), and the routes of a stopped task (query gsi1, delete).
    props.table.grant(this.handler.role, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query']);

    this.rule = new Rule(this, 'Rule', {
      description: 'Keyframe: ECS task state changes of the ingest cluster',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [props.cluster.clusterArn] },
      },
      targets: [
        new LambdaFunction(this.handler.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
  }
}
