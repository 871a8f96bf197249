/**
 * Everything the run observed, as plain records: one per HTTP request and per published
 * event (when it was sent, when it ended, how), and the deliveries per event id. The
 * report (chaos/report.ts) slices these by fault window afterwards.
 */

export type LoadKind = 'http' | 'rpc' | 'event';

export const LOAD_KINDS: readonly LoadKind[] = ['http', 'rpc', 'event'];

export interface Outcome {
  kind: LoadKind;
  /** Epoch ms the request (or publish) was sent. */
  sentAt: number;
  /** Epoch ms it ended (answer, error, or confirm). */
  doneAt: number;
  /** `ok`, or how it failed: `503 UNAVAILABLE`, `client-timeout`, `ECONNREFUSED`, `BUFFER_FULL`, ... */
  code: string;
  /** Event id, for events. */
  id?: string;
  /** What a failure said (the error body's message), for the report's list of failures. */
  message?: string;
  /** Pid of the catalog instance that answered a successful request. */
  servedBy?: number;
  /** An RPC request RabbitMQ delivered again (its first instance died holding it). */
  redelivered?: boolean;
}

export class Ledger {
  readonly outcomes: Outcome[] = [];
  /** Deliveries per event id (> 1: duplicated). */
  readonly deliveries = new Map<string, number>();
  redeliveries = 0;
  /** Events the ticker published whose publish has not ended yet. */
  readonly pending = new Set<string>();

  record(o: Outcome): void {
    this.outcomes.push(o);
  }

  /** A ticker line: `P <id>` (published), then `E <id> <sentAt> <doneAt> <ok|code>` (ended). */
  publisherLine(line: string): void {
    const [kind, id, sentAt, doneAt, code] = line.split(' ');
    if (id === undefined) return;
    if (kind === 'P') {
      this.pending.add(id);
      return;
    }
    if (code === undefined) return;
    this.pending.delete(id);
    this.record({ kind: 'event', id, sentAt: Number(sentAt), doneAt: Number(doneAt), code });
  }

  /** An audit line: `D <id> <redelivered>`. */
  subscriberLine(line: string): void {
    const [, id, redelivered] = line.split(' ');
    if (id === undefined) return;
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
    if (redelivered === '1') this.redeliveries++;
  }

  /** Ids of events RabbitMQ confirmed to the publisher. */
  confirmedIds(): string[] {
    return this.outcomes.filter((o) => o.kind === 'event' && o.code === 'ok').map((o) => o.id!);
  }

  /** Confirmed events not yet delivered. */
  undelivered(): number {
    let n = 0;
    for (const id of this.confirmedIds()) if (!this.deliveries.has(id)) n++;
    return n;
  }
}
