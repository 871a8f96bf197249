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
  /** Requests not answered yet, with when each was sent. */
  readonly #inFlight = new Map<Promise<void>, number>();
  #timer: NodeJS.Timeout | undefined;
  #n = 0;

  constructor(ledger: Ledger, options: LoadOptions) {
    this.#ledger = ledger;
    this.#options = options;
    this.#pool = new Pool(options.gatewayUrl, { connections: 32, keepAliveTimeout: 30_000 });
  }

  start(): void {
    this.#timer = setInterval(() => this.#sendBoth(), 1000 / this.#options.rate);
  }

  /** `count` requests of each kind at once, on top of the steady rate. */
  burst(count: number): void {
    for (let i = 0; i < count; i++) this.#sendBoth();
  }

  #sendBoth(): void {
    const n = ++this.#n;
    this.#track(this.#send('http', 'GET', `/api/items/${n}`, undefined));
    this.#track(this.#send('rpc', 'POST', '/api/lookup', JSON.stringify({ item: n })));
  }

  /** Stop sending and wait for the answers still due. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#inFlight.keys());
    await this.#pool.close();
  }

  /**
   * Resolves once every request sent before `at` has its answer: the next fault waits for
   * it, so no request of one window fails because of the next window's fault.
   */
  async answeredUntil(at: number): Promise<void> {
    await Promise.all([...this.#inFlight].filter(([, sentAt]) => sentAt < at).map(([p]) => p));
  }

  #track(p: Promise<void>): void {
    this.#inFlight.set(p, Date.now());
    p.finally(() => this.#inFlight.delete(p));
  }

  async #send(kind: LoadKind, method: 'GET' | 'POST', path: string, body: string | undefined): Promise<void> {
    const sentAt = Date.now();
    let code: string;
    let answer: Answer = {};
    try {
      const res = await this.#pool.request({
        method,
        path,
        body,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const text = await res.body.text();
      answer = parse(text);
      code = res.statusCode === 200 ? 'ok' : `${res.statusCode} ${typeof answer.code === 'string' ? answer.code : '?'}`;
    } catch (err) {
      code = failureCode(err);
      answer = { message: (err as Error).message };
    }
    this.#ledger.record({
      kind,
      sentAt,
      doneAt: Date.now(),
      code,
      ...(code === 'ok' && typeof answer.pid === 'number' ? { servedBy: answer.pid } : {}),
      ...(answer.redelivered === true ? { redelivered: true } : {}),
      ...(code !== 'ok' && typeof answer.message === 'string' ? { message: answer.message } : {}),
    });
  }
}

/** A catalog answer (`pid`, `redelivered`) or an error body (`code`). */
interface Answer {
  pid?: unknown;
  redelivered?: unknown;
  code?: unknown;
  message?: unknown;
}

function parse(text: string): Answer {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Answer) : {};
  } catch {
    return {};
  }
}

function failureCode(err: unknown): string {
  const e = err as { name?: string; code?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'client-timeout';
  return e.code ?? e.name ?? 'ERROR';
}
