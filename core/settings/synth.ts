import { defineSettings, flag, optionalText } from './schema';

/** `cdk synth`'s environment (infra/app.ts). Deploy-time choices are CDK context keys (infra/config.ts), not these. */
export const synthSettings = defineSettings('synth', {
  /** Skip building the player page (tests that synth many stacks build it once). */
  skipPlayerBuild: flag('KEYFRAME_SKIP_PLAYER_BUILD', { default: false }),
  /** Set by the CDK CLI from the profile it will deploy with: region rules are then checked at synth too. */
  deployRegion: optionalText('CDK_DEFAULT_REGION'),
});
