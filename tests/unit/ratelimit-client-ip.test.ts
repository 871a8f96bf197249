import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionsError } from '@switchyard/broker';
import { ClientIpResolver, UNKNOWN_CLIENT_IP } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

describe('client IP without trusted proxies (trustProxy false)', () => {
  const r = new ClientIpResolver(false);

  it('ignores a spoofed X-Forwarded-For and uses the socket peer', () => {
    expect(r.resolve('203.0.113.9', '1.2.3.4')).toBe('203.0.113.9');
    expect(r.resolve('203.0.113.9', ['1.2.3.4', '5.6.7.8'])).toBe('203.0.113.9');
  });

  it('normalises an IPv4-mapped peer to IPv4 and IPv6 to RFC 5952 form', () => {
    expect(r.resolve('::ffff:203.0.113.9', undefined)).toBe('203.0.113.9');
    expect(r.resolve('2001:0DB8:0000:0000:0000:0000:0000:0001', undefined)).toBe('2001:db8::1');
  });

  it('reports a socket without an address as unknown', () => {
    expect(r.resolve(undefined, '1.2.3.4')).toBe(UNKNOWN_CLIENT_IP);
  });

  it('is the default, and what an empty network list means', () => {
    expect(new ClientIpResolver().resolve('10.0.0.1', '1.2.3.4')).toBe('10.0.0.1');
    expect(new ClientIpResolver([]).resolve('10.0.0.1', '1.2.3.4')).toBe('10.0.0.1');
  });
});

