import { join, resolve } from 'node:path';
import { CERT_FILE_MODE, KEY_FILE_MODE, readCa, writePemFiles } from './ca-files.js';
import {
  boolOption,
  CERT_NAME_PATTERN,
  caOptionError,
  dnsOption,
  ipOption,
  keyTypeOption,
  knownOptions,
  requireObject,
  stringOption,
  validityOption,
} from './ca-options.js';
import { generateKeyPair, importSigningKey, type KeyType, privateKeyPem, signingAlgorithm } from './key-pair.js';
import { randomSerial, validityWindow } from './validity.js';
import { x509 } from './x509.js';

export interface IssueCertOptions {
  /** Directory holding `ca.crt` and `ca.key` (from `initCa`). */
  caDir: string;
  /** Subject CN and file names: `<name>.crt`, `<name>.key`. Letters, digits, `.`, `_`, `-`. */
  name: string;
  /** DNS names the certificate is valid for (subjectAltName), e.g. `rabbit`, `*.svc.local`. */
  dns?: string[];
  /** IP addresses the certificate is valid for (subjectAltName), e.g. `127.0.0.1`. */
  ip?: string[];
  /** For a TLS client (extKeyUsage clientAuth). */
  client?: boolean;
  /** For a TLS server (extKeyUsage serverAuth). With neither `client` nor `server` given, both. */
  server?: boolean;
  /** Default 365. Must end before the CA does. */
  validityDays?: number;
  /** Default `ec` (ECDSA P-256); `rsa` (2048) for peers that cannot use EC. */
  keyType?: KeyType;
  /** Where `<name>.crt` and `<name>.key` go. Default `caDir`. */
  outDir?: string;
  /** Replace existing `<name>.crt`/`<name>.key`. Default false. */
  force?: boolean;
}

export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
}

export const DEFAULT_CERT_VALIDITY_DAYS = 365;

const KNOWN = ['caDir', 'name', 'dns', 'ip', 'client', 'server', 'validityDays', 'keyType', 'outDir', 'force'];
const FN = 'issueCert';

/** Issue a leaf certificate signed by the CA in `caDir`, with a fresh key of its own. */
export async function issueCert(options: IssueCertOptions): Promise<IssuedCert> {
  const o = requireObject(FN, options);
  knownOptions(FN, o, KNOWN);
  const caDir = stringOption(FN, 'caDir', o.caDir);
  const name = stringOption(FN, 'name', o.name);
  if (!CERT_NAME_PATTERN.test(name) || name === 'ca') {
    throw caOptionError(
      FN,
      'name',
      `must match ${CERT_NAME_PATTERN.source} and not be "ca", got ${JSON.stringify(name)}`,
    );
  }
  const dns = dnsOption(FN, o.dns);
  const ip = ipOption(FN, o.ip);
  const client = boolOption(FN, 'client', o.client);
  const server = boolOption(FN, 'server', o.server);
  const both = client === undefined && server === undefined;
  const forClient = both || client === true;
  const forServer = both || server === true;
  if (!forClient && !forServer)
    throw caOptionError(FN, 'client/server', 'are both false; the certificate would be usable for nothing');
  // A server certificate without SANs fails hostname verification in every modern client.
  if (forServer && dns.length === 0 && ip.length === 0) {
    throw caOptionError(
      FN,
      'dns/ip',
      'are both empty, but a server certificate needs at least one DNS name or IP address',
    );
  }
  const validityDays = validityOption(FN, o.validityDays, DEFAULT_CERT_VALIDITY_DAYS);
  const keyType = keyTypeOption(FN, o.keyType);
  const outDir = resolve(stringOption(FN, 'outDir', o.outDir, caDir));
  const force = boolOption(FN, 'force', o.force) ?? false;

  const ca = readCa(FN, caDir);
  let caCert: x509.X509Certificate;
  let caKey: Awaited<ReturnType<typeof importSigningKey>>;
  try {
    caCert = new x509.X509Certificate(ca.certPem);
    caKey = await importSigningKey(ca.keyPem);
  } catch (err) {
    throw caOptionError(FN, 'caDir', `holds a CA certificate or key that cannot be read: ${(err as Error).message}`);
  }
  const { notBefore, notAfter } = validityWindow(validityDays);
  if (notAfter > caCert.notAfter) {
    throw caOptionError(
      FN,
      'validityDays',
      `(${validityDays}) outlives the CA, which expires ${caCert.notAfter.toISOString()}`,
    );
  }

  const keys = await generateKeyPair(keyType);
  const usages: x509.ExtendedKeyUsage[] = [];
  if (forServer) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (forClient) usages.push(x509.ExtendedKeyUsage.clientAuth);
  // keyEncipherment only for RSA (RSA key transport); RFC 5480 §3 forbids it on EC keys.
  const keyUsage =
    keyType === 'rsa'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsage, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (dns.length + ip.length > 0) {
    const names = [
      ...dns.map((value) => ({ type: 'dns' as const, value })),
      ...ip.map((value) => ({ type: 'ip' as const, value })),
    ];
    extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [name] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey as never,
    signingKey: caKey.key as never,
    signingAlgorithm: signingAlgorithm(caKey.type),
    extensions,
  });
  const certPem = `${cert.toString('pem')}\n`;
  const certFile = join(outDir, `${name}.crt`);
  const keyFile = join(outDir, `${name}.key`);
  writePemFiles(
    FN,
    outDir,
    [
      { path: certFile, content: certPem, mode: CERT_FILE_MODE },
      { path: keyFile, content: await privateKeyPem(keys.privateKey), mode: KEY_FILE_MODE },
    ],
    force,
  );
  return Object.freeze({ certFile, keyFile, certPem, serialNumber: cert.serialNumber, notAfter: cert.notAfter });
}
