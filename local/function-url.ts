import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Callback, Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { isTextContentType } from '../core/content-type';
import { FUNCTION_URL_MAX_PAYLOAD_BYTES } from '../core/limits';

/**
 * A local stand-in for a Lambda function URL: a plain HTTP server that turns each request into a
 * payload-format-2.0 `LambdaFunctionURLEvent`, calls the handler, and writes its `LambdaFunctionURLResult`
 * back the way the service does (structured result, bare string or object, base64 bodies, cookies).
 * Works with any function-URL handler, async or callback style.
 */

export type FunctionUrlHandler = (
  event: LambdaFunctionURLEvent,
  context: Context,
  callback: Callback<LambdaFunctionURLResult<unknown>>,
) => void | Promise<LambdaFunctionURLResult<unknown>>;

export interface FunctionUrlServerOptions {
  handler: FunctionUrlHandler;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Name reported in the fake Lambda context. */
  functionName?: string;
  /** Called when the handler throws or rejects; the client gets 502 as from a real function URL. */
  onError?: (err: unknown) => void;
}

export interface FunctionUrlServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A function URL's request and response payload limit (buffered). */
const MAX_PAYLOAD_BYTES = FUNCTION_URL_MAX_PAYLOAD_BYTES;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as in requestContext.time. */
function requestTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Builds the event for one request. Exported for tests and for callers that invoke handlers directly. */
export function toFunctionUrlEvent(req: http.IncomingMessage, body: Buffer): LambdaFunctionURLEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);

  // Headers lowercased, repeated ones joined by commas; cookies move to `cookies` as the service does.
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === 'cookie') {
      cookies = [
        ...(cookies ?? []),
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      ];
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [k, v] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[k] = k in queryStringParameters ? `${queryStringParameters[k]},${v}` : v;
    }
  }

  const host = headers.host ?? 'localhost';
  const hostname = host.replace(/:\d+$/, '');
  const now = new Date();
  const method = (req.method ?? 'GET').toUpperCase();
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const text = isTextContentType(headers['content-type']);

  const event: LambdaFunctionURLEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: hostname,
      domainPrefix: hostname.split('.')[0],
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !text,
  };
  if (cookies) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (body.length > 0) event.body = text ? body.toString('utf8') : body.toString('base64');
  return event;
}

interface WireResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/**
 * The service's reading of a result: a structured result (it has `statusCode`) is used as is; anything else
 * is a 200 `application/json` whose body is the string itself or the JSON of the value.
 */
export function fromFunctionUrlResult(result: unknown): WireResponse {
  if (result !== null && typeof result === 'object' && 'statusCode' in result) {
    const r = result as Exclude<LambdaFunctionURLResult, string>;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    const raw = r.body ?? '';
    const body = r.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    return { statusCode: r.statusCode ?? 200, headers, body };
  }
  const body = Buffer.from(typeof result === 'string' ? result : JSON.stringify(result ?? null), 'utf8');
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body };
}

function fakeContext(functionName: string, requestId: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function invoke(handler: FunctionUrlHandler, event: LambdaFunctionURLEvent, context: Context): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback: Callback<LambdaFunctionURLResult<unknown>> = (err, result) => (err ? reject(err) : resolve(result));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolve, reject);
      }
    } catch (err) {
      reject(err);
    }
  });
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const INTERNAL_ERROR: WireResponse = {
  statusCode: 502,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from('{"Message":"Internal Server Error"}'),
};

function send(res: http.ServerResponse, wire: WireResponse): void {
  res.writeHead(wire.statusCode, { ...wire.headers, 'content-length': String(wire.body.length) });
  res.end(wire.body);
}

export async function startFunctionUrlServer(opts: FunctionUrlServerOptions): Promise<FunctionUrlServer> {
  const functionName = opts.functionName ?? 'local-function';
  const onError = opts.onError ?? ((err: unknown) => console.error('function URL handler failed:', err));

  const server = http.createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === undefined) {
        send(res, { statusCode: 413, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"Message":"Request Too Long"}') });
        return;
      }
      const event = toFunctionUrlEvent(req, body);
      let wire: WireResponse;
      try {
        const result = await invoke(opts.handler, event, fakeContext(functionName, event.requestContext.requestId));
        // The service measures the serialized result (base64 body included) against the payload limit.
        const payloadBytes = Buffer.byteLength(typeof result === 'string' ? result : JSON.stringify(result ?? null));
        if (payloadBytes > MAX_PAYLOAD_BYTES) {
          throw new Error(`response payload of ${payloadBytes} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte function URL limit`);
        }
        wire = fromFunctionUrlResult(result);
      } catch (err) {
        onError(err);
        wire = INTERNAL_ERROR;
      }
      send(res, wire);
    } catch (err) {
      onError(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  // A wildcard bind is reachable on loopback; name that in the URL.
  const bound = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const hostForUrl = bound.includes(':') ? `[${bound}]` : bound;

  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
