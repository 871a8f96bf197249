import { type RateLimitConfig, RateLimiter, rateLimitKey } from '@switchyard/gateway';
import { afterEach, describe, expect, it } from 'vitest';

const limiters: RateLimiter[] = [];
function limiter(rateLimit: RateLimitConfig, options: ConstructorParameters<typeof RateLimiter>[0] = {}): RateLimiter {
  const l = new RateLimiter(options);
  l.setRoutes([{ id: 'r', rateLimit }]);
  limiters.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

async function allowedCount(l: RateLimiter, identities: Parameters<RateLimiter['check']>[1][]): Promise<number> {
  let n = 0;
  for (const id of identities) if ((await l.check('r', id)).allowed) n++;
  return n;
}

describe('what a limit counts per', () => {
  it("key 'subject': one counter per subject, whatever the address", async () => {
    const l = limiter({ points: 1, durationSeconds: 60, key: 'subject' });
    expect(
      await allowedCount(l, [
        { ip: '198.51.100.1', subject: 'alice' },
        { ip: '198.51.100.2', subject: 'alice' },
      ]),
    ).toBe(1);
    expect(await allowedCount(l, [{ ip: '198.51.100.1', subject: 'bob' }])).toBe(1);
  });

  it("key 'ip': one counter per address, whoever is signed in", async () => {
    const l = limiter({ points: 1, durationSeconds: 60, key: 'ip' });
    expect(
      await allowedCount(l, [
        { ip: '198.51.100.1', subject: 'alice' },
        { ip: '198.51.100.1', subject: 'bob' },
      ]),
    ).toBe(1);
    expect(await allowedCount(l, [{ ip: '198.51.100.2', subject: 'alice' }])).toBe(1);
  });

  it("key 'apiKey': one counter per API key", async () => {
    const l = limiter({ points: 1, durationSeconds: 60, key: 'apiKey' });
    expect(
      await allowedCount(l, [
        { ip: '198.51.100.1', apiKey: 'k1' },
        { ip: '198.51.100.2', apiKey: 'k1' },
      ]),
    ).toBe(1);
    expect(await allowedCount(l, [{ ip: '198.51.100.1', apiKey: 'k2' }])).toBe(1);
  });

  it('counts a request without the asked-for credential per IP', async () => {
    const l = limiter({ points: 1, durationSeconds: 60, key: 'subject' });
    expect(await allowedCount(l, [{ ip: '198.51.100.1' }, { ip: '198.51.100.1' }, { ip: '198.51.100.2' }])).toBe(2);
  });

  it('counts IPv6 clients per /64 by default, per address when asked', async () => {
    const per64 = limiter({ points: 1, durationSeconds: 60, key: 'ip' });
    expect(await allowedCount(per64, [{ ip: '2001:db8:1:2::1' }, { ip: '2001:db8:1:2:ffff::9' }])).toBe(1);
    expect(await allowedCount(per64, [{ ip: '2001:db8:1:3::1' }])).toBe(1);
    const per128 = limiter({ points: 1, durationSeconds: 60, key: 'ip' }, { ipv6PrefixLength: 128 });
    expect(await allowedCount(per128, [{ ip: '2001:db8:1:2::1' }, { ip: '2001:db8:1:2:ffff::9' }])).toBe(2);
  });

  it('keys limits through the trusted-proxy setting', async () => {
    const l = limiter({ points: 1, durationSeconds: 60, key: 'ip' }, { trustProxy: ['10.0.0.0/8'] });
    const ip = (xff: string) => l.clientIp.resolve('10.0.0.2', xff);
    expect(await allowedCount(l, [{ ip: ip('6.6.6.6, 198.51.100.1') }, { ip: ip('7.7.7.7, 198.51.100.1') }])).toBe(1);
  });
});

describe('rateLimitKey', () => {
  it('keeps kinds apart and never stores an API key in clear', () => {
    expect(rateLimitKey('subject', { ip: '1.2.3.4', subject: '1.2.3.4' })).not.toBe(
      rateLimitKey('ip', { ip: '1.2.3.4' }),
    );
    const k = rateLimitKey('apiKey', { ip: '1.2.3.4', apiKey: 'sk_live_secret' });
    expect(k).not.toContain('sk_live_secret');
    expect(k).toBe(rateLimitKey('apiKey', { ip: '5.6.7.8', apiKey: 'sk_live_secret' }));
    expect(rateLimitKey('ip', { ip: '2001:db8:1:2:3:4:5:6' })).toBe('ip:2001:db8:1:2::/64');
    expect(rateLimitKey('ip', { ip: '198.51.100.1' })).toBe('ip:198.51.100.1');
  });
});
