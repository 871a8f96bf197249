import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { collect, parsePairs } from '../input/durations.js';
import { readJsonPayload } from '../input/read-input.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { CLI_SOURCE } from './call.js';
import { action, examples } from './command-kit.js';

/** Dot-separated words, no wildcards: a concrete topic. */
const TOPIC = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

interface PublishOpts {
  data?: string;
  header?: string[];
  source: string;
}

export function registerPublishCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('publish')
      .summary('publish an event')
      .description('publish an event (confirmed by RabbitMQ; UNROUTABLE, exit 1, when no group subscribes to it)')
      .argument('<topic>', 'event topic, e.g. orders.created')
      .argument('[payload]', 'event payload as JSON (default {})')
      .option('-d, --data <json|@file|->', 'the payload: JSON, @file.json, or - for stdin')
      .option('-H, --header <name=value>', 'extra header (repeatable)', collect)
      .option('--source <name>', 'publishing service name (header x-source)', CLI_SOURCE)
      .action(action<PublishOpts>(io, publishEvent)),
    [
      `switchyard publish orders.created '{"orderId":"o-1"}'`,
      'switchyard publish payments.settled -d @settled.json --source payments',
    ],
  );
}

async function publishEvent(ctx: CommandContext, [topic, inline]: string[], opts: PublishOpts): Promise<void> {
  if (!TOPIC.test(topic!)) {
    throw new UsageError(`topic must be dot-separated words without wildcards, got ${JSON.stringify(topic)}`);
  }
  const payload = await readJsonPayload(ctx.io, inline, opts.data);
  const headers = parsePairs(opts.header ?? [], '--header');
  const transport = await ctx.transport();
  const receipt = await ctx.step(`publishing ${topic}`, () =>
    transport.publish(topic!, payload, { headers, source: opts.source }),
  );
  if (ctx.json) ctx.outJson({ topic, messageId: receipt.messageId });
  else ctx.out(`published ${topic} (message id ${receipt.messageId})`);
}
