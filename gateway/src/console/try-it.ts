import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  InvalidArgumentError,
  NotFoundError,
  type Transport,
  toSwitchyardError,
  UnavailableError,
  type Violation,
} from '@switchyard/broker';
import type { RegistryView, SchemaRegistry } from '@switchyard/sdk';
import { httpStatusOf } from '../http/error-status.js';
import { declaredMethod } from '../openapi/openapi-document.js';
import type { RouteStore } from '../routing/route-store.js';
import type { RouteRuntimes } from '../server/route-runtimes.js';
import type { ConsoleUser } from './console-access.js';

export interface TryItRequest {
  /** A route to call through the public listener... */
  route?: string;
  /** ...or an RPC method to call directly. */
  rpc?: { service: string; method: string };
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
  rpc: Transport;
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
  if (input.rpc !== undefined) return tryRpc(d, user, input.rpc, input.body);
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
  try {
    return await call(new URL(path, base), method, input.body, user.credentials, d.timeoutMs);
  } catch (err) {
    throw new UnavailableError(`the gateway's public listener did not answer: ${(err as Error).message}`);
  }
}

/**
 * An RPC method called directly, as the gateway calls an RPC route's method: with the
 * gateway's own service identity when auth is on, and the operator named as `x-caller`.
 */
async function tryRpc(
  d: TryItDeps,
  user: ConsoleUser,
  target: { service: string; method: string },
  body: unknown,
): Promise<TryItResult> {
  const { service, method } = target ?? {};
  if (typeof service !== 'string' || typeof method !== 'string') {
    throw new InvalidArgumentError('rpc must be { service, method }');
  }
  const info = declaredMethod(d.view.instances(service), method);
  if (info === undefined) {
    throw new NotFoundError(`no live instance of ${service} declares the method ${method}`, {
      details: { service, method },
    });
  }
  if (info.request !== undefined && d.schemas.has(info.request)) {
    const violations = d.schemas.validate(info.request, body ?? null);
    if (violations.length > 0) return { outcome: 'invalid', schema: info.request, violations };
  }
  const headers: Record<string, string> = user.subject === undefined ? {} : { 'x-caller': user.subject };
  try {
    const reply = await d.rpc.call(service, method, body ?? null, { timeoutMs: d.timeoutMs, headers });
    return { outcome: 'called', status: 200, contentType: 'application/json', body: show(reply), truncated: false };
  } catch (thrown) {
    const err = toSwitchyardError(thrown);
    return {
      outcome: 'called',
      status: httpStatusOf(err.code),
      contentType: 'application/json',
      body: show(err.toJSON()),
      truncated: false,
    };
  }
}

function show(value: unknown): string {
  return JSON.stringify(value ?? null, null, 2).slice(0, SHOWN_BYTES);
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
