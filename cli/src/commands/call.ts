import { createInterface } from 'node:readline';
import type { BidiCall } from '@switchyard/broker';
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
  timeout?: string;
  header?: string[];
  caller?: string;
  stream?: boolean;
  bidi?: boolean;
  clientStream?: boolean;
}

const DEFAULT_TIMEOUT = '30s';

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
      .option(
        '--timeout <duration>',
        'deadline of the call: 500ms, 5s, 2m (default 30s; none for --bidi and --client-stream)',
      )
      .option('-H, --header <name=value>', 'extra header (repeatable)', collect)
      .option('--caller <id>', 'identity the call is made on behalf of (header x-caller)')
      .option('--stream', 'call a server-streaming method; prints one JSON line per item')
      .option(
        '--bidi',
        'open a bidi stream: each stdin line is one JSON item, stdin EOF ends the input; prints one JSON line per reply item',
      )
      .option(
        '--client-stream',
        'call a client-streaming method: each stdin line is one JSON item; prints the one reply',
      )
      .action(action<CallOpts>(io, callMethod)),
    [
      `switchyard call orders.get '{"orderId":"o-1"}'`,
      'switchyard call orders.create -d @order.json --timeout 5s',
      `echo '{"sku":"A-1","qty":2}' | switchyard call inventory.reserve -d -`,
      `switchyard call reports.export '{}' --stream`,
      `printf '{"topics":["orders.*"]}\\n' | switchyard call notifications.feed --bidi`,
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
  const streamed = [opts.stream, opts.bidi, opts.clientStream].filter(Boolean).length;
  if (streamed > 1) throw new UsageError('give at most one of --stream, --bidi and --client-stream');
  const items = opts.bidi || opts.clientStream;
  if (items && (inline !== undefined || opts.data !== undefined))
    throw new UsageError('--bidi and --client-stream read their items from stdin, one JSON value a line: no payload');
  const payload = items ? undefined : await readJsonPayload(ctx.io, inline, opts.data);
  const timeoutMs =
    opts.timeout === undefined && items ? undefined : parseDurationMs(opts.timeout ?? DEFAULT_TIMEOUT, '--timeout');
  const headers: Record<string, string> = { 'x-source': CLI_SOURCE, ...parsePairs(opts.header ?? [], '--header') };
  if (opts.caller !== undefined) headers['x-caller'] = opts.caller;
  const transport = await ctx.transport();
  const callOptions = { timeoutMs, headers, signal: ctx.io.signal };
  try {
    if (items) {
      await streamItems(ctx, transport.bidi(service, method, { ...callOptions, kind: opts.bidi ? 'bidi' : 'client' }));
      return;
    }
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

/**
 * Stdin lines go out as items while the replies are printed as they come: both at once,
 * so a service that answers each item is answered line by line, and `send()` waiting for
 * the service's credit holds the reading of stdin back.
 */
async function streamItems(ctx: CommandContext, call: BidiCall): Promise<void> {
  const printing = (async () => {
    for await (const item of call) ctx.out(JSON.stringify(item));
  })();
  // Once the stream is over (the service ended it, or it failed) stdin is not read further.
  let over = false;
  printing.then(
    () => {
      over = true;
    },
    () => {
      over = true;
    },
  );
  let n = 0;
  for await (const line of createInterface({ input: ctx.io.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (over) break;
    if (line.trim() === '') continue;
    n++;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch (err) {
      call.cancel('the CLI read a line that is not JSON');
      await printing.catch(() => {});
      throw new UsageError(`stdin line ${n} is not JSON: ${(err as Error).message}`);
    }
    try {
      await call.send(item);
    } catch (err) {
      if (!over) await printing.catch(() => {}); // a send fails because the stream did
      if (over) break; // the stream's own outcome (below) is what to show
      throw err;
    }
  }
  if (!over) await call.end();
  await printing;
}
