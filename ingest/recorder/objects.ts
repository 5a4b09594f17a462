import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Where a recording's objects go: S3 in AWS, the local S3-compatible server (local/s3.ts) locally and in tests. */
export interface RecordingObjects {
  put(key: string, body: Buffer | string, contentType: string, cacheControl: string): Promise<void>;
}

export interface S3ClientOptions {
  /** Unset in AWS; `http://127.0.0.1:<port>` for the local server (path-style, its fixed credentials). */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per-request timeout; the recorder retries on its own, so the SDK tries once. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** SDK attempts per call. Default 1 (the recorder's retry loop owns backoff). */
  readonly maxAttempts?: number;
}

/** An S3 client for recordings: local endpoints get path-style addressing and the local server's credentials. */
export function createRecordingS3Client(opts: S3ClientOptions = {}): S3Client {
  const local = opts.endpoint !== undefined;
  const timeout = opts.requestTimeoutMs ?? 10_000;
  return new S3Client({
    region: opts.region ?? (local ? 'us-east-1' : undefined),
    endpoint: opts.endpoint,
    forcePathStyle: local,
    credentials: opts.credentials ?? (local ? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } : undefined),
    maxAttempts: opts.maxAttempts ?? 1,
    // Checksums only where S3 requires them: the local server does not know the newer headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(timeout, 3000), requestTimeout: timeout },
  });
}

/** RecordingObjects on an S3 bucket. */
export function s3RecordingObjects(client: S3Client, bucket: string): RecordingObjects {
  return {
    async put(key, body, contentType, cacheControl) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, CacheControl: cacheControl }));
    },
  };
}

export { RECORDING_POSTER } from '../../core/hls/paths';
export { RECORDING_PLAYLIST, RECORDINGS_PREFIX, recordingPrefix } from '../../core/model';
