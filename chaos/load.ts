/**
 * The steady HTTP load: at a fixed rate (open loop: a slow answer never slows the
 * sending), GET /api/items/<n> (proxied to a catalog instance) and POST /api/lookup
 * (bridged to the catalog.lookup RPC method) through the gateway, each with a client
 * deadline. Every answer goes to the ledger as `ok` or the failure's code.
 */
import { Pool } from 'undici';
import type { Ledger, LoadKind } from './ledger.js';

export interface LoadOptions {
  gatewayUrl: string;
  /** Requests per second of each kind. */
  rate: number;
  /** Client deadline per request, ms (above the routes' 3 s timeout). */
  timeoutMs: number;
}

export class HttpLoad {
  readonly #pool: Pool;
  readonly #ledger: Ledger;
  readonly #options: LoadOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #n = 0;

  constructor(ledger: Ledger, options: LoadOptions) {
    this.#ledger = ledger;
    this.#options = options;
    this.#pool = new Pool(options.gatewayUrl, { connections: 32, keepAliveTimeout: 30_000 });
  }

  start(): void {
    this.#timer = setInterval(() => {
      const n = ++this.#n;
      this.#track(this.#send('http', 'GET', `/api/items/${n}`, undefined));
      this.#track(this.#send('rpc', 'POST', '/api/lookup', JSON.stringify({ item: n })));
    }, 1000 / this.#options.rate);
  }

  /** Stop sending and wait for the answers still due. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#inFlight);
    await this.#pool.close();
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p));
  }

  async #send(kind: LoadKind, method: 'GET' | 'POST', path: string, body: string | undefined): Promise<void> {
    const sentAt = Date.now();
    let code: string;
    try {
      const res = await this.#pool.request({
        method,
        path,
        body,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const text = await res.body.text();
      code = res.statusCode === 200 ? 'ok' : `${res.statusCode} ${errorCode(text)}`;
    } catch (err) {
      code = failureCode(err);
    }
    this.#ledger.record({ kind, sentAt, doneAt: Date.now(), code });
  }
}

function errorCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : '?';
  } catch {
    return '?';
  }
}

function failureCode(err: unknown): string {
  const e = err as { name?: string; code?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'client-timeout';
  return e.code ?? e.name ?? 'ERROR';
}
