import { CERT_FILE_MODE, caPaths, KEY_FILE_MODE, writePemFiles } from './ca-files.js';
import {
  boolOption,
  caOptionError,
  keyTypeOption,
  knownOptions,
  requireObject,
  stringOption,
  validityOption,
} from './ca-options.js';
import { generateKeyPair, type KeyType, privateKeyPem, signingAlgorithm } from './key-pair.js';
import { randomSerial, validityWindow } from './validity.js';
import { x509 } from './x509.js';

export interface InitCaOptions {
  /** Directory that receives `ca.crt` and `ca.key` (created when missing). */
  dir: string;
  /** Subject CN of the CA certificate. Default `Switchyard development CA`. */
  commonName?: string;
  /** Default 3650 (ten years: a development CA should outlive every certificate it issues). */
  validityDays?: number;
  /** Default `ec` (ECDSA P-256). */
  keyType?: KeyType;
  /** Replace an existing `ca.crt`/`ca.key`. Every certificate the old CA issued stops verifying. Default false. */
  force?: boolean;
}

export interface CaResult {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA certificate (PEM): what every client and server is told to trust. */
  readonly certPem: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
}

export const DEFAULT_CA_COMMON_NAME = 'Switchyard development CA';
export const DEFAULT_CA_VALIDITY_DAYS = 3650;

const KNOWN = ['dir', 'commonName', 'validityDays', 'keyType', 'force'];

/**
 * Create a development certificate authority: a key pair and a self-signed CA
 * certificate (may sign certificates, not other CAs: path length 0). For development and
 * tests; production certificates come from the organisation's own PKI.
 */
export async function initCa(options: InitCaOptions): Promise<CaResult> {
  const o = requireObject('initCa', options);
  knownOptions('initCa', o, KNOWN);
  const dir = stringOption('initCa', 'dir', o.dir);
  const commonName = stringOption('initCa', 'commonName', o.commonName, DEFAULT_CA_COMMON_NAME);
  if (commonName.length > 64)
    throw caOptionError('initCa', 'commonName', 'must be at most 64 characters (X.509 ub-common-name)');
  const validityDays = validityOption('initCa', o.validityDays, DEFAULT_CA_VALIDITY_DAYS);
  const keyType = keyTypeOption('initCa', o.keyType);
  const force = boolOption('initCa', 'force', o.force) ?? false;

  const keys = await generateKeyPair(keyType);
  const { notBefore, notAfter } = validityWindow(validityDays);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    keys: keys as never,
    signingAlgorithm: signingAlgorithm(keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  const certPem = `${cert.toString('pem')}\n`;
  const paths = caPaths(dir);
  writePemFiles(
    'initCa',
    paths.dir,
    [
      { path: paths.certFile, content: certPem, mode: CERT_FILE_MODE },
      { path: paths.keyFile, content: await privateKeyPem(keys.privateKey), mode: KEY_FILE_MODE },
    ],
    force,
  );
  return Object.freeze({
    certFile: paths.certFile,
    keyFile: paths.keyFile,
    certPem,
    serialNumber: cert.serialNumber,
    notAfter: cert.notAfter,
  });
}
