import { normalizePath, type PathRejectionReason, pathRejectedError } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

function path(target: string): string {
  const r = normalizePath(target);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(target)} to be accepted, got ${r.reason}: ${r.message}`);
  return r.path;
}

function reason(target: string): PathRejectionReason | 'accepted' {
  const r = normalizePath(target);
  return r.ok ? 'accepted' : r.reason;
}

describe('normalizePath: paths that need no work come back as they are', () => {
  it.each(['/', '/api/orders/42', "/a-b_c.d~e/!$&'()*+,;=:@", '/file.json', '/a/b/', '/v1/x..y/...'])('%s', (p) => {
    expect(path(p)).toBe(p);
  });
});

describe('normalizePath: dot segments and empty segments are resolved, never above the root', () => {
  it.each([
    ['/a/../admin', '/admin'],
    ['/a/b/../../admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/./a', '/a'],
    ['/..', '/'],
    ['/../..', '/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/a/..', '/'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['//admin', '/admin'],
    ['///a//b///', '/a/b/'],
    ['/a//../b', '/b'],
    ['/.well-known/../admin', '/admin'],
  ])('%s -> %s', (input, expected) => {
    expect(path(input)).toBe(expected);
  });
});

describe('normalizePath: percent-encoded dots are decoded first, so they resolve too', () => {
  it.each([
    ['/%2e%2e/admin', '/admin'],
    ['/%2E%2E/admin', '/admin'],
    ['/a/%2E%2E/b', '/b'],
    ['/a/.%2e/b', '/b'],
    ['/a/%2e./b', '/b'],
    ['/a/%2e/b', '/a/b'],
    ['/public/%2e%2e/%2e%2e/admin', '/admin'],
  ])('%s -> %s', (input, expected) => {
    expect(path(input)).toBe(expected);
  });
});

describe('normalizePath: decoding happens exactly once', () => {
  it.each([
    // `%25` is a literal percent sign: it stays encoded, so a second decoder sees `%2e`, not `.`.
    ['/%252e%252e/admin', '/%252e%252e/admin'],
    ['/a/%252E%252E/b', '/a/%252E%252E/b'],
    ['/%25', '/%25'],
    ['/%252f', '/%252f'],
    ['/%255c', '/%255c'],
  ])('%s -> %s', (input, expected) => {
    expect(path(input)).toBe(expected);
  });

  it('decodes unreserved characters and upper-cases every escape it keeps', () => {
    expect(path('/%41%62%2D%5F%7E%30')).toBe('/Ab-_~0');
    expect(path('/a%3ab%40c%3d')).toBe('/a%3Ab%40c%3D');
    expect(path('/caf%c3%a9')).toBe('/caf%C3%A9');
    expect(path('/%F0%9F%98%80')).toBe('/%F0%9F%98%80');
    expect(path('/a%20b')).toBe('/a%20b');
  });

  it('percent-encodes the few raw characters clients send anyway, so both spellings match alike', () => {
    expect(path('/a|b')).toBe('/a%7Cb');
    expect(path('/a%7cb')).toBe('/a%7Cb');
    expect(path('/{x}[y]^`"<>')).toBe('/%7Bx%7D%5By%5D%5E%60%22%3C%3E');
  });
});

