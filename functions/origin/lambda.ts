import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { isTextContentType } from '../../core/content-type';
import type { Origin } from './origin';

/**
 * Function-URL event ↔ origin core. Kept apart from handler.ts (which reads the environment and builds the
 * DynamoDB store at import) so it can be tested and reused without AWS.
 */

/** Callable as a plain Lambda handler `(event, context, callback)`; only the event is used. */
export type OriginFunctionUrlHandler = (event: LambdaFunctionURLEvent, context?: unknown, callback?: unknown) => Promise<LambdaFunctionURLResult>;

export function createFunctionUrlHandler(origin: Origin, opts: { flush?: () => void } = {}): OriginFunctionUrlHandler {
  return async (event) => {
    try {
      const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
      const res = await origin({
        method: event.requestContext.http.method,
        path: `${event.rawPath}${query}`,
        headers: event.headers ?? {},
      });
      const text = res.body.length === 0 || isTextContentType(res.headers['Content-Type']);
      return {
        statusCode: res.statusCode,
        headers: res.headers,
        body: text ? res.body.toString('utf8') : res.body.toString('base64'),
        isBase64Encoded: !text,
      };
    } finally {
      opts.flush?.();
    }
  };
}
