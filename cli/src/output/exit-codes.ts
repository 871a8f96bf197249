/**
 * Exit codes of every `switchyard` command (docs/cli.md). Scripts branch on these; the
 * error's code (INVALID_ARGUMENT, SCHEMA_INCOMPATIBLE, ...) is printed alongside.
 */
export const EXIT = Object.freeze({
  /** Done. */
  OK: 0,
  /** The operation failed: a remote error reply, invalid routes or schemas, a refused publish, not found. */
  FAILED: 1,
  /** The command line is wrong: unknown command or option, bad argument, unreadable input, missing setting. */
  USAGE: 2,
  /** etcd or RabbitMQ could not be reached. */
  UNREACHABLE: 3,
  /** Stopped by SIGINT/SIGTERM before a one-shot command finished (128 + SIGINT). */
  INTERRUPTED: 130,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
