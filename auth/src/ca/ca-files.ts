import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { caOptionError } from './ca-options.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

/** Owner read/write only: a private key readable by others on a shared host is a leaked key. */
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;

export interface PemFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

/**
 * Write a certificate and its key together. Every target is checked before anything is
 * written, so a refusal never leaves a new certificate next to an old key.
 */
export function writePemFiles(fn: string, dir: string, files: readonly PemFile[], force: boolean): void {
  if (!force) {
    const existing = files.map((f) => f.path).filter((p) => existsSync(p));
    if (existing.length > 0) {
      throw caOptionError(fn, 'force', `is not set and ${existing.join(', ')} already exist(s); refusing to overwrite`);
    }
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw caOptionError(fn, 'dir', `names ${JSON.stringify(dir)}, which cannot be created (${(err as Error).message})`);
  }
  for (const f of files) {
    // `mode` only applies when the file is created: chmod too, in case force replaced an old one.
    writeFileSync(f.path, f.content, { mode: f.mode, flag: force ? 'w' : 'wx' });
    chmodSync(f.path, f.mode);
  }
}

export function caPaths(dir: string): { dir: string; certFile: string; keyFile: string } {
  const abs = resolve(dir);
  return { dir: abs, certFile: join(abs, CA_CERT_FILE), keyFile: join(abs, CA_KEY_FILE) };
}

/** The CA's certificate and key PEMs; a missing file is an error naming `caDir`. */
export function readCa(fn: string, caDir: string): { certPem: string; keyPem: string } {
  const { certFile, keyFile } = caPaths(caDir);
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
      throw caOptionError(
        fn,
        'caDir',
        `has no readable ${path} (${why}); create the CA first (initCa / switchyard certs init)`,
      );
    }
  };
  return { certPem: read(certFile), keyPem: read(keyFile) };
}
