import { readFile, rename, writeFile } from 'node:fs/promises';

export interface PlaylistInfo {
  readonly mediaSequence: number;
  readonly segments: number;
  readonly targetDuration?: number;
  readonly ended: boolean;
  /** Media sequence number of the newest segment, or undefined when there is none yet. */
  readonly lastSequence?: number;
}

export function parsePlaylist(text: string): PlaylistInfo {
  let mediaSequence = 0;
  let segments = 0;
  let targetDuration: number | undefined;
  let ended = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22)) || undefined;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line && !line.startsWith('#')) segments++;
  }
  return { mediaSequence, segments, targetDuration, ended, lastSequence: segments > 0 ? mediaSequence + segments - 1 : undefined };
}

/** Appends `#EXT-X-ENDLIST` atomically (write a temp file, rename), once. Returns false if there is no playlist. */
export async function endPlaylist(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false;
  }
  if (parsePlaylist(text).ended) return true;
  const tmp = `${path}.end.tmp`;
  await writeFile(tmp, `${text.endsWith('\n') ? text : `${text}\n`}#EXT-X-ENDLIST\n`);
  await rename(tmp, path);
  return true;
}
