import { parseCallTarget } from '@switchyard/sdk';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { collect, parseDurationMs, parsePairs } from '../input/durations.js';
import { readJsonPayload } from '../input/read-input.js';
import { asSwitchyardError, markReported, UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

/** Sent as `x-source`, so a service's logs say the call came from the CLI. */
export const CLI_SOURCE = 'switchyard-cli';

interface CallOpts {
  data?: string;
  timeout: string;
  header?: string[];
  caller?: string;
  stream?: boolean;
}

export function registerCallCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('call')
      .summary('call a method and print the reply')
      .description(
        'call a method through RabbitMQ and print the reply; an error reply prints {code, message, details} on stderr and exits 1',
      )
      .argument('<target>', 'service.method')
      .argument('[payload]', 'request payload as JSON (default {})')
      .option('-d, --data <json|@file|->', 'the payload: JSON, @file.json, or - for stdin')
      .option('--timeout <duration>', 'deadline of the call: 500ms, 5s, 2m', '30s')
      .option('-H, --header <name=value>', 'extra header (repeatable)', collect)
      .option('--caller <id>', 'identity the call is made on behalf of (header x-caller)')
      .option('--stream', 'call a server-streaming method; prints one JSON line per item')
      .action(action<CallOpts>(io, callMethod)),
    [
      `switchyard call orders.get '{"orderId":"o-1"}'`,
      'switchyard call orders.create -d @order.json --timeout 5s',
      `echo '{"sku":"A-1","qty":2}' | switchyard call inventory.reserve -d -`,
      `switchyard call reports.export '{}' --stream`,
    ],
  );
}

async function callMethod(ctx: CommandContext, [target, inline]: string[], opts: CallOpts): Promise<void> {
  let service: string;
  let method: string;
  try {
    ({ service, method } = parseCallTarget(target));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const payload = await readJsonPayload(ctx.io, inline, opts.data);
  const timeoutMs = parseDurationMs(opts.timeout, '--timeout');
  const headers: Record<string, string> = { 'x-source': CLI_SOURCE, ...parsePairs(opts.header ?? [], '--header') };
  if (opts.caller !== undefined) headers['x-caller'] = opts.caller;
  const transport = await ctx.transport();
  const callOptions = { timeoutMs, headers, signal: ctx.io.signal };
  try {
    if (opts.stream) {
      // No spinner: items arrive on stdout as they come. Ctrl-C cancels the stream itself.
      for await (const item of transport.stream(service, method, payload, callOptions)) {
        ctx.out(JSON.stringify(item));
      }
      return;
    }
    const reply = await ctx.step(`calling ${service}.${method}`, () =>
      transport.call(service, method, payload, callOptions),
    );
    ctx.outJson(reply);
  } catch (err) {
    const e = asSwitchyardError(err);
    const { retryable: _r, ...body } = e.toJSON();
    ctx.io.stderr.write(`${JSON.stringify(body, null, ctx.json ? undefined : 2)}\n`);
    throw markReported(e);
  }
}
