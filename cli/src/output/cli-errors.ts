import {
  CancelledError,
  type ErrorBody,
  InternalError,
  SwitchyardError,
  type SwitchyardErrorOptions,
} from '@switchyard/broker';
import { EXIT, type ExitCode } from './exit-codes.js';

/** The command line is wrong (exit 2): an unknown option value, a bad argument, a missing setting. */
export class UsageError extends SwitchyardError {
  constructor(message: string, options?: SwitchyardErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'UsageError';
  }
}

/** etcd or RabbitMQ did not answer (exit 3). `details.server` names which, `details.endpoint` where. */
export class UnreachableError extends SwitchyardError {
  constructor(message: string, options?: SwitchyardErrorOptions) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnreachableError';
  }
}

/** The exit code an error ends a command with. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof UnreachableError) return EXIT.UNREACHABLE;
  if (err instanceof SwitchyardError) {
    // Options come from the command line or the environment here: a usage problem.
    if (err.code === 'INVALID_OPTIONS') return EXIT.USAGE;
    if (err instanceof CancelledError || err.code === 'CANCELLED') return EXIT.INTERRUPTED;
  }
  return EXIT.FAILED;
}

/**
 * Any failure as a SwitchyardError. Unlike a server, the CLI shows an unexpected error's
 * own message: it is the user's machine, and "internal error" would hide e.g. EACCES.
 */
export function asSwitchyardError(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

/** The documented `{ code, message, details }` body of an error. */
export function errorBody(err: SwitchyardError): Omit<ErrorBody, 'retryable'> & { retryable?: boolean } {
  return err.toJSON();
}

/**
 * The lines a person reads for an error: the message with its code, then whatever the
 * details list (violations, schema breaks, broken files, invalid routes), one per line.
 */
export function describeError(err: SwitchyardError): string[] {
  const d = err.details ?? {};
  const problems = list(d.problems);
  // The message repeats every problem on one line; listed below instead, one per line.
  const headline = problems.length > 1 ? `${problems.length} schema files are broken` : err.message;
  const lines = [`${headline} [${err.code}]`];
  for (const v of list(d.violations)) lines.push(`  ${pointer(v.pointer)}: ${String(v.message)}`);
  for (const b of list(d.breaks)) {
    lines.push(`  ${b.id ? `${String(b.id)} ` : ''}${pointer(b.pointer)}: ${String(b.message)}`);
  }
  if (problems.length > 1 || (problems.length === 1 && !err.message.includes(String(problems[0]!.problem)))) {
    for (const p of problems) lines.push(`  ${String(p.file)}: ${String(p.problem)}`);
  }
  for (const r of list(d.routes)) {
    lines.push(`  ${String(r.where)}:`);
    for (const v of list(r.violations)) lines.push(`    ${pointer(v.pointer)}: ${String(v.message)}`);
  }
  if (typeof d.hint === 'string') lines.push(`  hint: ${d.hint}`);
  return lines;
}

function list(x: unknown): Array<Record<string, unknown>> {
  return Array.isArray(x) ? x.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null) : [];
}

function pointer(p: unknown): string {
  return typeof p === 'string' && p !== '' ? p : '/';
}

const reported = new WeakSet<object>();

/** Mark an error the command has already printed in its own way (`call` prints the error body). */
export function markReported<E extends object>(err: E): E {
  reported.add(err);
  return err;
}

export function isReported(err: unknown): boolean {
  return typeof err === 'object' && err !== null && reported.has(err);
}
