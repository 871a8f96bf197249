import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkRoute, normalizePath } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

// docs/routes.md is the operators' reference: its examples must be valid routes, it must
// name every field the schema has, and its normalisation tables must say what the code does.
const root = resolve(import.meta.dirname, '../..');
const doc = readFileSync(resolve(root, 'docs/routes.md'), 'utf8');
const schema = JSON.parse(readFileSync(resolve(root, 'schemas/switchyard/route.json'), 'utf8'));

/** The table rows (as cell lists) of the first table after the line containing `heading`. */
function tableAfter(heading: string): string[][] {
  const lines = doc.split('\n');
  let i = lines.findIndex((l) => l.includes(heading));
  expect(i, heading).toBeGreaterThanOrEqual(0);
  while (!lines[i]!.startsWith('|')) i++;
  const rows: string[][] = [];
  for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(
      lines[i]!.split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replaceAll('\\|', '|'));

describe('docs/routes.md', () => {
  it('every JSON route example is a valid route', () => {
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!));
    const routes = blocks.filter((b) => typeof b === 'object' && b !== null && 'id' in b);
    expect(routes.length).toBeGreaterThanOrEqual(6);
    for (const r of routes) expect(checkRoute(r), r.id).toEqual({ ok: true, route: r });
    const targets = routes.map((r) => (r.target.type === 'rpc' ? 'rpc' : (r.target.balancer ?? 'round-robin')));
    expect(new Set(targets)).toEqual(
      new Set(['rpc', 'round-robin', 'least-outstanding', 'p2c-latency', 'consistent-hash']),
    );
  });

  it('names every field of the schema', () => {
    const d = schema.$defs;
    const fields = [
      ...Object.keys(schema.properties),
      ...Object.keys(d.match.properties),
      ...Object.keys(d.httpTarget.properties),
      ...Object.keys(d.rpcTarget.properties),
      ...Object.keys(d.auth.properties),
      ...Object.keys(d.auth.properties.rules.items.properties),
      ...Object.keys(d.rateLimit.properties),
      ...Object.keys(schema.properties.retries.properties),
    ];
    const missing = fields.filter((f) => !doc.includes(`\`${f}\``));
    expect(missing).toEqual([]);
  });

  it('the rejection table matches normalizePath', () => {
    const rows = tableAfter('Rejected with **400**');
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const [examples, reason] of rows) {
      const expected = codeSpans(reason!)[0];
      for (const p of codeSpans(examples!)) {
        expect(normalizePath(p), p).toMatchObject({ ok: false, reason: expected });
      }
    }
  });

  it('the normalisation table matches normalizePath', () => {
    const rows = tableAfter('Accepted and normalised');
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const [inputs, output] of rows) {
      for (const p of codeSpans(inputs!)) {
        expect(normalizePath(p), p).toEqual({ ok: true, path: codeSpans(output!)[0], query: '' });
      }
    }
  });
});
