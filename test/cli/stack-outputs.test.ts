import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveStack, StackResolveError } from '../../cli/stack-outputs';
import { OUTPUT_KEYS } from '../../infra/output-keys';

/**
 * DescribeStacks is the only AWS call here and nothing local answers it, so the test stubs exactly that:
 * a real CloudFormationClient whose `send` is replaced. Everything else (command construction, output
 * parsing, errors) is the real code.
 */
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Keyframe/6f5e9a40-0000-11ef-8000-0a1b2c3d4e5f';

function clientAnswering(outputs: Output[] | Error, stackId = STACK_ID) {
  const client = new CloudFormationClient({ region: 'us-east-1' });
  const send = vi.spyOn(client, 'send').mockImplementation(async () => {
    if (outputs instanceof Error) throw outputs;
    return {
      Stacks: [{ StackName: 'Keyframe', StackId: stackId, StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }],
      $metadata: {},
    };
  });
  return { client, send };
}

const fullOutputs: Output[] = [
  { OutputKey: OUTPUT_KEYS.rtmpUrl, OutputValue: 'rtmp://kf-nlb-123.elb.eu-west-1.amazonaws.com/live' },
  { OutputKey: OUTPUT_KEYS.playbackBaseUrl, OutputValue: 'https://d111111abcdef8.cloudfront.net' },
  { OutputKey: OUTPUT_KEYS.playerUrl, OutputValue: 'https://d111111abcdef8.cloudfront.net/watch/index.html' },
  { OutputKey: OUTPUT_KEYS.tableName, OutputValue: 'Keyframe-RoutingTable2DD4653A-ABC' },
  { OutputKey: OUTPUT_KEYS.createStreamKeyCommand, OutputValue: 'npx keyframe keys create <name> --stack Keyframe --region eu-west-1' },
  { OutputKey: OUTPUT_KEYS.recordingBucketName, OutputValue: 'keyframe-recordingsbucket-abc123' },
];

afterEach(() => vi.restoreAllMocks());

describe('resolveStack', () => {
  it('reads the outputs of the named stack, and its region from the stack ID', async () => {
    const { client, send } = clientAnswering(fullOutputs);
    const resolved = await resolveStack({ stackName: 'Keyframe' }, { client });
    expect(resolved).toEqual({
      stackName: 'Keyframe',
      region: 'eu-west-1',
      tableName: 'Keyframe-RoutingTable2DD4653A-ABC',
      rtmpUrl: 'rtmp://kf-nlb-123.elb.eu-west-1.amazonaws.com/live',
      rtmpsUrl: undefined,
      playbackBaseUrl: 'https://d111111abcdef8.cloudfront.net',
      playerUrl: 'https://d111111abcdef8.cloudfront.net/watch/index.html',
      recordingBucketName: 'keyframe-recordingsbucket-abc123',
    });
    expect(send).toHaveBeenCalledTimes(1);
    const command = send.mock.calls[0][0];
    expect(command).toBeInstanceOf(DescribeStacksCommand);
    expect(command.input).toEqual({ StackName: 'Keyframe' });
  });

  it('leaves the player URL out when the stack has no player page', async () => {
    const { client } = clientAnswering(fullOutputs.filter((o) => o.OutputKey !== OUTPUT_KEYS.playerUrl));
    expect((await resolveStack({ stackName: 'Keyframe' }, { client })).playerUrl).toBeUndefined();
  });

  it('names the stack and the missing outputs when it is not (yet) a Keyframe stack', async () => {
    const { client } = clientAnswering([{ OutputKey: 'Something', OutputValue: 'else' }]);
    await expect(resolveStack({ stackName: 'Keyframe' }, { client })).rejects.toThrow(
      new StackResolveError(
        'Stack Keyframe (status CREATE_COMPLETE) has no output TableName, RtmpUrl, PlaybackBaseUrl (outputs found: Something). ' +
          'Is it a Keyframe stack, and has its deploy finished?',
      ),
    );
  });

  it('names the stack and the region when CloudFormation cannot find it', async () => {
    const { client } = clientAnswering(new Error('Stack with id Nope does not exist'));
    const error = await resolveStack({ stackName: 'Nope', region: 'eu-west-1' }, { client }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StackResolveError);
    expect((error as Error).message).toBe(
      'Cannot read stack Nope in eu-west-1: Stack with id Nope does not exist. ' +
        'Check the stack name (--stack), the region (--region or AWS_REGION) and your AWS credentials.',
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});
