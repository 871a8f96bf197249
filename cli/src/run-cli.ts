import { CommanderError } from 'commander';
import { asSwitchyardError, describeError, exitCodeOf, isReported } from './output/cli-errors.js';
import { EXIT } from './output/exit-codes.js';
import type { CliIo } from './output/io.js';
import { buildProgram } from './program.js';

/**
 * Run one `switchyard` command line (without the program name) and resolve with its exit
 * code. Everything goes through `io`: tests pass buffers and an AbortSignal; the binary
 * passes the process's streams and aborts on SIGINT/SIGTERM. Never throws, never exits.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    stderrIsTTY: io.stderrIsTTY ?? false,
    signal: io.signal ?? new AbortController().signal,
  };
  try {
    await buildProgram(full).parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    // commander has printed its own message (or the help / version).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (isReported(err)) return exitCodeOf(err);
    const e = asSwitchyardError(err);
    if (argv.includes('--json')) {
      full.stderr.write(`${JSON.stringify(e.toJSON())}\n`);
    } else {
      const [first, ...rest] = describeError(e);
      full.stderr.write(`switchyard: ${first}\n${rest.map((l) => `${l}\n`).join('')}`);
    }
    return exitCodeOf(err);
  }
}
