import type { ConnectionOptions } from 'node:tls';
import { type AmqpTlsOptions, AmqpTransport, SwitchyardError } from '@switchyard/broker';
import amqplib from 'amqplib';
import { UnreachableError, UsageError } from '../output/cli-errors.js';
import { type CliSettings, redactUrl } from './settings.js';

/** How long a command waits for RabbitMQ before giving up with exit 3. */
export const CLI_AMQP_CONNECT_TIMEOUT_MS = 5_000;

export function requireAmqp(settings: CliSettings): string {
  if (settings.amqpUrl === undefined) {
    throw new UsageError('no RabbitMQ configured: pass --amqp amqp://user:pass@host:5672 or set SWITCHYARD_AMQP');
  }
  return settings.amqpUrl;
}

/** A started transport; RabbitMQ not answering is UnreachableError (exit 3). */
export async function openTransport(settings: CliSettings): Promise<AmqpTransport> {
  const url = requireAmqp(settings);
  const transport = new AmqpTransport({
    url,
    namespace: settings.namespace,
    connectTimeoutMs: CLI_AMQP_CONNECT_TIMEOUT_MS,
    connectionName: `switchyard-cli:${process.pid}`,
    ...(settings.amqpTls ? { tls: settings.amqpTls } : {}),
  });
  try {
    await transport.start();
  } catch (err) {
    await transport.close().catch(() => {});
    if (err instanceof SwitchyardError && err.code === 'UNAVAILABLE') {
      throw new UnreachableError(`RabbitMQ at ${redactUrl(url)} is unreachable: ${err.message}`, {
        cause: err,
        details: { server: 'rabbitmq', endpoint: redactUrl(url) },
      });
    }
    throw err;
  }
  return transport;
}

/**
 * Delete queues the CLI declared for itself (a temporary subscription's queue and its
 * dead-letter queue). The transport has no call for this: its queues are meant to
 * outlive a process, which is exactly what a temporary subscription must not do.
 */
export async function deleteQueues(
  url: string,
  queues: readonly string[],
  tls?: Readonly<AmqpTlsOptions>,
): Promise<void> {
  const conn = await amqplib.connect(url, {
    ...(tls as ConnectionOptions | undefined),
    timeout: CLI_AMQP_CONNECT_TIMEOUT_MS,
  });
  try {
    const ch = await conn.createChannel();
    for (const q of queues) await ch.deleteQueue(q);
    await ch.close();
  } finally {
    await conn.close();
  }
}
