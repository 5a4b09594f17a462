import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { localSettings } from '../core/settings/local';

/** What `npm start` tells other commands (the CLI) about the running local stack. */
export interface LocalStackState {
  readonly pid: number;
  readonly startedAt: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly rtmpUrl: string;
  readonly playbackBaseUrl: string;
  readonly playerBaseUrl?: string;
  /** The local recordings bucket and its S3-compatible server (for `keyframe recordings delete`). */
  readonly recordingBucket?: string;
  readonly s3Endpoint?: string;
}

/** The local state directory (KEYFRAME_STATE_DIR, default `.keyframe`), absolute. */
export function stateDir(dir: string = localSettings.load().stateDir): string {
  return resolve(dir);
}

export const stateFile = (dir: string) => join(dir, 'local.json');

export async function writeLocalState(dir: string, state: LocalStackState): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function readLocalState(dir: string): Promise<LocalStackState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as LocalStackState;
  } catch {
    return undefined;
  }
}

export async function clearLocalState(dir: string, pid: number): Promise<void> {
  const current = await readLocalState(dir);
  if (current?.pid === pid) await rm(stateFile(dir), { force: true });
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
