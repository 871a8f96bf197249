import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { CliIo } from '../output/io.js';

/**
 * Wrap a command's work: a fresh context from the global options, closed afterwards
 * whatever happens. Errors propagate to `runCli`, which prints them once and picks the
 * exit code.
 */
export function action<Opts>(
  io: CliIo,
  work: (ctx: CommandContext, args: string[], opts: Opts) => Promise<void>,
): (...all: unknown[]) => Promise<void> {
  return async (...all) => {
    const cmd = all[all.length - 1] as Command;
    const ctx = new CommandContext(io, cmd.optsWithGlobals());
    try {
      await work(ctx, cmd.processedArgs as string[], cmd.opts() as Opts);
    } finally {
      await ctx.close();
    }
  };
}

/** `--help` ends with examples: the fastest way to learn a command. */
export function examples(cmd: Command, lines: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => (l === '' ? '' : `  ${l}`)).join('\n')}\n`);
}
