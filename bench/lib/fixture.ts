import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const CPU_TIMEOUT_MS = 5_000;

/**
 * A server process for a benchmark, started from bench/fixtures/. It prints `READY` once
 * serving, and `CPU <µs>` (its user+system CPU time so far) on each SIGUSR2.
 */
export interface Fixture {
  readonly pid: number;
  /** CPU time (user + system, µs) the process has used so far. */
  cpuMicros(): Promise<number>;
  /** SIGTERM, then wait for exit (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

/** With BENCH_PROFILE_SERVER=1 each fixture writes a CPU profile here when it exits. */
export const PROFILE_DIR = join(tmpdir(), 'switchyard-bench-profiles');

export async function startFixture(name: string, env: Record<string, string>): Promise<Fixture> {
  const file = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const profile = process.env.BENCH_PROFILE_SERVER === '1' ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
  const child = spawn(process.execPath, [...profile, '--conditions=source', '--import', 'tsx', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cpuWaiters: Array<(micros: number) => void> = [];
  let onReady: () => void = () => {};
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'READY') onReady();
    else if (line.startsWith('CPU ')) cpuWaiters.shift()?.(Number(line.slice(4)));
    else console.log(`[${name}] ${line}`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fixture ${name} not READY after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`fixture ${name} exited before READY (code ${code}, signal ${signal})`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid!,
    cpuMicros() {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fixture ${name} did not report CPU`)), CPU_TIMEOUT_MS);
        cpuWaiters.push((micros) => {
          clearTimeout(timer);
          resolve(micros);
        });
        child.kill('SIGUSR2');
      });
    },
    stop() {
      stopped ??= stopChild(child);
      return stopped;
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
