import { commonSettings } from './common';
import { defineSettings, optionalText, text } from './schema';

/** The task-events Lambda's environment (functions/task-events). Written by infra/task-state-sync.ts. */
export const taskEventsSettings = defineSettings('task-events', {
  ...commonSettings,
  tableName: text('KEYFRAME_TABLE'),
  /** Events of other clusters are ignored; unset: all clusters. */
  clusterArn: optionalText('KEYFRAME_CLUSTER_ARN'),
});
export type TaskEventsSettings = ReturnType<typeof taskEventsSettings.load>;
