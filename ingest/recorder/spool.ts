import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The bounded local spool: every object waits here (a file) until S3 has it. Space is reserved synchronously
 * when an object is accepted, so the cap holds however slow the disk or S3 is; a refusal is the caller's cue
 * to record a gap. Sized against the task's ephemeral storage (docs/recording.md).
 */
export class Spool {
  private reservedBytes = 0;
  private seq = 0;

  /** This spool's own directory, inside the configured one. */
  readonly dir: string;

  constructor(
    parent: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(parent, { recursive: true });
    this.dir = mkdtempSync(join(parent, 'spool-'));
  }

  /** Removes the directory (after a drain: whatever is left was given up). */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Bytes held or reserved now. */
  get usedBytes(): number {
    return this.reservedBytes;
  }

  /** Reserves room for `size` bytes; false when that would exceed the cap. */
  reserve(size: number): boolean {
    if (this.reservedBytes + size > this.maxBytes) return false;
    this.reservedBytes += size;
    return true;
  }

  /** Reserves without the cap: init segments (a few hundred bytes, and every later segment needs them). */
  reserveAlways(size: number): void {
    this.reservedBytes += size;
  }

  /** Writes reserved bytes to a new file; resolves with its path. */
  async write(bytes: Buffer): Promise<string> {
    const path = join(this.dir, String(++this.seq));
    await writeFile(path, bytes);
    return path;
  }

  read(path: string): Promise<Buffer> {
    return readFile(path);
  }

  /** Deletes the file (if any) and returns its reservation. */
  async release(path: string | undefined, size: number): Promise<void> {
    this.reservedBytes = Math.max(0, this.reservedBytes - size);
    if (path) await rm(path, { force: true });
  }
}
