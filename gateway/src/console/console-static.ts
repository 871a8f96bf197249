import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError, UnavailableError } from '@switchyard/broker';
import { writeErrorResponse } from '../http/error-response.js';

/** Where `npm run build:console` writes the bundle (from gateway/src/console or gateway/dist/console). */
export const DEFAULT_CONSOLE_ASSETS = fileURLToPath(new URL('../../console/dist/', import.meta.url));

/**
 * Scripts and styles from our own origin only; no inline code, no eval, no framing. Preact
 * sets styles through the CSSOM, which `style-src 'self'` allows.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Headers every console response carries, pages and API alike. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

/**
 * Serve `rel` (a path under /console/) from the bundle. Hashed files under `assets/` are
 * immutable; everything else — the page, which names the current hashes — is `no-store`.
 * Unknown paths without an extension get the page (the app has no server-side routes).
 */
export async function serveConsoleFile(dir: string, rel: string, res: ServerResponse): Promise<void> {
  try {
    const index = join(dir, 'index.html');
    if (!(await isFile(index))) {
      // 503 UNAVAILABLE, not a crash: the gateway is fine, the operator has a build step to run.
      throw new UnavailableError('the console is not built: run `npm run build:console`', {
        details: { reason: 'console_not_built' },
      });
    }
    let file = rel === '' || rel === '/' ? index : normalize(join(dir, rel));
    if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) throw new NotFoundError('no such console file');
    if (!(await isFile(file))) {
      if (extname(rel) !== '') throw new NotFoundError('no such console file');
      file = index;
    }
    const hashed = file.startsWith(join(dir, 'assets') + sep);
    res.statusCode = 200;
    res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-store');
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(file);
      stream.on('error', reject);
      stream.on('end', resolve);
      stream.pipe(res);
    });
  } catch (err) {
    writeErrorResponse(res, err);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
