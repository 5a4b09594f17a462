/**
 * Import boundaries (docs/architecture.md, "Direction of imports"). `npm run check` runs this; a wrong-way
 * import or a cycle fails it.
 */
const PARTS = '(functions|ingest|infra|local|cli|player)';
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make modules impossible to load or test alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-part',
      severity: 'error',
      comment: 'core/ is what every part imports; it imports no part.',
      from: { path: '^core/' },
      to: { path: `^(${PARTS.slice(1, -1)}|bench|test)/` },
    },
    {
      name: 'parts-never-import-functions',
      severity: 'error',
      comment: 'functions/ holds only the Lambda entry points and their own logic: infra bundles them and the local runtime loads them by path.',
      from: { path: '^(ingest|infra|local|cli|player)/' },
      to: { path: '^functions/' },
    },
    {
      name: 'functions-import-only-core',
      severity: 'error',
      comment: 'A Lambda bundle holds its own code and core/, nothing of the ingest, infra, local stack, CLI or player.',
      from: { path: '^functions/' },
      to: { path: '^(ingest|infra|local|cli|player|bench|test)/' },
    },
    {
      name: 'ingest-imports-only-core',
      severity: 'error',
      comment: 'The container image copies ingest/ and core/ only (ingest/Dockerfile).',
      from: { path: '^ingest/' },
      to: { path: '^(functions|infra|local|cli|player|bench|test)/' },
    },
    {
      name: 'infra-imports-core-and-the-player-build',
      severity: 'error',
      comment: 'CDK code: core/ for contracts, and the player build step that synth runs.',
      from: { path: '^infra/' },
      to: { path: '^(functions|ingest|local|cli|bench|test)/|^player/src/' },
    },
    {
      name: 'player-page-is-self-contained',
      severity: 'error',
      comment: 'The browser bundle (player/src) imports only itself and its npm packages.',
      from: { path: '^player/src/' },
      to: { path: '^(core|functions|ingest|infra|local|cli|player/(?!src/))' },
    },
    {
      name: 'cli-not-from-ingest-or-functions',
      severity: 'error',
      comment: 'The CLI talks to the table and the stack outputs; it never runs the ingest.',
      from: { path: '^cli/' },
      to: { path: '^(functions|ingest|player)/' },
    },
    {
      name: 'production-never-imports-tests-or-benchmarks',
      severity: 'error',
      from: { path: `^${PARTS}/|^core/` },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
    exclude: { path: '(^|/)(node_modules|cdk\\.out|dist)/' },
  },
};
