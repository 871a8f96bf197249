import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';

/** All of stdin as text. */
export async function readStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A file's text (`-` reads stdin); a file that cannot be read is a usage error naming it. */
export async function readInputFile(io: CliIo, path: string, what: string): Promise<{ text: string; name: string }> {
  if (path === '-') return { text: await readStdin(io), name: 'stdin' };
  const full = resolve(io.cwd, path);
  try {
    return { text: await readFile(full, 'utf8'), name: path };
  } catch (err) {
    throw new UsageError(
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
        details: { path: full },
      },
    );
  }
}

/**
 * A JSON payload given as an argument or with `-d`: inline JSON, `@file.json`, or `-`
 * for stdin. Neither given: `{}`. Both given: a usage error (which one was meant?).
 */
export async function readJsonPayload(
  io: CliIo,
  inline: string | undefined,
  data: string | undefined,
): Promise<unknown> {
  if (inline !== undefined && data !== undefined) {
    throw new UsageError('give the payload either as an argument or with -d, not both');
  }
  const source = inline ?? data;
  if (source === undefined) return {};
  let text: string;
  let origin: string;
  if (data === '-') {
    text = await readStdin(io);
    origin = 'stdin';
  } else if (data?.startsWith('@')) {
    ({ text, name: origin } = await readInputFile(io, data.slice(1), 'payload file'));
  } else {
    text = source;
    origin = 'the payload argument';
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${origin} is not valid JSON: ${(err as Error).message}`, {
      details: { hint: `quote JSON for the shell, e.g. '{"id":42}', or use -d @file.json` },
    });
  }
}
