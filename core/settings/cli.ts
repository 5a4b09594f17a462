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
});
export type CliSettings = ReturnType<typeof cliSettings.load>;
