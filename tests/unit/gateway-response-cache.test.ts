/**
 * The per-route response cache through a real gateway and a counting upstream (embedded
 * registry): repeats are answered without the upstream, keyed by path, query and the
 * route's vary headers; the upstream's and the client's Cache-Control are obeyed; a
 * request with credentials never gets someone else's answer; bad cache settings are
 * refused as an invalid route.
 */
import { checkRoute, MemoryRouteSource, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  quietLogger,
  type RunningGateway,
  send,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';

let infra: Infrastructure;
let upstream: TestUpstream;
let gw: RunningGateway;
let alice: string;
let bob: string;

beforeAll(async () => {
  infra = await createInfrastructure({ env: {}, logger: quietLogger });
  upstream = await startUpstream('catalog');
  await upstream.register(infra.registry, 'catalog');
  // The body names the request it answered, so a wrong hit is visible.
  upstream.respond = (r) => {
    const headers: Record<string, string> = {};
    const q = new URL(r.url, 'http://x').searchParams;
    if (q.get('cc')) headers['cache-control'] = q.get('cc')!;
    if (q.get('vary')) headers.vary = q.get('vary')!;
    if (q.get('cookie')) headers['set-cookie'] = 'session=1';
    const status = Number(q.get('status') ?? 200);
    return {
      status,
      headers,
      body: JSON.stringify({
        n: upstream.seen.length,
        url: r.url,
        lang: r.headers['accept-language'],
        user: r.headers['x-switchyard-subject'],
      }),
    };
  };
  const routes = new MemoryRouteSource([
    {
      id: 'catalog',
      match: { path: '/catalog/*', methods: ['GET'] },
      target: { type: 'http', service: 'catalog' },
      auth: { mode: 'optional' },
      cache: { ttlSeconds: 60, vary: ['accept-language'], maxBodyBytes: 2048 },
    },
    {
      id: 'mine',
      match: { path: '/mine/*', methods: ['GET'] },
      target: { type: 'http', service: 'catalog' },
      auth: { mode: 'required' },
      cache: { ttlSeconds: 60, authenticated: true },
    },
    {
      id: 'plain',
      match: { path: '/plain/*', methods: ['GET'] },
      target: { type: 'http', service: 'catalog' },
      auth: { mode: 'off' },
    },
  ]);
  gw = await startGateway({ infra, routes });
  alice = await signDevToken({ sub: 'alice', scopes: [] });
  bob = await signDevToken({ sub: 'bob', scopes: [] });
});

afterAll(async () => {
  await gw?.gateway.close();
  await upstream?.close();
  await infra?.close();
});

/** Send and count how many requests reached the upstream for it. */
async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const before = upstream.seen.length;
  const r = await send(gw.url, path, { headers, method });
  return { ...r, reachedUpstream: upstream.seen.length - before };
}

