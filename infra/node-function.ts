import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PATHS, REPO_ROOT, repoPath } from './paths';

/**
 * The Lambda runtime of every Keyframe function. The newest Node.js Lambda runtime this aws-cdk-lib knows
 * (cdk-nag AwsSolutions-L1 checks exactly that); the esbuild target follows it (node24).
 */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/** ESM output needs a `require` for the CommonJS dependencies esbuild inlines. */
const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface KeyframeFunctionProps {
  /** Handler file, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** Attach to this VPC. @default - not in a VPC */
  readonly vpc?: IVpc;
  readonly vpcSubnets?: SubnetSelection;
  readonly securityGroups?: ISecurityGroup[];
  /** Dead-letter queue for failed asynchronous invocations. @default - none */
  readonly deadLetterQueue?: IQueue;
  /** Retries of a failed asynchronous invocation. @default 2 (the Lambda default) */
  readonly retryAttempts?: number;
  /** @default Duration.hours(6) (the Lambda default) */
  readonly maxEventAge?: Duration;
  /** Concurrency reserved for this function (and its cap). @default - none: it shares the account's pool */
  readonly reservedConcurrentExecutions?: number;
  /** Repository root (tests point it elsewhere only for fixtures). @default REPO_ROOT */
  readonly repoRoot?: string;
}

/**
 * A Node.js Lambda function the Keyframe way: arm64, the newest Node.js runtime, bundled to ESM by the local
 * esbuild (never Docker), its own log group with retention, and its own role that starts with nothing but
 * writing to that log group. Callers grant the rest (table access) explicitly.
 */
export class KeyframeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: KeyframeFunctionProps) {
    super(scope, id);
    const root = props.repoRoot ?? REPO_ROOT;

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    if (props.vpc) {
      // The statement of the AWSLambdaVPCAccessExecutionRole managed policy, inline so the role has no
      // managed policy (and no logs:* on every log group).
      this.role.addToPolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Lambda attaches a VPC function through ENIs it creates and deletes with generated IDs, and ec2:Describe* supports no resource-level permissions; AWS documents these actions on Resource "*" (the AWSLambdaVPCAccessExecutionRole statement, written inline instead of the managed policy).',
      });
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: repoPath(props.entry, root),
      handler: 'handler',
      projectRoot: root,
      depsLockFilePath: repoPath(PATHS.lockFile, root),
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.vpc ? props.securityGroups : undefined,
      allowPublicSubnet: false,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK too: the function runs the SDK version the tests ran, not the runtime's copy.
        externalModules: [],
        // Minified: 0.39x the size with no change in cold init (bench/origin-bundle.ts).
        minify: true,
        sourceMap: false,
      },
    });
  }
}
