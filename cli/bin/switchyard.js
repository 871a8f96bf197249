#!/usr/bin/env node
// The `switchyard` command (npx switchyard, or node_modules/.bin/switchyard).
// In a checkout of the repository (src/ is there) it runs the TypeScript sources through
// tsx with the "source" export condition, so `npm install` is enough: no build step, and
// nothing stale is run. A published package ships dist/ only, and runs that.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const sources = new URL('../src/main.ts', import.meta.url);
if (existsSync(sources)) {
  // Register the condition first: hooks registered later (tsx's) run before it and pass it on.
  register(
    `data:text/javascript,${encodeURIComponent(
      "export async function resolve(specifier, context, next) { return next(specifier, { ...context, conditions: [...context.conditions, 'source'] }); }",
    )}`,
  );
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  await import(sources.href);
} else {
  await import('../dist/main.js');
}
