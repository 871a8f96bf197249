import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InternalError, InvalidOptionsError } from '@switchyard/broker';

/** Variable holding the 32-byte master key (base64) that encrypts signing keys at rest. */
export const MASTER_KEY_ENV = 'SWITCHYARD_AUTH_MASTER_KEY';

/** Parse a base64 master key; throws INVALID_OPTIONS naming `option` unless it is 32 bytes. */
export function parseMasterKey(value: string | Uint8Array, option = MASTER_KEY_ENV): Buffer {
  const key = typeof value === 'string' ? Buffer.from(value.trim(), 'base64') : Buffer.from(value);
  if (key.length !== 32) {
    throw new InvalidOptionsError(
      `${option} must be 32 bytes (base64), e.g. \`openssl rand -base64 32\` or \`node -e "console.log(crypto.randomBytes(32).toString('base64'))"\``,
      {
        details: { option },
      },
    );
  }
  return key;
}

/** AES-256-GCM, the key id as associated data (a record cannot be moved to another kid). */
export function encryptPrivateKey(masterKey: Buffer, kid: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(kid));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

export function decryptPrivateKey(masterKey: Buffer, kid: string, encrypted: string): string {
  const raw = Buffer.from(encrypted, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(kid));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new InternalError(
      `signing key "${kid}" cannot be decrypted: ${MASTER_KEY_ENV} is not the key it was stored with`,
      { cause: err, details: { kid } },
    );
  }
}
