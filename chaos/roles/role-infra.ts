/**
 * What every chaos role shares: the infrastructure from the SWITCHYARD_* variables the
 * runner sets (private etcd and RabbitMQ, no schemas, auth off), a logger on stderr
 * (stdout carries the runner's protocol lines), and the READY line.
 */
import { createInfrastructure, type Infrastructure, installShutdownHandlers, type Service } from '@switchyard/sdk';
import { pino } from 'pino';

export const logger = pino({ level: process.env.CHAOS_LOG_LEVEL ?? 'warn' }, pino.destination(2));

export function roleInfrastructure(): Promise<Infrastructure> {
  return createInfrastructure({ logger, auth: false });
}

/** One protocol line to the runner (chaos/child.ts parses them). */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Close gracefully on SIGTERM (the runner's clean stop); SIGKILL needs no help. */
export function serveUntilStopped(
  service: Service,
  infra: Infrastructure,
  extra: { close(): Promise<void> }[] = [],
): void {
  installShutdownHandlers([service, ...extra, infra], { logger, timeoutMs: 10_000 });
}