describe('response cache', () => {
  it('a repeat is a HIT with Age and the same body; path, query and vary headers make other entries; HEAD uses the GET', async () => {
    const first = await get('/catalog/a?x=1');
    expect([first.status, first.headers['x-cache'], first.reachedUpstream]).toEqual([200, 'MISS', 1]);
    const again = await get('/catalog/a?x=1');
    expect([again.status, again.headers['x-cache'], again.reachedUpstream, again.text]).toEqual([
      200,
      'HIT',
      0,
      first.text,
    ]);
    expect(again.headers.age).toMatch(/^\d+$/);
    expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    expect(again.headers['content-type']).toBe('application/json');

    expect((await get('/catalog/a?x=2')).reachedUpstream).toBe(1);
    expect((await get('/catalog/b?x=1')).reachedUpstream).toBe(1);
    const de = await get('/catalog/a?x=1', { 'accept-language': 'de' });
    expect(de.reachedUpstream).toBe(1);
    expect(de.json().lang).toBe('de');
    expect((await get('/catalog/a?x=1', { 'accept-language': 'de' })).reachedUpstream).toBe(0);

    const head = await get('/catalog/a?x=1', {}, 'HEAD');
    expect([head.status, head.headers['x-cache'], head.reachedUpstream, head.text]).toEqual([200, 'HIT', 0, '']);
  });

  it('obeys the upstream: no-store, private, no-cache, max-age=0, Set-Cookie, a foreign Vary, an uncacheable status, a big body are not stored', async () => {
    for (const q of [
      'cc=no-store',
      'cc=private',
      'cc=no-cache',
      'cc=max-age%3D0',
      'cookie=1',
      'vary=user-agent',
      'vary=*',
      'status=500',
      'status=302',
    ]) {
      const path = `/catalog/u?${q}`;
      expect((await get(path)).reachedUpstream, path).toBe(1);
      const second = await get(path);
      expect([second.reachedUpstream, second.headers['x-cache']], path).toEqual([1, 'MISS']);
    }
    // Vary on a keyed header is fine; a 404 is cacheable.
    expect((await get('/catalog/v?vary=accept-language')).reachedUpstream).toBe(1);
    expect((await get('/catalog/v?vary=accept-language')).reachedUpstream).toBe(0);
    expect((await get('/catalog/gone?status=404')).reachedUpstream).toBe(1);
    expect((await get('/catalog/gone?status=404')).reachedUpstream).toBe(0);
    // Over the route's maxBodyBytes (2048): relayed whole, not stored.
    const big = `/catalog/big?pad=${'x'.repeat(3000)}`;
    const relayed = await get(big);
    expect(relayed.json().url.length).toBeGreaterThan(3000);
    expect((await get(big)).reachedUpstream).toBe(1);
  });

  it('the client: no-cache refreshes the entry, no-store goes past it', async () => {
    expect((await get('/catalog/c')).reachedUpstream).toBe(1);
    const refreshed = await get('/catalog/c', { 'cache-control': 'no-cache' });
    expect(refreshed.reachedUpstream).toBe(1);
    const hit = await get('/catalog/c');
    expect([hit.reachedUpstream, hit.text]).toEqual([0, refreshed.text]);
    expect((await get('/catalog/c', { 'cache-control': 'no-store' })).reachedUpstream).toBe(1);
  });

  it('an authenticated request bypasses a route that does not opt in; one that does caches per principal unless public', async () => {
    // Route "catalog" (auth optional, no `authenticated`): alice never gets the anonymous copy, nor stores one.
    await get('/catalog/p');
    const asAlice = await get('/catalog/p', { authorization: `Bearer ${alice}` });
    expect([asAlice.reachedUpstream, asAlice.headers['x-cache'], asAlice.json().user]).toEqual([1, undefined, 'alice']);
    expect((await get('/catalog/p', { authorization: `Bearer ${alice}` })).reachedUpstream).toBe(1);

    // Route "mine" (authenticated: true): per principal...
    const a1 = await get('/mine/profile', { authorization: `Bearer ${alice}` });
    const a2 = await get('/mine/profile', { authorization: `Bearer ${alice}` });
    const b1 = await get('/mine/profile', { authorization: `Bearer ${bob}` });
    expect([a1.reachedUpstream, a2.reachedUpstream, b1.reachedUpstream]).toEqual([1, 0, 1]);
    expect([a2.json().user, b1.json().user]).toEqual(['alice', 'bob']);
    // ...shared only when the upstream says public.
    await get('/mine/news?cc=public%2C%20max-age%3D60', { authorization: `Bearer ${alice}` });
    const shared = await get('/mine/news?cc=public%2C%20max-age%3D60', { authorization: `Bearer ${bob}` });
    expect([shared.reachedUpstream, shared.headers['x-cache']]).toEqual([0, 'HIT']);
    // Auth still runs first: no token, no cached answer.
    expect((await get('/mine/profile')).status).toBe(401);
  });

  it('counts hits, misses and bypasses per route in /metrics', async () => {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const count = (route: string, result: string) =>
      Number(
        text.match(new RegExp(`switchyard_gateway_cache_total\\{route="${route}",result="${result}"\\} (\\d+)`))?.[1] ??
          0,
      );
    expect(count('catalog', 'hit')).toBeGreaterThan(0);
    expect(count('catalog', 'miss')).toBeGreaterThan(0);
    expect(count('catalog', 'bypass')).toBeGreaterThan(0);
    expect(count('mine', 'hit')).toBeGreaterThan(0);
    expect(text).not.toMatch(/switchyard_gateway_cache_total\{route="plain"/);
  });

  it('routes without cache are untouched; bad cache settings are an invalid route', async () => {
    const r = await get('/plain/x');
    expect(r.headers['x-cache']).toBeUndefined();
    expect((await get('/plain/x')).reachedUpstream).toBe(1);
    const base = { id: 'r', match: { path: '/r' }, target: { type: 'http', service: 's' } };
    const rpc = checkRoute({ ...base, target: { type: 'rpc', service: 's', method: 'm' }, cache: { ttlSeconds: 5 } });
    expect(rpc).toMatchObject({
      ok: false,
      violations: [{ pointer: '/cache', message: expect.stringContaining('http targets') }],
    });
    const post = checkRoute({ ...base, match: { path: '/r', methods: ['POST'] }, cache: { ttlSeconds: 5 } });
    expect(post).toMatchObject({ ok: false, violations: [{ pointer: '/cache' }] });
    expect(checkRoute({ ...base, cache: {} })).toMatchObject({ ok: false });
    expect(checkRoute({ ...base, cache: { ttlSeconds: 5, vary: ['Accept'] } })).toMatchObject({ ok: false });
    expect(checkRoute({ ...base, cache: { ttlSeconds: 5, vary: ['accept'] } })).toMatchObject({ ok: true });
  });
});
