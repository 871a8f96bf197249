import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CANONICAL_CODES,
  CircuitOpenError,
  canonicalOf,
  type ErrorCode,
  InvalidArgumentError,
  NotFoundError,
  RateLimitedError,
  SPECIFIC_CODES,
  SwitchyardError,
  UnauthenticatedError,
} from '@switchyard/broker';
import { errorResponse, HTTP_STATUS_BY_CODE, httpStatusOf, writeErrorResponse } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

/** Every markdown table of docs/errors.md as rows of { column header: cell }, code cells unquoted. */
function docTables(): Record<string, string>[][] {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const tables: Record<string, string>[][] = [];
  let header: string[] | undefined;
  let rows: Record<string, string>[] = [];
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim().replace(/^`|`$/g, ''));
  for (const line of [...doc.split('\n'), '']) {
    if (!line.trim().startsWith('|')) {
      if (header) tables.push(rows);
      header = undefined;
      rows = [];
    } else if (!header) header = cells(line);
    else if (!/^\|[\s|:-]+\|$/.test(line.trim())) {
      const c = cells(line);
      rows.push(Object.fromEntries(header.map((h, i) => [h, c[i] ?? ''])));
    }
  }
  return tables;
}

const tables = docTables();
const canonicalTable = tables.find((t) => t[0] && 'HTTP' in t[0])!;
const specificTable = tables.find((t) => t[0] && 'refines' in t[0])!;
const docStatus = new Map(canonicalTable.map((r) => [r.code!, Number(r.HTTP)]));
const docRefines = new Map(specificTable.map((r) => [r.code!, r.refines!]));
const allCodes: ErrorCode[] = [...CANONICAL_CODES, ...(Object.keys(SPECIFIC_CODES) as ErrorCode[])];

describe('HTTP status of every error code, against docs/errors.md', () => {
  it('finds both tables in the doc', () => {
    expect(docStatus.size).toBe(CANONICAL_CODES.length);
    expect(docRefines.size).toBe(Object.keys(SPECIFIC_CODES).length);
  });

  it.each(allCodes)('%s', (code) => {
    const canonical = docRefines.get(code) ?? code;
    const documented = docStatus.get(canonical);
    expect(documented, `no HTTP status documented for ${canonical}`).toSatisfy(Number.isInteger);
    expect(canonicalOf(code)).toBe(canonical);
    expect(httpStatusOf(code)).toBe(documented);
  });

  it('maps no code the doc does not know', () => {
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual([...docStatus.keys()].sort());
  });

  it('maps CANCELLED to 499', () => {
    expect(httpStatusOf('CANCELLED')).toBe(499);
  });
});

describe('error response', () => {
  it('is the error JSON plus the request id, as application/json', () => {
    const err = new InvalidArgumentError('request is invalid: /qty: must be >= 1', {
      details: { violations: [{ pointer: '/qty', message: 'must be >= 1' }] },
    });
    const r = errorResponse(err, 'req-1');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(r.body)).toEqual({ ...err.toJSON(), requestId: 'req-1' });
  });

  it('uses the status of specific codes through their canonical code', () => {
    expect(errorResponse(new CircuitOpenError('open')).status).toBe(503);
    expect(errorResponse(new RateLimitedError('slow down')).status).toBe(429);
    expect(errorResponse(new SwitchyardError('SERVICE_NOT_FOUND', 'no orders')).status).toBe(404);
  });

  it('turns a non-Switchyard error into INTERNAL 500 with a generic message and no stack', () => {
    const r = errorResponse(new Error('password=hunter2 at db.internal:5432'), 'req-2');
    expect(r.status).toBe(500);
    const body = JSON.parse(r.body);
    expect(body).toEqual({ code: 'INTERNAL', message: 'internal error', retryable: false, requestId: 'req-2' });
    expect(r.body).not.toMatch(/hunter2|db\.internal|at |stack/);
    expect(errorResponse('a string').status).toBe(500);
    expect(errorResponse(undefined).status).toBe(500);
  });

  it('never serialises a stack or cause of a Switchyard error', () => {
    const err = new NotFoundError('no such order', { cause: new Error('SELECT * FROM secrets') });
    expect(errorResponse(err).body).not.toMatch(/SELECT|stack|cause/);
  });

  it('copies details.wwwAuthenticate to WWW-Authenticate on 401, unless it could inject a header', () => {
    const challenge = 'Bearer realm="switchyard", error="invalid_token"';
    const ok = errorResponse(new UnauthenticatedError('bad token', { details: { wwwAuthenticate: challenge } }));
    expect(ok.status).toBe(401);
    expect(ok.headers['www-authenticate']).toBe(challenge);
    const evil = errorResponse(
      new UnauthenticatedError('bad token', { details: { wwwAuthenticate: 'Bearer\r\nSet-Cookie: x=1' } }),
    );
    expect(evil.headers['www-authenticate']).toBeUndefined();
    expect(errorResponse(new UnauthenticatedError('no token')).headers['www-authenticate']).toBeUndefined();
  });

  it('sets Retry-After from details.retryAfterSeconds on 429 and 503 only', () => {
    const limited = errorResponse(new RateLimitedError('slow down', { details: { retryAfterSeconds: 7, limit: 10 } }));
    expect(limited.headers['retry-after']).toBe('7');
    const open = errorResponse(new CircuitOpenError('open', { details: { retryAfterSeconds: 2.2 } }));
    expect(open.headers['retry-after']).toBe('3');
    const bad = errorResponse(new InvalidArgumentError('x', { details: { retryAfterSeconds: 5 } }));
    expect(bad.headers['retry-after']).toBeUndefined();
    expect(errorResponse(new CircuitOpenError('open')).headers['retry-after']).toBeUndefined();
  });

  it('drops details that cannot be serialised rather than failing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const r = errorResponse(new InvalidArgumentError('bad', { details: cyclic }), 'req-3');
    expect(JSON.parse(r.body)).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'bad',
      retryable: false,
      requestId: 'req-3',
    });
  });
});

describe('writeErrorResponse on a node:http response', () => {
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
  }

  it('writes status, headers and body', async () => {
    const s = await serve((_req, res) =>
      writeErrorResponse(
        res,
        new RateLimitedError('slow down', { details: { retryAfterSeconds: 4, limit: 1 } }),
        'id-9',
      ),
    );
    try {
      const res = await fetch(s.url);
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('retry-after')).toBe('4');
      expect(await res.json()).toEqual({
        code: 'RATE_LIMITED',
        message: 'slow down',
        details: { retryAfterSeconds: 4, limit: 1 },
        retryable: true,
        requestId: 'id-9',
      });
      const head = await fetch(s.url, { method: 'HEAD' });
      expect(head.status).toBe(429);
      expect(await head.text()).toBe('');
    } finally {
      await s.close();
    }
  });

  it('cuts the connection when the response has already started', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      writeErrorResponse(res, new Error('upstream died'));
    });
    try {
      // Whether the head got out before the reset or not, the client must not see a complete 200.
      const outcome = await fetch(s.url)
        .then((res) => res.text())
        .then(
          () => 'complete',
          () => 'failed',
        );
      expect(outcome).toBe('failed');
    } finally {
      await s.close();
    }
  });
});
