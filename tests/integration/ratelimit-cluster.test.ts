import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ClusterRateLimitStore } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/ratelimit-cluster.ts', import.meta.url));

interface Report {
  workers: { allowed: number; limited: number; failed: number }[];
  allowed: number;
  limited: number;
  failed: number;
}

async function cluster(...args: string[]): Promise<Report> {
  const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', fixture, ...args], {
    cwd: root,
    timeout: 30_000,
  });
  const last = stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as Report;
}

describe('rate limit shared by node cluster workers', () => {
  it('two workers allow `points` requests between them', async () => {
    const points = 7;
    const perWorker = 10;
    const r = await cluster(String(points), String(perWorker));
    console.log(`cluster: ${JSON.stringify(r)}`);
    expect(r.workers).toHaveLength(2);
    expect(r.failed).toBe(0);
    expect(r.allowed).toBe(points);
    expect(r.limited).toBe(2 * perWorker - points);
  });

  it('without the master in the primary, every call times out into the failure mode (never hangs)', async () => {
    const t = performance.now();
    const r = await cluster('7', '3', '--no-master');
    console.log(`cluster without master: ${JSON.stringify(r)} in ${(performance.now() - t).toFixed(0)} ms`);
    expect(r.allowed).toBe(0);
    expect(r.failed).toBe(6);
  });

  it('refuses to be built outside a cluster worker', () => {
    expect(() => new ClusterRateLimitStore()).toThrow(/setupClusterRateLimitMaster/);
  });
});
