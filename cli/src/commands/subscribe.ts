import { randomBytes } from 'node:crypto';
import type { IncomingEvent, QueueType } from '@switchyard/broker';
import type { Command } from 'commander';
import { deleteQueues, requireAmqp } from '../connect/amqp.js';
import type { CommandContext } from '../context.js';
import { parsePositiveInt } from '../input/durations.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

interface SubscribeOpts {
  group?: string;
  queueType?: string;
  count?: string;
}

export function registerSubscribeCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('subscribe')
      .summary('print events as they arrive')
      .description(
        'print events matching a topic pattern until Ctrl-C (by default on a temporary queue, deleted on exit)',
      )
      .argument('<pattern>', 'topic pattern: * matches one word, # zero or more (orders.*, #)')
      .option(
        '--group <name>',
        'join this subscription group instead (a durable queue shared with its other members: they will miss the events this command takes)',
      )
      .option('--queue-type <type>', 'queue type for --group: quorum (default, as services use) or classic')
      .option('--count <n>', 'exit after this many events')
      .action(action<SubscribeOpts>(io, subscribe)),
    [
      `switchyard subscribe 'orders.*'`,
      `switchyard subscribe '#' --json | jq .payload`,
      'switchyard subscribe payments.settled --count 1   # wait for one event',
    ],
  );
}

/** How long a temporary group's queues outlive a subscriber that died without cleaning up. */
export const TEMPORARY_QUEUE_EXPIRES_MS = 10_000;

async function subscribe(ctx: CommandContext, [pattern]: string[], opts: SubscribeOpts): Promise<void> {
  const count = opts.count === undefined ? undefined : parsePositiveInt(opts.count, '--count');
  const temporary = opts.group === undefined;
  if (temporary && opts.queueType !== undefined) throw new UsageError('--queue-type applies only with --group');
  const queueType = (opts.queueType ?? (temporary ? 'classic' : 'quorum')) as QueueType;
  if (queueType !== 'classic' && queueType !== 'quorum') {
    throw new UsageError(`--queue-type must be quorum or classic, got ${JSON.stringify(opts.queueType)}`);
  }
  // A classic queue for a temporary group: quorum queues are replicated, heavy, and for keeps.
  const group = opts.group ?? `cli-${randomBytes(4).toString('hex')}`;
  const url = requireAmqp(ctx.settings);
  const transport = await ctx.transport();

  let seen = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onEvent = (event: IncomingEvent) => {
    if (count !== undefined && seen >= count) return;
    seen++;
    ctx.out(ctx.json ? JSON.stringify(eventJson(event)) : eventLine(event));
    if (count !== undefined && seen >= count) finish();
  };
  const subscription = await ctx.step(`subscribing to ${pattern}`, () =>
    transport.subscribe(pattern!, onEvent, {
      group,
      queueType,
      retry: { attempts: 1 },
      // A killed command (SIGKILL, a lost terminal) never reaches the cleanup below: the
      // broker deletes the temporary queues itself once they have gone unused this long.
      ...(temporary ? { expiresMs: TEMPORARY_QUEUE_EXPIRES_MS } : {}),
    }),
  );
  if (temporary) {
    // Runs after the subscription closes (deferred later, so closed first).
    const queues = [subscription.deadLetterQueue.replace(/\.dlq$/, ''), subscription.deadLetterQueue];
    ctx.defer(() => deleteQueues(url, queues, ctx.settings.amqpTls));
  }
  ctx.defer(() => subscription.close());
  ctx.note(
    `listening for ${pattern} as ${temporary ? 'temporary ' : ''}group ${group}${count ? ` (until ${count} event${count === 1 ? '' : 's'})` : ''}; Ctrl-C to stop`,
  );
  const signal = ctx.io.signal;
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([done, stopped]);
}

function eventJson(e: IncomingEvent) {
  return {
    id: e.id,
    topic: e.topic,
    payload: e.payload,
    headers: e.headers,
    attempt: e.attempt,
    redelivered: e.redelivered,
    timestamp: e.timestamp,
  };
}

function eventLine(e: IncomingEvent): string {
  const at = new Date(e.timestamp ?? Date.now()).toISOString();
  const from = e.headers['x-source'] ? ` from ${e.headers['x-source']}` : '';
  return `${at}  ${e.topic}${from}  ${JSON.stringify(e.payload)}`;
}
