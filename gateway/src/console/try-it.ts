import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, NotFoundError, type Violation } from '@switchyard/broker';
import type { RegistryView, SchemaRegistry } from '@switchyard/sdk';
import { declaredMethod } from '../openapi/openapi-document.js';
import type { RouteStore } from '../routing/route-store.js';
import type { RouteRuntimes } from '../server/route-runtimes.js';
import type { ConsoleUser } from './console-access.js';

export interface TryItRequest {
  route: string;
  /** Path to call; default the route's path (required when it has parameters or wildcards). */
  path?: string;
  /** Default: the route's first method, else POST. */
  method?: string;
  body?: unknown;
}

export type TryItResult =
  | { outcome: 'invalid'; schema: string; violations: Violation[] }
  | { outcome: 'called'; status: number; contentType: string | undefined; body: string; truncated: boolean };

export interface TryItDeps {
  store: RouteStore;
  runtimes: RouteRuntimes;
  view: RegistryView;
  schemas: SchemaRegistry;
  /** Base URL of the public listener, reached on loopback. */
  publicUrl: () => string | undefined;
  timeoutMs: number;
}

const SHOWN_BYTES = 64 * 1024;

/**
 * The console's "try it": validate the body against the schema the route (or the RPC
 * method behind it) declares and list every violation with its JSON pointer; when valid,
 * send the request through the gateway's public listener as the operator, so routing,
 * auth and limits apply exactly as for any client.
 */
export async function tryIt(d: TryItDeps, user: ConsoleUser, input: TryItRequest): Promise<TryItResult> {
  const route = d.store.table.routes.find((r) => r.id === input.route);
  if (route === undefined) {
    throw new NotFoundError(`no route ${JSON.stringify(input.route)}`, { details: { route: input.route } });
  }
  const def = route.definition;
  const rt = d.runtimes.get(route);
  const schema =
    rt.requestSchema ??
    (def.target.type === 'rpc'
      ? declaredMethod(d.view.instances(def.target.service), def.target.method)?.request
      : undefined);
  if (schema !== undefined && input.body !== undefined) {
    if (!d.schemas.has(schema)) {
      throw new InvalidArgumentError(`the request schema ${schema} is not loaded`, { details: { schema } });
    }
    const violations = d.schemas.validate(schema, input.body);
    if (violations.length > 0) return { outcome: 'invalid', schema, violations };
  }
  const path = input.path ?? def.match.path;
  if (typeof path !== 'string' || !path.startsWith('/') || /[:*]/.test(path)) {
    throw new InvalidArgumentError('give the path to call: the route has parameters or wildcards', {
      details: { violations: [{ pointer: '/path', message: 'must be a concrete path starting with /' }] },
    });
  }
  const method = (input.method ?? def.match.methods?.[0] ?? 'POST').toUpperCase();
  const base = d.publicUrl();
  if (base === undefined) throw new InvalidArgumentError('the gateway is not listening');
  return call(new URL(path, base), method, input.body, user.credentials, d.timeoutMs);
}

function call(
  url: URL,
  method: string,
  body: unknown,
  credentials: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<TryItResult> {
  const payload = body === undefined || method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { ...credentials, accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      // Loopback to ourselves: the certificate names the public host, not 127.0.0.1.
      { method, headers, timeout: timeoutMs, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < SHOWN_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            outcome: 'called',
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: text.slice(0, SHOWN_BYTES),
            truncated: size > SHOWN_BYTES,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
