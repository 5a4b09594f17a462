import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;
const S3rver = require('s3rver') as S3rverClass;

/** Credentials the local server accepts (it checks signatures against these). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
/** The region clients of the local server sign for. */
export const LOCAL_S3_REGION = 'us-east-1';

export interface LocalS3 {
  /** `http://127.0.0.1:<port>`; clients need path-style addressing (`forcePathStyle`). */
  readonly endpoint: string;
  readonly port: number;
  /** Where the objects live on disk (a temporary directory with `memory`). */
  readonly directory: string;
  /** Whether it is accepting requests now. */
  readonly running: boolean;
  /** Stops serving (open connections are cut, so clients see the outage at once); the data stays. */
  stop(): Promise<void>;
  /** Serves again on the same port, with the same data. */
  start(): Promise<void>;
  /** Stops for good; with `memory`, removes the data. */
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** 0 (default) picks a free port; `start()` after `stop()` reuses the port it got. */
  readonly port?: number;
  readonly host?: string;
  /** Data directory (e.g. under `.keyframe/`); default: a temporary directory. */
  readonly directory?: string;
  /** Data in a temporary directory that `close()` removes (the default when no directory is given). */
  readonly memory?: boolean;
  /** Buckets to create at start. */
  readonly buckets?: readonly string[];
}

/**
 * A real S3-compatible server (s3rver: the S3 REST API on the file system) on loopback, for the tests and the
 * local stack. No mock: the recorder and the CLI talk to it with the AWS SDK exactly as they talk to S3.
 */
export async function startLocalS3(opts: LocalS3Options = {}): Promise<LocalS3> {
  const host = opts.host ?? '127.0.0.1';
  const temporary = opts.directory === undefined || opts.memory === true;
  const directory = opts.directory && !opts.memory ? opts.directory : mkdtempSync(join(tmpdir(), 'kf-s3-'));
  mkdirSync(directory, { recursive: true });
  let port = opts.port ?? 0;
  let server: S3rverInstance | undefined;
  let buckets = (opts.buckets ?? []).map((name) => ({ name }));

  async function start(): Promise<void> {
    if (server) return;
    const s = new S3rver({ port, address: host, silent: true, directory, configureBuckets: buckets, allowMismatchedSignatures: false });
    const addr = await s.run();
    port = addr.port;
    server = s;
    // Buckets are created once; on restart they are already in the data directory.
    buckets = [];
  }

  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    server = undefined;
    s.httpServer?.closeAllConnections();
    await s.close();
  }

  await start();
  return {
    get endpoint() {
      return `http://${host}:${port}`;
    },
    get port() {
      return port;
    },
    directory,
    get running() {
      return server !== undefined;
    },
    stop,
    start,
    async close() {
      await stop();
      if (temporary) rmSync(directory, { recursive: true, force: true });
    },
  };
}
