import type { ServerResponse } from 'node:http';

/** One Server-Sent Events client. */
interface Client {
  res: ServerResponse;
}

/**
 * The console's live stream: `text/event-stream` to every connected console, one named
 * event per change (`service`, `routes`, `metrics`, `errors`). Payloads are JSON; a
 * comment line every `heartbeatMs` keeps proxies from closing an idle stream.
 */
export class ConsoleEvents {
  readonly #clients = new Set<Client>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(heartbeatMs = 15_000) {
    this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), heartbeatMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Take over `res` as a stream; `first` are sent to this client only, before anything else. */
  open(res: ServerResponse, first: readonly { event: string; data: unknown }[]): void {
    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    const client: Client = { res };
    this.#clients.add(client);
    res.on('close', () => this.#clients.delete(client));
    for (const f of first) res.write(frame(f.event, f.data));
  }

  send(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    this.#write(frame(event, data));
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }

  #write(text: string): void {
    for (const c of this.#clients) c.res.write(text);
  }
}

/** JSON never contains a raw newline, so one `data:` line carries it whole. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
