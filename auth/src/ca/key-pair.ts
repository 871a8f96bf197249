import { createPrivateKey, webcrypto } from 'node:crypto';
import { x509 } from './x509.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** `ec`: ECDSA P-256 (small, fast, accepted by RabbitMQ/Erlang 25, etcd and Redis here). `rsa`: RSA 2048. */
export type KeyType = 'ec' | 'rsa';

export const KEY_TYPES: readonly KeyType[] = ['ec', 'rsa'];

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const RSA_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

function algorithm(type: KeyType): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  return type === 'ec' ? EC_ALGORITHM : RSA_ALGORITHM;
}

/** How a key of this type signs a certificate. */
export function signingAlgorithm(type: KeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return type === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : RSA_ALGORITHM;
}

export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  const params =
    type === 'ec' ? EC_ALGORITHM : { ...RSA_ALGORITHM, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
  return (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM (`BEGIN PRIVATE KEY`): what Node, OpenSSL, Erlang, Go and Redis all read. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

/**
 * A PEM private key as a signing CryptoKey, with its type. WebCrypto needs the algorithm
 * up front, so node's parser tells us what the file holds first (also PKCS#1/SEC1 PEMs
 * written by other tools).
 */
export async function importSigningKey(pem: string): Promise<{ key: CryptoKey; type: KeyType }> {
  const keyObject = createPrivateKey(pem);
  const kind = keyObject.asymmetricKeyType;
  let type: KeyType;
  if (kind === 'ec' && keyObject.asymmetricKeyDetails?.namedCurve === 'prime256v1') type = 'ec';
  else if (kind === 'rsa') type = 'rsa';
  else {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    throw new Error(`unsupported key type ${kind}${curve ? ` (${curve})` : ''}; expected EC P-256 or RSA`);
  }
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm(type), false, ['sign']);
  return { key, type };
}
