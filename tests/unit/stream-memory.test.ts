/**
 * A long stream costs memory by its window, never by the items it has carried: 90,000
 * items through a bidi and a server stream on the memory transport must not grow the
 * heap (after a collection) by more than a few MB. Before the fix of the servers' per-item
 * race (a reaction added to one shared promise for every item) the same run grew by about
 * 30 MB each. Measured in a child process with `--expose-gc`: a count of bytes, not a time.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('bidi and server streams keep a flat heap over 90,000 items', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--conditions=source', '--import', 'tsx', 'tests/fixtures/stream-heap.ts'],
    { timeout: 60_000 },
  );
  const growth = JSON.parse(stdout) as { bidi: number; server: number };
  expect(growth.bidi).toBeLessThan(8 * 1024 * 1024);
  expect(growth.server).toBeLessThan(8 * 1024 * 1024);
}, 90_000);
