/**
 * The Lambda functions as deployable units: each one's entry file (bundled by infra, loaded by the local
 * Lambda runtime in local/lambda-runtime.ts, so neither imports functions/) and the contract its entry module
 * exports beside `handler`: a factory that builds the handler from an environment written with the
 * function's settings schema (core/settings/).
 */
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import type { MetricSink } from './metrics';
import type { Env } from './settings/schema';

export const LAMBDA_ENTRIES = {
  origin: 'functions/origin/handler.ts',
  taskEvents: 'functions/task-events/handler.ts',
} as const;

export type LambdaName = keyof typeof LAMBDA_ENTRIES;

/** Injected where the runtime, not the code, decides: locally, metrics go to memory instead of stdout. */
export interface LambdaDeps {
  readonly metrics?: MetricSink;
}

export type FunctionUrlHandler = (event: LambdaFunctionURLEvent) => Promise<LambdaFunctionURLResult>;

/** The outcome the task-events function returns for one ECS task state change. */
export interface TaskEventResult {
  readonly result: 'applied' | 'stale' | 'ignored' | string;
  readonly taskArn?: string;
  readonly status?: string;
  readonly routesPurged: number;
}

export type TaskEventsFunction = (event: unknown) => Promise<TaskEventResult>;

/** What each entry module exports, by function. */
export interface LambdaModules {
  origin: { createHandler(env: Env, deps?: LambdaDeps): FunctionUrlHandler };
  taskEvents: { createHandler(env: Env, deps?: LambdaDeps): TaskEventsFunction };
}
