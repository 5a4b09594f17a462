import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real ffmpeg, ingest and DynamoDB-compatible servers; two cores.
    maxWorkers: 2,
    fileParallelism: true,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', KEYFRAME_LOG_LEVEL: 'SILENT' },
  },
});
