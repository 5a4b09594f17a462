#!/usr/bin/env node
// `npx keyframe ...`: runs the TypeScript CLI through tsx, so there is no build step.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../cli/main.ts');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const usage =
    err && (err.name === 'UsageError' || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE');
  process.stderr.write(`keyframe: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = usage ? 2 : 1;
}
