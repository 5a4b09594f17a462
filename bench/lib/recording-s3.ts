import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LocalS3, startLocalS3 } from '../../local/s3';

/**
 * The recordings bucket of a benchmark: a real s3rver (local/s3.ts) on loopback, reached through a tiny HTTP proxy
 * that counts the requests by kind (what the cost model assumes per segment) and can hold each one for a while
 * before passing it on (a slow S3). The proxy passes the request unchanged (the Host header included, so the
 * SigV4 signature still verifies at s3rver).
 */

export type S3RequestKind = 'segment' | 'playlist' | 'init' | 'poster' | 'other';

export function requestKind(method: string, url: string): S3RequestKind | `${string} ${S3RequestKind}` {
  const path = (url.split('?')[0] ?? '').toLowerCase();
  const kind: S3RequestKind = path.endsWith('.m4s')
    ? 'segment'
    : path.endsWith('.m3u8')
      ? 'playlist'
      : path.endsWith('_init.mp4')
        ? 'init'
        : path.endsWith('.jpg')
          ? 'poster'
          : 'other';
  return method === 'PUT' ? kind : `${method} ${kind}`;
}

export interface BenchBucket {
  readonly s3: LocalS3;
  readonly bucket: string;
  /** The proxy's `http://127.0.0.1:<port>`: give it to the ingest as KEYFRAME_S3_ENDPOINT. */
  readonly endpoint: string;
  /** Holds every request this long before it is passed on (0: none). */
  setDelayMs(ms: number): void;
  /** Requests seen, by kind (`segment`, `playlist`… for PUTs; `GET other`… otherwise), per recording prefix. */
  counts(): Map<string, Record<string, number>>;
  close(): Promise<void>;
}

/** `recordings/<playbackId>/<recordingId>/` of a request path, or '' for anything else. */
function recordingOf(url: string, bucket: string): string {
  const m = new RegExp(`^/${bucket}/(recordings/[^/]+/[^/]+/)`).exec(url.split('?')[0] ?? '');
  return m ? m[1] : '';
}

export async function startBenchBucket(bucket = 'keyframe-bench-recordings'): Promise<BenchBucket> {
  const s3 = await startLocalS3({ memory: true, buckets: [bucket] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let delayMs = 0;
  const counts = new Map<string, Record<string, number>>();
  const server = http.createServer((req, res) => {
    const prefix = recordingOf(req.url ?? '', bucket);
    const kind = requestKind(req.method ?? 'GET', req.url ?? '');
    const c = counts.get(prefix) ?? {};
    c[kind] = (c[kind] ?? 0) + 1;
    counts.set(prefix, c);
    const forward = () => {
      const up = http.request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.once('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    };
    // The body waits in the socket buffer meanwhile (paused until piped).
    if (delayMs > 0) setTimeout(forward, delayMs);
    else forward();
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    s3,
    bucket,
    endpoint: `http://127.0.0.1:${port}`,
    setDelayMs(ms) {
      delayMs = ms;
    },
    counts: () => counts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
      await s3.close();
    },
  };
}

/** The objects under a prefix with their sizes (straight from s3rver, not through the proxy). */
export async function listObjects(client: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push({ key: o.Key ?? '', size: o.Size ?? 0 });
    if (!r.IsTruncated) break;
    token = r.NextContinuationToken;
  }
  return out;
}

/** The ingest's environment for a recordings bucket behind `endpoint`. */
export function recordingEnv(bucket: BenchBucket, spoolDir: string): Record<string, string> {
  return {
    KEYFRAME_RECORDING_BUCKET: bucket.bucket,
    KEYFRAME_S3_ENDPOINT: bucket.endpoint,
    KEYFRAME_RECORDING_SPOOL_DIR: spoolDir,
    AWS_REGION: 'us-east-1',
  };
}
