import { createLambdaOrigin } from './build';

/**
 * The origin Lambda behind its function URL (AWS_IAM auth, CloudFront OAC). Built once per execution
 * environment from process.env (see build.ts), so a warm function keeps its route cache, segment cache and
 * keep-alive sockets. Responses are buffered (no response streaming inside a VPC); metrics are flushed after
 * each invocation.
 */
export const handler = createLambdaOrigin();
