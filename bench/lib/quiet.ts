/**
 * Imported first by the benchmarks: the in-process parts (the local stack's origin, the AWS SDK) stay quiet
 * so stdout carries only the report. Ingest processes get the same through their environment.
 */
process.env.KEYFRAME_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
export {};
