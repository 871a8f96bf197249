#!/usr/bin/env node
// Runs the CLI from its TypeScript sources, for development in this repository:
//   node cli/bin/switchyard.js routes list
// Packages resolve to their src/ (the "source" export condition) through tsx, so no build
// is needed and nothing stale is run. The installed binary is dist/main.js (npm run build).
import { register } from 'node:module';

// Register the condition first: hooks registered later (tsx's) run before it and pass it on.
register(
  `data:text/javascript,${encodeURIComponent(
    "export async function resolve(specifier, context, next) { return next(specifier, { ...context, conditions: [...context.conditions, 'source'] }); }",
  )}`,
);
const { register: registerTsx } = await import('tsx/esm/api');
registerTsx();
await import('../src/main.ts');
