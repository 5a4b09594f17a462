import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestTable, type TestTable } from '../../support/dynamo';
import { makeRoute, startFakeTask, type FakeTask } from './fake-task';

/**
 * handler.ts as Lambda loads it: built from the environment at import, over the real DynamoDB adapter
 * (against dynalite). A smoke test of the wiring; the full pipeline end-to-end is elsewhere.
 */

const ID = 'HandlerTest1';

function event(method: string, rawPath: string): LambdaFunctionURLEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { host: 'abc.lambda-url.eu-west-1.on.aws' },
    isBase64Encoded: false,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
  };
}

let table: TestTable;
let task: FakeTask;
let handler: (e: LambdaFunctionURLEvent) => Promise<LambdaFunctionURLResult>;
const saved = { ...process.env };

beforeAll(async () => {
  table = await startTestTable();
  task = await startFakeTask();
  await table.store.putRoute(makeRoute(ID, task.port));
  task.files.set(`/${ID}/k3j9x0a1b2_1.ts`, Buffer.from([0, 1, 2, 253, 254, 255]));
  Object.assign(process.env, {
    KEYFRAME_TABLE: table.tableName,
    KEYFRAME_DYNAMODB_ENDPOINT: table.dynamo.endpoint,
    // The fake task listens on loopback, on a port the OS picks (the upstream guard's AWS default is 8080 in RFC 1918).
    KEYFRAME_UPSTREAM_CIDRS: '127.0.0.0/8',
    KEYFRAME_UPSTREAM_PORTS: '*',
    KEYFRAME_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_DEV: 'false',
  });
  vi.resetModules();
  ({ handler } = await import('../../../functions/origin/handler'));
});

afterAll(async () => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  await task?.close();
  await table?.close();
});

describe('origin handler', () => {
  it('answers a segment as base64 and emits EMF metrics once per invocation', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let res: LambdaFunctionURLResult;
    try {
      res = await handler(event('GET', `/${ID}/k3j9x0a1b2_1.ts`));
    } finally {
      spy.mockRestore();
    }
    expect(res).toMatchObject({
      statusCode: 200,
      isBase64Encoded: true,
      body: Buffer.from([0, 1, 2, 253, 254, 255]).toString('base64'),
      headers: { 'Content-Type': 'video/mp2t', 'Cache-Control': 'public, max-age=1209600, immutable' },
    });
    const emf = lines
      .map((l) => l.trim())
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l));
    expect(emf).toHaveLength(1);
    const directive = emf[0]._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('Keyframe');
    expect(directive.Dimensions).toEqual([['service']]);
    expect(emf[0].service).toBe('origin');
    expect(directive.Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(['OriginLatency', 'OriginRequests']);
    expect(emf[0].OriginRequests).toBe(1);
  });

  it('answers 404 for an unknown playback ID and 400 for a bad path', async () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await handler(event('GET', '/Unknown12345/index.m3u8'))).toMatchObject({ statusCode: 404, isBase64Encoded: false });
      expect(await handler(event('GET', `/${ID}/../x`))).toMatchObject({ statusCode: 400 });
    } finally {
      spy.mockRestore();
    }
  });
});
