import { defineSettings, optionalText, text } from './schema';

/** The `keyframe` CLI's environment (cli/). */
export const cliSettings = defineSettings('cli', {
  stateDir: text('KEYFRAME_STATE_DIR', { default: '.keyframe' }),
  /** The playback-token secret itself; else the local one in the state dir, or the stack's secret. */
  playbackSecret: optionalText('KEYFRAME_PLAYBACK_SECRET'),
  playbackSecretArn: optionalText('KEYFRAME_PLAYBACK_SECRET_ARN'),
  region: optionalText('AWS_REGION'),
  noColor: optionalText('NO_COLOR'),
  /** The container engine `cdk deploy` drives (the CDK CLI reads the same variable). */
  docker: text('CDK_DOCKER', { default: 'docker' }),
  /** `recordings delete`: the recordings bucket (the stack's, or the local stack's on its local S3 server). */
  recordingBucket: optionalText('KEYFRAME_RECORDING_BUCKET'),
  /** The S3 endpoint for it: unset in AWS; the local S3-compatible server's `http://127.0.0.1:<port>`. */
  s3Endpoint: optionalText('KEYFRAME_S3_ENDPOINT'),
});
export type CliSettings = ReturnType<typeof cliSettings.load>;
