/** What the bidi caller checks before and while a stream runs: its deadline, the target's kind, each item. */
import {
  type BidiKind,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  type SwitchyardError,
} from '@switchyard/broker';
import type { ServiceBidiOptions } from '../context/context-host.js';
import type { MethodInfo } from '../registry/instance-record.js';
import type { Violation } from '../schemas/types.js';
import type { CallTarget } from './call-target.js';

/** The stream's deadline: the earliest of `timeoutMs`, `deadline` and the inherited one; none when none is given. */
export function bidiDeadline(o: ServiceBidiOptions, inherited: number | undefined): number | undefined {
  let deadline = inherited;
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs > 0))
      throw new InvalidArgumentError(`timeoutMs must be a positive number, got ${String(o.timeoutMs)}`);
    const d = Date.now() + o.timeoutMs;
    if (deadline === undefined || d < deadline) deadline = d;
  }
  if (o.deadline !== undefined && (deadline === undefined || o.deadline < deadline)) deadline = o.deadline;
  if (deadline !== undefined && deadline <= Date.now())
    throw new DeadlineExceededError('the deadline passed before the stream was opened');
  return deadline;
}

export function kindMismatch(t: CallTarget, info: MethodInfo, kind: BidiKind): SwitchyardError {
  const [is, how] =
    info.kind === 'bidi'
      ? ['a bidi method', 'bidi()']
      : info.kind === 'client'
        ? ['a client-streaming method', 'clientStream()']
        : info.streaming
          ? ['a server-streaming method', 'stream()']
          : ['a unary method', 'call()'];
  const want = kind === 'bidi' ? 'bidi stream' : 'client stream';
  return new FailedPreconditionError(`${t.service}.${t.method} is ${is}, not a ${want}: call it with ${how}`, {
    details: { service: t.service, method: t.method, kind: info.kind ?? (info.streaming ? 'server' : 'unary') },
  });
}

export function itemError(
  t: CallTarget,
  direction: 'request' | 'response',
  seq: number,
  violations: Violation[],
): SwitchyardError {
  const summary = violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
  return new InvalidArgumentError(`${t.service}.${t.method}: ${direction} item #${seq} is invalid: ${summary}`, {
    details: { seq, direction, violations },
  });
}
