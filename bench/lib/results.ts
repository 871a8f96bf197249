import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

/** Where the figures came from, so a result file read months later still makes sense. */
export function environment(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model,
  };
}

/** Write bench/results/<suite>.json and return its path. */
export function writeResults(suite: string, data: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = `${resultsDir}${suite}.json`;
  const body = { suite, date: new Date().toISOString(), environment: environment(), ...data };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}
