import type { ServerResponse } from 'node:http';

/**
 * Set a flat name/value header list (`[name, value, name, value, ...]`, the shape of
 * node's rawHeaders and of a fast `writeHead`) on a response, replacing same-named headers.
 */
export function setHeaderList(res: ServerResponse, list: readonly string[]): void {
  for (let i = 0; i + 1 < list.length; i += 2) res.setHeader(list[i]!, list[i + 1]!);
}
