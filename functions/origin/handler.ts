import type { LambdaModules } from '../../core/lambdas';
import { createOriginFromEnv } from './build';
import type { OriginFunctionUrlHandler } from './lambda';

/** Builds the origin's function-URL handler from an environment (the local Lambda runtime calls this). */
export const createHandler: LambdaModules['origin']['createHandler'] = (env, deps = {}) =>
  createOriginFromEnv({ env, ...(deps.metrics ? { metrics: deps.metrics } : {}) }).handler;

let built: OriginFunctionUrlHandler | undefined;

/**
 * The origin Lambda behind its function URL (AWS_IAM auth, CloudFront OAC). Built once per execution
 * environment from its environment (see build.ts), so a warm function keeps its route cache, segment cache and
 * keep-alive sockets. Responses are buffered (no response streaming inside a VPC); metrics are flushed after
 * each invocation.
 */
export const handler: OriginFunctionUrlHandler = (event, context, callback) => (built ??= createOriginFromEnv().handler)(event, context, callback);
