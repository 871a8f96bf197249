/**
 * Where a command reads and writes. `runCli` takes one so tests run commands in-process
 * with captured output; `processIo()` is the real terminal.
 */

/** Anything text can be written to (a stream, or a test buffer). */
export interface TextSink {
  write(text: string): unknown;
}

export interface CliIo {
  /** Results: tables, JSON documents, event lines. Nothing else is ever written here. */
  stdout: TextSink;
  /** Errors, warnings, notices and progress. */
  stderr: TextSink;
  /** Read by `-d -` and `-f -`. */
  stdin: NodeJS.ReadableStream;
  /** Where SWITCHYARD_* settings are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** Base of relative paths. */
  cwd: string;
  /** Progress is drawn only on a terminal. */
  stderrIsTTY: boolean;
  /**
   * Aborted when the user asks the command to stop (SIGINT/SIGTERM). Long-running commands
   * (`gateway`, `subscribe`) stop gracefully; others cancel what they are waiting for.
   */
  signal: AbortSignal;
}

/** The process's own streams, environment and working directory. */
export function processIo(signal: AbortSignal): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
    signal,
  };
}
