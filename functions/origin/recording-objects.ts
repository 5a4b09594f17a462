import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';

/**
 * The thin adapter between the origin and the recordings bucket: one GetObject, its body read under the
 * origin's body budget, its errors sorted into what the origin answers (absent → 404; S3 unreachable or
 * failing → 503; anything else → 502). Everything else about recordings is in pipeline/recording.ts.
 */

export interface RecordingObject {
  readonly body: Buffer;
  /** The object's own Cache-Control (the recorder sets one on each), when it has one. */
  readonly cacheControl?: string;
}

export interface RecordingObjectSource {
  /** The object at `key`, or undefined when there is none. Throws RecordingStorageError. */
  get(key: string, opts: { readonly maxBytes: number }): Promise<RecordingObject | undefined>;
}

/** `unavailable`: S3 could not be reached or answered 5xx; `too-large`: over the body budget; `failed`: anything else. */
export type RecordingStorageFailure = 'unavailable' | 'too-large' | 'failed';

export class RecordingStorageError extends Error {
  override readonly name = 'RecordingStorageError';
  constructor(
    readonly kind: RecordingStorageFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface S3RecordingObjectsOptions {
  readonly bucket: string;
  /** Unset in AWS; `http://127.0.0.1:<port>` for the local server (path-style, its fixed credentials). */
  readonly endpoint?: string;
  readonly region?: string;
  /** Per-attempt timeout. @default 3000 */
  readonly requestTimeoutMs?: number;
  /** A client to use instead of building one (tests). */
  readonly client?: S3Client;
}

/** The local S3-compatible server's fixed credentials (local/s3.ts): it checks signatures against them. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export function createRecordingsS3Client(opts: Omit<S3RecordingObjectsOptions, 'bucket' | 'client'>): S3Client {
  const local = opts.endpoint !== undefined;
  const timeout = opts.requestTimeoutMs ?? 3000;
  return new S3Client({
    region: opts.region ?? (local ? 'us-east-1' : undefined),
    endpoint: opts.endpoint,
    forcePathStyle: local,
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
    // One retry: a viewer waits at most two attempts, well inside the function's 10 s.
    maxAttempts: 2,
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(timeout, 1000), requestTimeout: timeout },
  });
}

interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

function classify(err: unknown): 'absent' | RecordingStorageFailure {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  // A missing key: NoSuchKey (404) where the reader may list, AccessDenied (403) where it may only get (in AWS
  // the origin role has s3:GetObject alone, so S3 does not say whether the key exists).
  if (e.name === 'NoSuchBucket') return 'failed';
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return 'absent';
  if (status === 403 && (e.name === 'AccessDenied' || e.name === 'Forbidden')) return 'absent';
  if (status !== undefined && status >= 500) return 'unavailable';
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'AbortError') return 'unavailable';
  if (e.code && NETWORK_CODES.has(e.code)) return 'unavailable';
  if (status === undefined) return 'unavailable';
  return 'failed';
}

async function readCapped(body: AsyncIterable<Uint8Array>, maxBytes: number, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) throw new RecordingStorageError('too-large', `object ${key} exceeds ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, size);
}

/** RecordingObjectSource on an S3 bucket (or the local S3-compatible server). */
export function s3RecordingObjects(opts: S3RecordingObjectsOptions): RecordingObjectSource {
  const client = opts.client ?? createRecordingsS3Client(opts);
  return {
    async get(key, { maxBytes }) {
      let res: GetObjectCommandOutput;
      try {
        res = await client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key }));
      } catch (err) {
        const kind = classify(err);
        if (kind === 'absent') return undefined;
        throw new RecordingStorageError(kind, `GetObject ${key} failed: ${(err as Error)?.name ?? 'error'}`, { cause: err });
      }
      const body = res.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
      if (!body) return { body: Buffer.alloc(0), ...(res.CacheControl ? { cacheControl: res.CacheControl } : {}) };
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        body.destroy?.();
        throw new RecordingStorageError('too-large', `object ${key} is ${res.ContentLength} bytes, over ${maxBytes}`);
      }
      let bytes: Buffer;
      try {
        bytes = await readCapped(body, maxBytes, key);
      } catch (err) {
        body.destroy?.();
        if (err instanceof RecordingStorageError) throw err;
        throw new RecordingStorageError('unavailable', `reading ${key} failed`, { cause: err });
      }
      return { body: bytes, ...(res.CacheControl ? { cacheControl: res.CacheControl } : {}) };
    },
  };
}
