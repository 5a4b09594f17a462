import { CloudFormationClient, DescribeStacksCommand, type DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import { OUTPUT_KEYS } from '../infra/output-keys';

/** What the CLI needs from a deployed Keyframe stack. */
export interface ResolvedStack {
  readonly stackName: string;
  readonly region: string;
  readonly tableName: string;
  readonly rtmpUrl: string;
  readonly rtmpsUrl?: string;
  readonly playbackBaseUrl: string;
  readonly playerUrl?: string;
  /** Secrets Manager ARN of the playback-token key (private channels). */
  readonly playbackSecretArn?: string;
  /** The recordings bucket (`recordings delete --stack`). */
  readonly recordingBucketName?: string;
}

/** The one CloudFormation call this module makes; a real CloudFormationClient satisfies it. */
export interface DescribeStacksClient {
  send(command: DescribeStacksCommand): Promise<DescribeStacksCommandOutput>;
}

export class StackResolveError extends Error {
  override readonly name = 'StackResolveError';
}

/**
 * Reads a deployed Keyframe stack's outputs (DescribeStacks) so the CLI can work against it by name.
 * Credentials and, unless given, the region come from the usual AWS SDK sources (env, profile, SSO).
 */
export async function resolveStack(
  opts: { stackName: string; region?: string },
  deps: { client?: DescribeStacksClient } = {},
): Promise<ResolvedStack> {
  const client = deps.client ?? new CloudFormationClient(opts.region ? { region: opts.region } : {});
  let output: DescribeStacksCommandOutput;
  try {
    output = await client.send(new DescribeStacksCommand({ StackName: opts.stackName }));
  } catch (err) {
    const where = opts.region ? ` in ${opts.region}` : '';
    const detail = err instanceof Error ? err.message : String(err);
    throw new StackResolveError(
      `Cannot read stack ${opts.stackName}${where}: ${detail}. Check the stack name (--stack), the region (--region or AWS_REGION) and your AWS credentials.`,
      { cause: err },
    );
  }

  const stack = output.Stacks?.[0];
  if (!stack) {
    throw new StackResolveError(`Stack ${opts.stackName} was not found. Deploy it with \`npx cdk deploy\` or check --stack and --region.`);
  }
  const outputs = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const required = [OUTPUT_KEYS.tableName, OUTPUT_KEYS.rtmpUrl, OUTPUT_KEYS.playbackBaseUrl] as const;
  const missing = required.filter((key) => !outputs.get(key));
  if (missing.length > 0) {
    const found = outputs.size > 0 ? [...outputs.keys()].join(', ') : 'none';
    throw new StackResolveError(
      `Stack ${opts.stackName} (status ${stack.StackStatus ?? 'unknown'}) has no output ${missing.join(', ')} (outputs found: ${found}). ` +
        'Is it a Keyframe stack, and has its deploy finished?',
    );
  }

  // The stack ID is an ARN (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>): its region is
  // where the stack really is, whatever default the SDK picked.
  const region = stack.StackId?.split(':')[3] || opts.region || (await regionOf(client));
  return {
    stackName: stack.StackName ?? opts.stackName,
    region,
    tableName: outputs.get(OUTPUT_KEYS.tableName) as string,
    rtmpUrl: outputs.get(OUTPUT_KEYS.rtmpUrl) as string,
    rtmpsUrl: outputs.get(OUTPUT_KEYS.rtmpsUrl) || undefined,
    playbackBaseUrl: outputs.get(OUTPUT_KEYS.playbackBaseUrl) as string,
    playerUrl: outputs.get(OUTPUT_KEYS.playerUrl) || undefined,
    playbackSecretArn: outputs.get(OUTPUT_KEYS.playbackSecretArn) || undefined,
    recordingBucketName: outputs.get(OUTPUT_KEYS.recordingBucketName) || undefined,
  };
}

async function regionOf(client: DescribeStacksClient): Promise<string> {
  if (client instanceof CloudFormationClient) return client.config.region();
  throw new StackResolveError("Cannot tell the stack's region; pass --region.");
}
