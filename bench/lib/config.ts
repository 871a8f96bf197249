import { randomBytes } from 'node:crypto';

/** RabbitMQ the benchmarks run against: loopback by default. */
export function benchAmqpUrl(): string {
  return process.env.SWITCHYARD_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';
}

/** A namespace of its own per suite run, so a bench never touches anyone's queues. */
export function benchNamespace(suite: string): string {
  return `bench-${suite}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A positive integer from the environment, or the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}
