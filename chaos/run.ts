/**
 * `npm run chaos`: the whole stack on loopback (private etcd, RabbitMQ and Redis, the
 * gateway and three SDK services as child processes) under a steady mixed load, while
 * one part after another is killed and brought back (chaos/faults.ts). Prints the tables
 * of chaos/report.ts and exits 0 when the goal figures hold, 1 when they do not, 2 when
 * the run itself failed. Bounded: a hard timeout (CHAOS_TIMEOUT_MS, default 240 s) ends
 * it, and every process and temp dir it made is removed on any exit, SIGINT included
 * (CHAOS_KEEP_LOGS=1 keeps the temp dir: each process's log, and every request in ledger.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { killAllNow } from './child.js';
import { FAULTS } from './faults.js';
import { errorsBetween, upstreamErrors } from './gateway-metrics.js';
import { Ledger } from './ledger.js';
import { HttpLoad } from './load.js';
import { ReadinessProbe } from './readiness.js';
import { buildReport, type RunWindow } from './report.js';
import { Stack } from './stack.js';

const TIMEOUT_MS = Number(process.env.CHAOS_TIMEOUT_MS ?? 240_000);
/** HTTP proxy and HTTP→RPC requests per second, each. */
const RATE = Number(process.env.CHAOS_RATE ?? 20);
const EVENT_RATE = Number(process.env.CHAOS_EVENT_RATE ?? 20);
const BASELINE_MS = 10_000;
/** How long a fault's window goes on after the part is back. */
const SETTLE_MS = 10_000;
/** After the load: how long to wait for the last confirms and deliveries. */
const DRAIN_MS = 20_000;
const KEEP_LOGS = process.env.CHAOS_KEEP_LOGS === '1';

const began = Date.now();
const progress = (message: string) => console.error(`[chaos +${((Date.now() - began) / 1000).toFixed(1)}s] ${message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
/** Between steps: once a signal or the hard timeout started the cleanup, the run takes no further step. */
function stillRunning(): void {
  if (closing) throw new Error('stopped');
}

const ledger = new Ledger();
/** The runner's own event-loop delay: a stalled load generator would pass for a slow stack. */
const runnerLag = monitorEventLoopDelay({ resolution: 20 });
const stack = new Stack(ledger, { eventRate: EVENT_RATE, progress });
let closing: Promise<void> | undefined;

/** Stop everything once, then exit; a second call (another signal) waits for the first. */
function finish(code: number): Promise<never> {
  closing ??= (async () => {
    const force = setTimeout(() => {
      killAllNow();
      process.exit(code || 2);
    }, 30_000);
    await stack.close(KEEP_LOGS).catch((err: unknown) => progress(`cleanup: ${String(err)}`));
    if (KEEP_LOGS) progress(`logs kept in ${stack.dir}`);
    clearTimeout(force);
  })();
  return closing.then(() => process.exit(code));
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping everything`);
    void finish(130);
  });
}
const hardStop = setTimeout(() => {
  progress(`hard timeout after ${TIMEOUT_MS} ms: stopping everything`);
  void finish(2);
}, TIMEOUT_MS);

async function run(): Promise<number> {
  await stack.start();
  runnerLag.enable();
  const probe = new ReadinessProbe(stack.adminUrl);
  probe.start();
  const load = new HttpLoad(ledger, { gatewayUrl: stack.gatewayUrl, rate: RATE, timeoutMs: 5_000 });
  load.start();
  stack.ticker!.signal('SIGUSR2');
  progress(`load on: ${RATE}/s HTTP proxy, ${RATE}/s HTTP→RPC, ${EVENT_RATE}/s events`);

  const windows: RunWindow[] = [];
  const t0 = Date.now();
  await sleep(BASELINE_MS);
  windows.push({ name: 'baseline (no fault)', start: t0, end: Date.now(), notes: [] });
  await load.answeredUntil(Date.now());

  for (const fault of FAULTS) {
    const errorsBefore = await upstreamErrors(stack.adminUrl);
    stillRunning();
    const start = Date.now();
    progress(`${fault.name}: injecting`);
    await fault.inject(stack, load);
    await sleep(fault.downMs - (Date.now() - start));
    stillRunning();
    progress(`${fault.name}: restoring`);
    await fault.restore(stack);
    const backAt = Date.now();
    progress(`${fault.name}: back after ${backAt - start} ms`);
    const end = backAt + SETTLE_MS;
    const notes = fault.inUse ? [await fault.inUse(stack, end)] : [];
    await sleep(end - Date.now());
    const absorbed = errorsBetween(errorsBefore, await upstreamErrors(stack.adminUrl));
    if (absorbed) notes.push(`gateway upstream errors: ${absorbed}`);
    windows.push({ name: fault.name, start, end, fault, backAt, notes });
    await load.answeredUntil(end);
  }

  stillRunning();
  stack.ticker!.signal('SIGUSR1');
  await load.stop();
  progress('load off; draining events');
  const drainUntil = Date.now() + DRAIN_MS;
  while (Date.now() < drainUntil && (ledger.pending.size > 0 || ledger.undelivered() > 0)) await sleep(200);
  await sleep(1000); // late duplicates
  probe.stop();

  const report = buildReport(ledger, windows, probe.samples);
  if (KEEP_LOGS) {
    const raw = { windows: windows.map(({ fault: _, ...w }) => w), outcomes: ledger.outcomes, readyz: probe.samples };
    writeFileSync(join(stack.dir, 'ledger.json'), JSON.stringify(raw));
  }
  console.log(`\n${report.text}\n`);
  console.log(`The load generator's event loop stalled at most ${Math.round(runnerLag.max / 1e6)} ms.\n`);
  const failed = report.goals.filter((g) => !g.pass);
  console.log(failed.length === 0 ? 'All goal figures hold.' : `${failed.length} goal figure(s) missed.`);
  return failed.length === 0 ? 0 : 1;
}

run().then(
  (code) => {
    clearTimeout(hardStop);
    return finish(code);
  },
  (err: unknown) => {
    clearTimeout(hardStop);
    if (closing) return closing;
    progress(`the run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return finish(2);
  },
);
