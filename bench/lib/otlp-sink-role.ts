import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ready } from './role-process.js';

/** The OTLP endpoint of the exported variant: takes every POST, keeps only counts (GET /stats). */
export async function otlpSinkRole(): Promise<void> {
  let posts = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ posts, bytes }));
      return;
    }
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      posts++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ready((server.address() as AddressInfo).port);
}
