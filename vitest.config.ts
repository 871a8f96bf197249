import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources, not a stale dist/.
    alias: {
      '@switchyard/broker': src('broker'),
      '@switchyard/sdk': src('sdk'),
      '@switchyard/auth': src('auth'),
      '@switchyard/gateway': src('gateway'),
      '@switchyard/cli': src('cli'),
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/harness/global-setup.ts'],
    pool: 'forks',
    // Two cores: integration files that start processes and servers interfere when too many run at once.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