describe('client IP behind a number of trusted hops', () => {
  it('with one hop takes the rightmost entry and ignores what the client prepended', () => {
    const r = new ClientIpResolver(1);
    expect(r.resolve('10.0.0.2', '6.6.6.6, 198.51.100.7')).toBe('198.51.100.7');
  });

  it('with two hops takes the second entry from the right', () => {
    const r = new ClientIpResolver(2);
    expect(r.resolve('10.0.0.2', '6.6.6.6, 198.51.100.7, 10.0.0.3')).toBe('198.51.100.7');
  });

  it('with more hops than entries takes the leftmost entry', () => {
    const r = new ClientIpResolver(3);
    expect(r.resolve('10.0.0.2', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('with zero hops trusts nobody', () => {
    expect(new ClientIpResolver(0).resolve('10.0.0.2', '198.51.100.7')).toBe('10.0.0.2');
  });

  it('uses the peer when there is no X-Forwarded-For', () => {
    expect(new ClientIpResolver(1).resolve('10.0.0.2', undefined)).toBe('10.0.0.2');
  });

  it('joins repeated X-Forwarded-For headers in order', () => {
    const r = new ClientIpResolver(2);
    expect(r.resolve('10.0.0.2', ['6.6.6.6, 198.51.100.7', '10.0.0.3'])).toBe('198.51.100.7');
  });

  it('stops at the last real address when a trusted hop wrote garbage', () => {
    const r = new ClientIpResolver(3);
    expect(r.resolve('10.0.0.2', '198.51.100.7, unknown, 10.0.0.3')).toBe('10.0.0.3');
  });

  it('accepts entries with ports and brackets', () => {
    const r = new ClientIpResolver(1);
    expect(r.resolve('10.0.0.2', '198.51.100.7:5678')).toBe('198.51.100.7');
    expect(r.resolve('10.0.0.2', '[2001:DB8::7]:443')).toBe('2001:db8::7');
    expect(r.resolve('10.0.0.2', '[2001:db8::7]')).toBe('2001:db8::7');
  });
});

describe('client IP behind trusted networks', () => {
  const r = new ClientIpResolver(['10.0.0.0/8', 'fd00::/8']);

  it('walks right to left past trusted proxies to the first untrusted address', () => {
    expect(r.resolve('10.0.0.5', '6.6.6.6, 198.51.100.9, 10.0.0.7')).toBe('198.51.100.9');
  });

  it('ignores X-Forwarded-For from a peer outside the trusted networks', () => {
    expect(r.resolve('203.0.113.50', '10.0.0.9, 198.51.100.9')).toBe('203.0.113.50');
  });

  it('does not let a client spoof a trusted address to the left of the real one', () => {
    // The client sent "X-Forwarded-For: 10.9.9.9"; our proxy appended the client's real address.
    expect(r.resolve('10.0.0.5', '10.9.9.9, 198.51.100.9')).toBe('198.51.100.9');
  });

  it('takes the leftmost entry when every hop is trusted', () => {
    expect(r.resolve('10.0.0.5', '10.1.1.1, 10.0.0.7')).toBe('10.1.1.1');
  });

  it('matches an IPv4-mapped peer against IPv4 networks', () => {
    expect(r.resolve('::ffff:10.0.0.5', '198.51.100.9')).toBe('198.51.100.9');
  });

  it('handles IPv6 proxies and clients', () => {
    expect(r.resolve('fd00::1', '2001:db8::42, fd12::9')).toBe('2001:db8::42');
    expect(r.resolve('2001:db8::1', '198.51.100.9')).toBe('2001:db8::1');
  });

  it('accepts bare addresses, IPv4-mapped networks and named networks', () => {
    expect(new ClientIpResolver(['10.0.0.5']).resolve('10.0.0.5', '198.51.100.9')).toBe('198.51.100.9');
    expect(new ClientIpResolver(['10.0.0.5']).resolve('10.0.0.6', '198.51.100.9')).toBe('10.0.0.6');
    expect(new ClientIpResolver(['::ffff:10.0.0.0/104']).resolve('10.3.0.1', '198.51.100.9')).toBe('198.51.100.9');
    const loop = new ClientIpResolver(['loopback']);
    expect(loop.resolve('127.0.0.1', '198.51.100.9')).toBe('198.51.100.9');
    expect(loop.resolve('::1', '198.51.100.9')).toBe('198.51.100.9');
    expect(loop.resolve('10.0.0.1', '198.51.100.9')).toBe('10.0.0.1');
  });

  it('respects prefix lengths that do not end on a byte', () => {
    const r2 = new ClientIpResolver(['172.16.0.0/12']);
    expect(r2.resolve('172.31.255.255', '198.51.100.9')).toBe('198.51.100.9');
    expect(r2.resolve('172.32.0.1', '198.51.100.9')).toBe('172.32.0.1');
  });
});

describe('trustProxy validation', () => {
  it.each([
    [-1],
    [1.5],
    [true],
    ['10.0.0.0/8'],
    [['nope']],
    [['10.0.0.0/33']],
    [['::/129']],
    [[42]],
    [['constructor']],
  ])('rejects %j naming the option', (bad) => {
    expect(() => new ClientIpResolver(bad as never)).toThrow(InvalidOptionsError);
    expect(() => new ClientIpResolver(bad as never)).toThrow(/trustProxy/);
  });
});

describe('IP address normalisation', () => {
  const plain = new ClientIpResolver();
  const oneHop = new ClientIpResolver(1);

  it.each([
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:c000:0280', '192.0.2.128'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s -> %s', (input, out) => {
    expect(plain.resolve(input, undefined)).toBe(out);
    expect(oneHop.resolve('10.0.0.1', input)).toBe(out);
  });

  it('never takes what is not an address from X-Forwarded-For', () => {
    for (const s of ['', 'unknown', 'example.com', '1.2.3', '1.2.3.4:port', '[::1', '[::1]x', '1.2.3.256']) {
      expect(oneHop.resolve('10.0.0.1', s), s).toBe('10.0.0.1');
    }
  });
});

describe('ClientIpResolver.fromRequest', () => {
  it('reads the socket peer and X-Forwarded-For of a real request', async () => {
    const seen: string[] = [];
    const trusting = new ClientIpResolver(['loopback']);
    const untrusting = new ClientIpResolver(false);
    const server = createServer((req, res) => {
      seen.push(trusting.fromRequest(req), untrusting.fromRequest(req));
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.9' } });
    } finally {
      server.close();
    }
    expect(seen).toEqual(['198.51.100.9', '127.0.0.1']);
  });
});
