/** The calls a transport is waiting on, so close() can fail them all with UNAVAILABLE. */
import type { SwitchyardError } from '../errors.js';

export interface PendingCall {
  fail(err: SwitchyardError): void;
}

export class PendingCalls {
  private readonly calls = new Set<PendingCall>();

  get size(): number {
    return this.calls.size;
  }

  add(call: PendingCall): void {
    this.calls.add(call);
  }

  delete(call: PendingCall): void {
    this.calls.delete(call);
  }

  failAll(err: SwitchyardError): void {
    for (const call of [...this.calls]) call.fail(err);
    this.calls.clear();
  }
}
