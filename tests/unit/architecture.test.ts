import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Layout is architecture: broker <- sdk <- auth, gateway <- cli (auth and gateway do not import each other). A package imports only the
// public entry of the packages below it, never a deep path or another package's files.
const root = resolve(import.meta.dirname, '../..');
const allowed: Record<string, string[]> = {
  broker: [],
  sdk: ['broker'],
  auth: ['broker', 'sdk'],
  gateway: ['broker', 'sdk'],
  cli: ['broker', 'sdk', 'auth', 'gateway'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const importRe = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('package layout', () => {
  for (const [pkg, deps] of Object.entries(allowed)) {
    it(`${pkg} imports only ${deps.length ? deps.join(', ') : 'no other package'}, through their public entry`, () => {
      const problems: string[] = [];
      const pkgDir = join(root, pkg, 'src');
      for (const file of sourceFiles(pkgDir)) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(importRe)) {
          const spec = (m[1] ?? m[2])!;
          const where = relative(root, file);
          const sy = /^@switchyard\/([^/]+)(\/.*)?$/.exec(spec);
          if (sy) {
            if (!deps.includes(sy[1]!))
              problems.push(`${where}: imports @switchyard/${sy[1]} (not allowed for ${pkg})`);
            if (sy[2]) problems.push(`${where}: deep import ${spec} (use the package entry)`);
          } else if (spec.startsWith('.')) {
            const target = resolve(file, '..', spec);
            if (!target.startsWith(pkgDir)) problems.push(`${where}: relative import leaves the package: ${spec}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }

  it('each package exposes exactly src/index.ts', () => {
    for (const pkg of Object.keys(allowed)) {
      const manifest = JSON.parse(readFileSync(join(root, pkg, 'package.json'), 'utf8'));
      expect(Object.keys(manifest.exports)).toEqual(['.']);
      expect(manifest.exports['.'].source).toBe('./src/index.ts');
    }
  });
});

describe('no import circles inside a package', () => {
  /** Relative imports of each file (type-only ones too: a circle of types is still a knot to untie). */
  function graph(pkgDir: string): Map<string, string[]> {
    const edges = new Map<string, string[]>();
    for (const file of sourceFiles(pkgDir)) {
      const out: string[] = [];
      for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) out.push(resolve(file, '..', spec).replace(/\.js$/, '.ts'));
      }
      edges.set(file, out);
    }
    return edges;
  }

  /** Every circle, each once, as the files on it (relative to the repository). */
  function circles(edges: Map<string, string[]>): string[] {
    const found = new Set<string>();
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const to of edges.get(f) ?? []) {
        if (state.get(to) === 'open') {
          const loop = stack.slice(stack.indexOf(to)).map((x) => relative(root, x));
          // One spelling per circle: start it at its smallest file.
          const start = loop.indexOf([...loop].sort()[0]!);
          found.add([...loop.slice(start), ...loop.slice(0, start)].join(' -> '));
        } else if (!state.has(to) && edges.has(to)) visit(to);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of edges.keys()) if (!state.has(f)) visit(f);
    return [...found].sort();
  }

  for (const pkg of Object.keys(allowed)) {
    it(`${pkg} has none`, () => {
      expect(circles(graph(join(root, pkg, 'src')))).toEqual([]);
    });
  }
});