describe('normalizePath: tricks are rejected with a reason', () => {
  it.each<[string, PathRejectionReason]>([
    ['/a%2fb', 'encoded-slash'],
    ['/a%2Fb', 'encoded-slash'],
    ['/%2e%2e%2fadmin', 'encoded-slash'],
    ['/a%5cb', 'encoded-slash'],
    ['/a%5C..%5Cadmin', 'encoded-slash'],
    ['/a\\b', 'backslash'],
    ['/..\\admin', 'backslash'],
    ['/%00', 'control-character'],
    ['/a%00.json', 'control-character'],
    ['/a%0d%0aSet-Cookie:x', 'control-character'],
    ['/a%7f', 'control-character'],
    ['/a\u0000b', 'control-character'],
    ['/a\tb', 'control-character'],
    ['/a\u007fb', 'control-character'],
    ['/a b', 'invalid-character'],
    ['/a#frag', 'invalid-character'],
    ['/caf\u00e9', 'invalid-character'],
    ['/%', 'invalid-percent-encoding'],
    ['/%2', 'invalid-percent-encoding'],
    ['/%zz', 'invalid-percent-encoding'],
    ['/%%32%65', 'invalid-percent-encoding'],
    ['/%u002e%u002e/admin', 'invalid-percent-encoding'],
    // Overlong UTF-8 forms of "." and "/" that broken decoders turn into dots and slashes.
    ['/%c0%ae%c0%ae/admin', 'invalid-utf8'],
    ['/%c0%af', 'invalid-utf8'],
    ['/%e0%80%ae', 'invalid-utf8'],
    ['/%f0%80%80%ae', 'invalid-utf8'],
    ['/%c1%9c', 'invalid-utf8'],
    ['/%80', 'invalid-utf8'],
    ['/%c3', 'invalid-utf8'],
    ['/%c3x', 'invalid-utf8'],
    ['/%ed%a0%80', 'invalid-utf8'], // a UTF-16 surrogate
    ['/%f4%90%80%80', 'invalid-utf8'], // above U+10FFFF
    ['/%ff', 'invalid-utf8'],
    ['/..;/admin', 'dot-segment-parameter'],
    ['/a/.;x/b', 'dot-segment-parameter'],
    ['/%2e%2e;/admin', 'dot-segment-parameter'],
    ['api/orders', 'not-origin-form'],
    ['', 'not-origin-form'],
    ['*', 'not-origin-form'],
    ['http://evil.example/admin', 'not-origin-form'],
    ['?x=1', 'not-origin-form'],
  ])('%j -> %s', (input, expected) => {
    expect(reason(input)).toBe(expected);
  });

  it('rejects an overlong path, measured before any work', () => {
    expect(reason(`/${'a'.repeat(8191)}`)).toBe('accepted');
    expect(reason(`/${'a'.repeat(8192)}`)).toBe('too-long');
    expect(normalizePath(`/${'a'.repeat(100)}`, 50)).toMatchObject({ ok: false, reason: 'too-long' });
    // The query does not count.
    expect(reason(`/a?${'q'.repeat(20_000)}`)).toBe('accepted');
  });

  it('turns a rejection into INVALID_ARGUMENT (400) naming the rule', () => {
    const r = normalizePath('/a%2fb');
    if (r.ok) throw new Error('expected a rejection');
    const err = pathRejectedError(r);
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details).toEqual({ reason: 'encoded-slash' });
    expect(err.message).toMatch(/invalid request path/);
  });
});

describe('normalizePath: the query is split off and left untouched', () => {
  it.each([
    ['/a?x=1', '/a', 'x=1'],
    ['/a/../b?next=/../admin&%2f=%00', '/b', 'next=/../admin&%2f=%00'],
    ['/a?', '/a', ''],
    ['/a?b?c', '/a', 'b?c'],
    ['/%2e%2e/a?q=%2e%2e', '/a', 'q=%2e%2e'],
  ])('%s', (input, p, q) => {
    expect(normalizePath(input)).toEqual({ ok: true, path: p, query: q });
  });
});

describe('normalizePath: properties over generated tricky paths', () => {
  // Deterministic PRNG so a failure reproduces.
  let seed = 0x5eed;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const tokens = ['/', '//', '.', '..', '%2e', '%2E', '%25', '%252e', 'a', 'admin', '%41', ';', '%3B', '~', '%7e', '|'];
  const samples = Array.from({ length: 3000 }, () => {
    let s = '/';
    const n = 1 + rand(10);
    for (let i = 0; i < n; i++) s += tokens[rand(tokens.length)];
    return s;
  });

  it('every accepted output is stable, starts at the root, and has no dot or empty segment even after one more decode', () => {
    let accepted = 0;
    for (const input of samples) {
      const r = normalizePath(input);
      if (!r.ok) {
        expect(r.reason).toBe('dot-segment-parameter');
        continue;
      }
      accepted++;
      expect(r.path.startsWith('/')).toBe(true);
      expect(normalizePath(r.path)).toEqual({ ok: true, path: r.path, query: '' });
      const inner = r.path.replace(/^\/|\/$/g, '');
      if (inner === '') continue;
      for (const seg of inner.split('/')) {
        expect(seg).not.toBe('');
        // An upstream that decodes once more still sees no dot segment and no separator.
        const once = decodeURIComponent(seg);
        expect(['.', '..']).not.toContain(once);
        expect(once).not.toMatch(/[/\\]/);
      }
    }
    expect(accepted).toBeGreaterThan(samples.length / 2);
  });
});
