import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * `npm run test:unit`: the fast lane. Pure logic only: no child processes, no browser, no DynamoDB-compatible
 * server, no ffmpeg. Each file here must run in well under a second; the whole lane under 20 s on 2 cores.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: [
      'test/core/hls/**/*.test.ts',
      'test/core/settings.test.ts',
      'test/core/playback-secret.test.ts',
      'test/functions/origin/{caches,config,origin,handler}.test.ts',
      'test/functions/task-events/plan.test.ts',
      'test/ingest/{config,identity,ffmpeg-args,playlist,protection}.test.ts',
      'test/ingest/rtmp/{amf0,chunk,flv,handshake}.test.ts',
      'test/ingest/packager/{codecs,fuzz,packager,playlist,refusals,sequence}.test.ts',
      'test/ingest/thumbnails/avc.test.ts',
      'test/ingest/packager/multivariant.test.ts',
      'test/ingest/recorder/playlist.test.ts',
      'test/infra/config.test.ts',
      'test/player/{watchdog,engines,playlist,recording-logic,ladder-logic}.test.ts',
      'test/security/{config,playback-token,auth-throttle}.test.ts',
      'test/bench/cost-model.test.ts',
      'test/cli/stack-outputs.test.ts',
    ],
  },
});
