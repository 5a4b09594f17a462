import type { LocalTask } from '../../local/tasks';
import { EventLog } from './wait';

/** One JSON log record of a local ingest task (Powertools: level, message, then the fields), with its task. */
export interface TaskLogRecord {
  readonly taskArn: string;
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

/**
 * The structured log of every local ingest task, for a test to wait on. Pass `onTaskLog` to `startLocalStack`
 * and `KEYFRAME_LOG_LEVEL: 'INFO'` in its `taskEnv` (the test run sets SILENT). Lines that are not JSON log
 * records (ffmpeg's stderr, metric lines) are kept in `other`.
 */
export function taskLogs(): EventLog<TaskLogRecord> & { readonly other: string[]; onTaskLog(task: LocalTask, line: string): void } {
  const log = new EventLog<TaskLogRecord>();
  const other: string[] = [];
  return Object.assign(log, {
    other,
    onTaskLog(task: LocalTask, line: string) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      const r = record as { level?: unknown; message?: unknown } | undefined;
      if (r && typeof r.message === 'string' && typeof r.level === 'string') log.push({ ...(r as object), taskArn: task.taskArn } as TaskLogRecord);
      else other.push(line);
    },
  });
}
