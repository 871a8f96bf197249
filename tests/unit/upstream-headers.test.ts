import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import {
  resolvePoolOptions,
  responseHeaderList,
  setForwardedHeaders,
  UPSTREAM_POOL_DEFAULTS,
  withoutHopHeaders,
} from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

describe('hop-by-hop headers of the request', () => {
  it('removes the fixed set, proxy-*, and what Connection names', () => {
    const h: IncomingHttpHeaders = {
      host: 'api.example.com',
      connection: 'keep-alive, X-Secret, Upgrade',
      'keep-alive': 'timeout=5',
      'x-secret': 'only for the first hop',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'proxy-connection': 'keep-alive',
      expect: '100-continue',
      accept: 'application/json',
      authorization: 'Bearer t',
    };
    expect(withoutHopHeaders(h)).toEqual({
      host: 'api.example.com',
      accept: 'application/json',
      authorization: 'Bearer t',
    });
  });

  it('does not let Connection remove the framing or the identity headers the gateway wrote', () => {
    const h: IncomingHttpHeaders = {
      host: 'h',
      'content-length': '3',
      connection: 'close, host, content-length, x-switchyard-subject, x-switchyard-auth',
      'x-switchyard-subject': 'alice',
      'x-switchyard-auth': 'jwt',
    };
    expect(withoutHopHeaders(h)).toEqual({
      host: 'h',
      'content-length': '3',
      'x-switchyard-subject': 'alice',
      'x-switchyard-auth': 'jwt',
    });
  });
});

describe('hop-by-hop headers of the response', () => {
  it('keeps end-to-end headers with their case and repeats, drops the rest', () => {
    const pairs: [string, string][] = [
      ['Content-Type', 'text/plain'],
      ['Connection', 'keep-alive, X-Hop'],
      ['Keep-Alive', 'timeout=5'],
      ['Transfer-Encoding', 'chunked'],
      ['X-Hop', 'drop me'],
      ['Proxy-Authenticate', 'Basic'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Trailer', 'x-sum'],
      ['Upgrade', 'h2c'],
      ['X-Kept', 'yes'],
    ];
    expect(responseHeaderList(pairs.flat())).toEqual(
      [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
        ['X-Kept', 'yes'],
      ].flat(),
    );
  });
});

function fakeReq(remoteAddress: string | undefined, encrypted = false): IncomingMessage {
  return { socket: { remoteAddress, encrypted } } as unknown as IncomingMessage;
}

describe('forwarding headers', () => {
  it('without a trusted proxy: the client is the peer, whatever the client wrote', () => {
    const h: IncomingHttpHeaders = {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      'x-real-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6;proto=https',
      'x-request-id': 'client-chosen',
    };
    setForwardedHeaders(h, fakeReq('::ffff:10.1.2.3'), '10.1.2.3', 'rid-1', 'api.example.com:8443');
    expect(h).toEqual({
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.example.com:8443',
      'x-real-ip': '10.1.2.3',
      'x-request-id': 'rid-1',
    });
  });

  it('through a trusted proxy: keeps the chain from the client on, appends the peer, keeps its proto and host', () => {
    const h: IncomingHttpHeaders = {
      'x-forwarded-for': '6.6.6.6, 203.0.113.7, 10.0.0.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example.com',
    };
    // The resolver (trusting 10.0.0.0/8) found the client at 203.0.113.7; the peer is the LB 10.0.0.2.
    setForwardedHeaders(h, fakeReq('10.0.0.2'), '203.0.113.7', 'rid-2', 'internal-lb:80');
    expect(h['x-forwarded-for']).toBe('203.0.113.7, 10.0.0.9, 10.0.0.2');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('shop.example.com');
    expect(h['x-real-ip']).toBe('203.0.113.7');
  });

  it('says https when the gateway itself terminated TLS', () => {
    const h: IncomingHttpHeaders = {};
    setForwardedHeaders(h, fakeReq('192.0.2.1', true), '192.0.2.1', 'rid', undefined);
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBeUndefined();
  });
});

describe('pool options', () => {
  const view = { instances: () => [], onChange: () => () => {} };

  it('fills in documented defaults', () => {
    const o = resolvePoolOptions({ view });
    expect(o.defaultTimeoutMs).toBe(30_000);
    expect(o.defaultRetries).toBe(1);
    expect(o.health.consecutiveFailures).toBe(5);
    expect(o.health.ejectMs).toBe(10_000);
    expect(o.health.maxEjectionPercent).toBe(50);
    expect([...o.health.failureStatuses]).toEqual([502, 503, 504]);
    expect(o.agent).toEqual(UPSTREAM_POOL_DEFAULTS.agent);
    expect(o.circuit).toEqual(UPSTREAM_POOL_DEFAULTS.circuit);
    expect(resolvePoolOptions({ view, circuit: false }).circuit).toBeUndefined();
  });

  it('rejects bad options with INVALID_OPTIONS naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ view: {} }, 'view'],
      [{ defaultTimeoutMs: 0 }, 'defaultTimeoutMs'],
      [{ defaultRetries: -1 }, 'defaultRetries'],
      [{ defaultRetries: 1.5 }, 'defaultRetries'],
      [{ agent: { maxSockets: 0 } }, 'agent.maxSockets'],
      [{ agent: { keepAlive: 'yes' } }, 'agent.keepAlive'],
      [{ agent: [] }, 'agent'],
      [{ health: { consecutiveFailures: 0 } }, 'health.consecutiveFailures'],
      [{ health: { maxEjectionPercent: 101 } }, 'health.maxEjectionPercent'],
      [{ health: { failureStatuses: [99] } }, 'health.failureStatuses'],
      [{ circuit: { failureRatio: 0 } }, 'circuit.failureRatio'],
      [{ circuit: { window: 5, minimumCalls: 6 } }, 'circuit.minimumCalls'],
      [{ logger: { warn() {} } }, 'logger'],
      [{ preserveHost: 1 }, 'preserveHost'],
      [{ responseIdleTimeoutMs: -1 }, 'responseIdleTimeoutMs'],
    ];
    for (const [over, name] of cases) {
      let thrown: unknown;
      try {
        resolvePoolOptions({ view, ...over } as never);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, name).toMatchObject({ code: 'INVALID_OPTIONS' });
      expect((thrown as Error).message.startsWith(`${name}:`), (thrown as Error).message).toBe(true);
    }
  });
});
