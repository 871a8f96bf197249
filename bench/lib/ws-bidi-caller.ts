import { WebSocket } from 'ws';
import { type BidiCount, bidiItem, DOWNLOAD_METHOD, INGEST_METHOD } from './bidi-items.js';

/**
 * The WebSocket client of the bidi suite's gateway variant: one connection per stream to
 * the gateway's `stream: websocket` routes (bench/fixtures/bidi-gateway.ts), one JSON
 * text message per item. It writes as fast as `ws` lets it; the gateway holds it back in
 * TCP while the service grants no credit (docs/gateway.md, "Backpressure").
 */
export class WsBidiCaller {
  constructor(private readonly base: string) {}

  /** `{ count }`, then `count` items; resolves with the count the service answered. */
  upload(count: number): Promise<number> {
    return this.stream(INGEST_METHOD, (ws) => {
      ws.send(JSON.stringify({ count } satisfies BidiCount));
      for (let n = 0; n < count; n++) ws.send(JSON.stringify(bidiItem(n)));
    }).then((messages) => (messages.at(-1) as BidiCount | undefined)?.count ?? -1);
  }

  /** `{ count }`; resolves with the number of items that came before the close. */
  download(count: number): Promise<number> {
    let seen = 0;
    return this.stream(
      DOWNLOAD_METHOD,
      (ws) => ws.send(JSON.stringify({ count } satisfies BidiCount)),
      () => seen++,
    ).then(() => seen);
  }

  /** Open, `write`, decode every message, resolve at close 1000 (the service ended the stream). */
  private stream(method: string, write: (ws: WebSocket) => void, each?: (item: unknown) => void): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const kept: unknown[] = [];
      let failure: unknown;
      const ws = new WebSocket(`${this.base}/ws/${method}`, { perMessageDeflate: false });
      ws.on('open', () => write(ws));
      ws.on('message', (data) => {
        const item = JSON.parse(String(data)) as { error?: unknown };
        if (item !== null && typeof item === 'object' && 'error' in item) failure = item.error;
        else if (each) each(item);
        else kept.push(item);
      });
      ws.on('unexpected-response', (_req, res) =>
        reject(new Error(`${method}: upgrade refused with ${res.statusCode}`)),
      );
      ws.on('error', reject);
      ws.on('close', (code, reason) => {
        if (code === 1000 && failure === undefined) resolve(kept);
        else reject(new Error(`${method}: closed ${code} ${String(reason)} ${JSON.stringify(failure ?? null)}`));
      });
    });
  }
}
