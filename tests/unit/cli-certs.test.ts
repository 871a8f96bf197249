/**
 * `switchyard certs init|issue`: the development CA on the command line. The certificates
 * are checked the way peers will use them: parsed by node's own X.509 (CA flag, SANs,
 * extended key usage, issuer signature, file modes) and in a real mutual-TLS handshake on
 * a local socket, where a certificate from another CA is refused. Bad flags exit 2 naming
 * the flag, and nothing is overwritten without --force.
 */

import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { EXIT } from '@switchyard/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli } from '../fixtures/cli-run.js';

const files = scratchDir('certs');
const cwd = files.dir;
const pem = (path: string) => readFileSync(join(cwd, path), 'utf8');
const cert = (path: string) => new X509Certificate(pem(path));
/** OIDs of extended key usage. */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

afterAll(() => files.remove());

/** One mutual-TLS exchange: the server requires a client certificate signed by `serverCa`. */
async function handshake(opts: {
  serverCa: string;
  clientCa: string;
  server: { cert: string; key: string };
  client?: { cert: string; key: string };
  servername: string;
}): Promise<{ ok: true; peer: string } | { ok: false; error: string }> {
  const server = createServer(
    { ca: opts.serverCa, cert: opts.server.cert, key: opts.server.key, requestCert: true, rejectUnauthorized: true },
    (socket: TLSSocket) => socket.end(`hello ${socket.getPeerX509Certificate()?.subject ?? '?'}`),
  );
  // A refused client certificate surfaces on the server as a tlsClientError; nothing to do with it here.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername: opts.servername,
        ca: opts.clientCa,
        ...(opts.client ?? {}),
      });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        data += d;
      });
      socket.on('end', () => resolve(data.startsWith('hello') ? { ok: true, peer: data } : { ok: false, error: data }));
      socket.on('error', (err) =>
        resolve({ ok: false, error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }),
      );
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('switchyard certs', () => {
  it('init creates a CA in ./certs: a CA certificate, a private key only its owner reads', async () => {
    const r = await cli(['certs', 'init'], { cwd });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(r.stdout).toContain(join(cwd, 'certs', 'ca.crt'));
    const ca = cert('certs/ca.crt');
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=Switchyard development CA');
    expect(ca.checkIssued(ca)).toBe(true);
    expect(statSync(join(cwd, 'certs/ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(cwd, 'certs/ca.crt')).mode & 0o777).toBe(0o644);
  });

  it('init refuses to replace an existing CA without --force, and leaves it as it was', async () => {
    const before = pem('certs/ca.crt');
    const r = await cli(['certs', 'init'], { cwd });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/--force is not set and .*ca\.crt.* already exist/);
    expect(pem('certs/ca.crt')).toBe(before);
  });

  it('issue --server gives a server certificate for the names asked, signed by the CA', async () => {
    const r = await cli(['certs', 'issue', 'rabbitmq', '--server', '--dns', 'localhost', '--ip', '127.0.0.1'], {
      cwd,
    });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const leaf = cert('certs/rabbitmq.crt');
    const ca = cert('certs/ca.crt');
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=rabbitmq');
    expect(leaf.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(leaf.keyUsage).toEqual([SERVER_AUTH]);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('rabbit.example')).toBeUndefined();
    expect(statSync(join(cwd, 'certs/rabbitmq.key')).mode & 0o777).toBe(0o600);
  });

  it('issue --client --json gives a client certificate, elsewhere with --out-dir', async () => {
    const r = await cli(['certs', 'issue', 'orders', '--client', '--out-dir', 'secrets', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const out = JSON.parse(r.stdout) as { certFile: string; keyFile: string; usage: string[]; notAfter: string };
    expect(out).toMatchObject({
      certFile: join(cwd, 'secrets/orders.crt'),
      keyFile: join(cwd, 'secrets/orders.key'),
      usage: ['client'],
    });
    const leaf = cert('secrets/orders.crt');
    expect(leaf.keyUsage).toEqual([CLIENT_AUTH]);
    expect(new Date(leaf.validTo).getTime()).toBe(new Date(out.notAfter).getTime());
    // 365 days by default.
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(365);
  });

  it('with neither --client nor --server the certificate is for both; --key-type rsa and --days apply', async () => {
    const r = await cli(['certs', 'issue', 'peer', '--dns', 'peer.local', '--key-type', 'rsa', '--days', '30'], {
      cwd,
    });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const leaf = cert('certs/peer.crt');
    expect(leaf.keyUsage?.sort()).toEqual([SERVER_AUTH, CLIENT_AUTH].sort());
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(30);
  });

  it('the certificates work in a real mutual-TLS handshake; one from another CA is refused', async () => {
    const other = scratchDir('certs-other');
    try {
      expect((await cli(['certs', 'init'], { cwd: other.dir })).code).toBe(EXIT.OK);
      expect((await cli(['certs', 'issue', 'intruder', '--client'], { cwd: other.dir })).code).toBe(EXIT.OK);
      const ca = pem('certs/ca.crt');
      const server = { cert: pem('certs/rabbitmq.crt'), key: pem('certs/rabbitmq.key') };
      const client = { cert: pem('secrets/orders.crt'), key: pem('secrets/orders.key') };
      const ok = await handshake({ serverCa: ca, clientCa: ca, server, client, servername: 'localhost' });
      expect(ok).toEqual({ ok: true, peer: 'hello CN=orders' });

      const intruder = {
        cert: readFileSync(join(other.dir, 'certs/intruder.crt'), 'utf8'),
        key: readFileSync(join(other.dir, 'certs/intruder.key'), 'utf8'),
      };
      const foreign = await handshake({
        serverCa: ca,
        clientCa: ca,
        server,
        client: intruder,
        servername: 'localhost',
      });
      expect(foreign.ok).toBe(false);
      const none = await handshake({ serverCa: ca, clientCa: ca, server, servername: 'localhost' });
      expect(none.ok).toBe(false);
      // The client checks the server too: a name the certificate does not carry, or another CA.
      const wrongName = await handshake({ serverCa: ca, clientCa: ca, server, client, servername: 'rabbit.example' });
      expect(wrongName).toMatchObject({ ok: false, error: expect.stringMatching(/ERR_TLS_CERT_ALTNAME_INVALID/) });
      const otherCa = readFileSync(join(other.dir, 'certs/ca.crt'), 'utf8');
      const untrusted = await handshake({ serverCa: ca, clientCa: otherCa, server, client, servername: 'localhost' });
      expect(untrusted).toMatchObject({
        ok: false,
        error: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|self.signed|unable to verify/i),
      });
    } finally {
      other.remove();
    }
  });

  it.each([
    [['certs', 'issue', 'web', '--server'], /--dns\/--ip are both empty/],
    [
      ['certs', 'issue', 'x', '--client', '--ca-dir', 'nowhere'],
      /--ca-dir has no readable .*nowhere\/ca\.crt.*switchyard certs init/,
    ],
    [['certs', 'issue', 'x', '--client', '--days', '99999'], /--days must be a whole number of days from 1 to 36500/],
    [['certs', 'issue', 'x', '--client', '--days', '4000'], /--days \(4000\) outlives the CA/],
    [['certs', 'issue', 'x', '--client', '--days', 'soon'], /--days takes a whole number of days, got "soon"/],
    [['certs', 'issue', 'x', '--client', '--key-type', 'dsa'], /--key-type must be one of ec, rsa, got "dsa"/],
    [['certs', 'issue', '../evil', '--client'], /<name> must match/],
    [['certs', 'issue', 'ca', '--client'], /<name> must match .* not be "ca"/],
    [['certs', 'issue', 'x', '--dns', 'not a name'], /--dns has "not a name", which is not a DNS name/],
    [['certs', 'issue', 'x', '--ip', '300.1.1.1'], /--ip has "300.1.1.1", which is not an IPv4 or IPv6 address/],
    [['certs', 'issue', 'rabbitmq', '--server', '--dns', 'localhost'], /--force is not set/],
  ])('%j exits 2 naming the flag', async (argv, message) => {
    const before = pem('certs/rabbitmq.crt');
    const r = await cli(argv as string[], { cwd });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(pem('certs/rabbitmq.crt')).toBe(before);
  });

  it('issue --force replaces a certificate and its key together', async () => {
    const before = pem('certs/rabbitmq.key');
    const r = await cli(['certs', 'issue', 'rabbitmq', '--server', '--dns', 'rabbitmq', '--force'], { cwd });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(pem('certs/rabbitmq.key')).not.toBe(before);
    expect(cert('certs/rabbitmq.crt').subjectAltName).toBe('DNS:rabbitmq');
    expect(statSync(join(cwd, 'certs/rabbitmq.key')).mode & 0o777).toBe(0o600);
  });
});
