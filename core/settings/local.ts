import { SEGMENT_SECONDS } from '../limits';
import { commonSettings } from './common';
import { defineSettings, number, optionalText, text } from './schema';

/** `npm start`'s environment (local/start.ts): defaults for its flags. */
export const localSettings = defineSettings('local', {
  logLevel: commonSettings.logLevel,
  tasks: number('KEYFRAME_TASKS', { default: 1, min: 1, max: 16, integer: true }),
  rtmpPort: number('KEYFRAME_LOCAL_RTMP_PORT', { default: 1935, min: 0, max: 65535, integer: true }),
  httpPort: number('KEYFRAME_LOCAL_HTTP_PORT', { default: 8080, min: 0, max: 65535, integer: true }),
  segmentSeconds: number('KEYFRAME_SEGMENT_SECONDS', { ...SEGMENT_SECONDS }),
  ffmpegPath: text('KEYFRAME_FFMPEG_PATH', { default: 'ffmpeg' }),
  stateDir: text('KEYFRAME_STATE_DIR', { default: '.keyframe' }),
  playbackSecret: optionalText('KEYFRAME_PLAYBACK_SECRET'),
  /** Colour off (https://no-color.org). */
  noColor: optionalText('NO_COLOR'),
});
export type LocalSettings = ReturnType<typeof localSettings.load>;
