/**
 * `npm run bench -- [suite...]`: run the named suites (all when none is named), print
 * their tables and write bench/results/<suite>.json. Exit 1 when a suite fails to run;
 * a missed target is reported, not an error (benchmarks are evidence, not tests).
 */
import { runAuth } from './auth.js';
import { runBidi } from './bidi.js';
import { runCache } from './cache.js';
import { runEvents } from './events.js';
import { runGateway } from './gateway.js';
import { writeResults } from './lib/results.js';
import type { SuiteReport } from './lib/suite.js';
import { runRpc } from './rpc.js';
import { runSdk } from './sdk.js';
import { runStore } from './store.js';
import { runStream } from './stream.js';
import { runSync } from './sync.js';

const SUITES: Record<string, () => Promise<SuiteReport>> = {
  rpc: runRpc,
  events: runEvents,
  sdk: runSdk,
  stream: runStream,
  bidi: runBidi,
  gateway: runGateway,
  auth: runAuth,
  store: runStore,
  cache: runCache,
  sync: runSync,
};

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(a in SUITES));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}

let failed = false;
for (const name of asked.length > 0 ? asked : Object.keys(SUITES)) {
  console.log(`\n=== bench ${name} ===`);
  try {
    const report = await runSuite(name);
    const path = writeResults(name, report);
    console.log(`\n${name}: ${report.met ? 'all targets met' : 'TARGET MISSED'}; results in ${path}`);
  } catch (err) {
    failed = true;
    console.error(`bench ${name} failed:`, err);
  }
}
process.exit(failed ? 1 : 0);

function runSuite(name: string): Promise<SuiteReport> {
  return SUITES[name]!();
}
