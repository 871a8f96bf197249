import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from './api.js';
import type { ErrorSummary, RouteRow, RoutesSnapshot, ServiceRow, Violation } from './types.js';

// Every value below is rendered as text by Preact (never as HTML): registry metadata and
// route fields come from whoever can write to etcd.

export function Services({ services }: { services: ServiceRow[] }) {
  return (
    <section class="panel" id="services">
      <h2>Services</h2>
      {services.length === 0 ? <p class="muted">No instances registered.</p> : null}
      {services.map((s) => (
        <div class="service" key={s.name} data-service={s.name}>
          <h3>
            {s.name} <span class="muted">circuit {s.circuit}</span>
          </h3>
          <table>
            <thead>
              <tr>
                <th>instance</th>
                <th>address</th>
                <th>version</th>
                <th>health</th>
                <th>in flight</th>
                <th>metadata</th>
              </tr>
            </thead>
            <tbody>
              {s.instances.map((i) => (
                <tr key={i.id} data-instance={i.id}>
                  <td>{i.id}</td>
                  <td>{i.address ?? '(rpc)'}</td>
                  <td>{i.version}</td>
                  <td class={`health-${i.health}`}>{i.health}</td>
                  <td>{i.inFlight ?? '–'}</td>
                  <td class="metadata">
                    {Object.entries(i.metadata).map(([k, v]) => (
                      <span class="kv" key={k}>
                        {k}={v}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}

export function Routes({ routes }: { routes: RoutesSnapshot | undefined }) {
  if (!routes) return null;
  return (
    <section class="panel" id="routes">
      <h2>
        Routes{' '}
        <span class="muted">
          version {routes.version}
          {routes.synced ? '' : ' (not synced)'}
        </span>
      </h2>
      <table>
        <thead>
          <tr>
            <th>id</th>
            <th>match</th>
            <th>target</th>
            <th>auth</th>
            <th>limits</th>
            <th>schema</th>
          </tr>
        </thead>
        <tbody>
          {routes.routes.map((r) => (
            <tr key={r.id} data-route={r.id}>
              <td>
                {r.id}
                {r.broken ? <div class="bad">{r.broken}</div> : null}
              </td>
              <td>
                {(r.methods ?? ['*']).join(',')} {r.hosts ? `${r.hosts.join(',')} ` : ''}
                {r.path}
              </td>
              <td>
                {r.target.type}: {r.target.service}
                {r.target.method ? `.${r.target.method}` : ''}
              </td>
              <td>{r.auth ? `${r.auth.mode}${r.auth.scopes.length ? ` (${r.auth.scopes.join(' ')})` : ''}` : '–'}</td>
              <td>{limits(r)}</td>
              <td class="muted">{r.requestSchema ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {routes.rejected.map((r) => (
        <p class="bad" key={r.origin}>
          rejected {r.id ?? r.origin}: {r.problems.join('; ')}
        </p>
      ))}
    </section>
  );
}

function limits(r: RouteRow): string {
  const rate = r.rateLimit ? `${r.rateLimit.points}/${r.rateLimit.durationSeconds}s per ${r.rateLimit.key}, ` : '';
  return `${rate}timeout ${r.timeoutMs} ms, body ≤ ${r.maxBodyBytes} B`;
}

export function Errors({ errors }: { errors: ErrorSummary | undefined }) {
  if (!errors) return null;
  const codes = Object.entries(errors.byCode).sort((a, b) => b[1] - a[1]);
  return (
    <section class="panel" id="errors">
      <h2>Recent errors</h2>
      <p>
        {codes.length === 0
          ? 'None since start.'
          : codes.map(([c, n]) => (
              <span class="kv" key={c}>
                {c} {n}
              </span>
            ))}
      </p>
      <ul class="log">
        {errors.recent.slice(0, 10).map((e) => (
          <li key={`${e.at}-${e.requestId}`}>
            {new Date(e.at).toLocaleTimeString()} {e.status} {e.code} {e.route ?? '(no route)'} — {e.message}
          </li>
        ))}
      </ul>
    </section>
  );
}

type TryResult =
  | { outcome: 'invalid'; schema: string; violations: Violation[] }
  | { outcome: 'called'; status: number; body: string; truncated: boolean };

/** What try-it can call: the routes, then every RPC method a live instance declares. */
function targets(routes: RouteRow[], services: ServiceRow[]): { value: string; label: string }[] {
  const rpc = new Set<string>();
  for (const s of services) for (const i of s.instances) for (const m of i.methods) rpc.add(`${s.name}/${m}`);
  return [
    ...routes.map((r) => ({ value: `route:${r.id}`, label: `route ${r.id}` })),
    ...[...rpc].sort().map((m) => ({ value: `rpc:${m}`, label: `rpc ${m.replace('/', '.')}` })),
  ];
}

export function TryIt({ routes, services }: { routes: RouteRow[]; services: ServiceRow[] }) {
  const [target, setTarget] = useState('');
  const [path, setPath] = useState('');
  const [body, setBody] = useState('{}');
  const [result, setResult] = useState<TryResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const options = targets(routes, services);
  const picked = options.find((o) => o.value === target) ?? options[0];
  const chosen = picked?.value.startsWith('route:') ? routes.find((r) => `route:${r.id}` === picked.value) : undefined;
  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(undefined);
    setError(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      setError('the body is not valid JSON');
      return;
    }
    try {
      const what = picked?.value ?? '';
      const call = what.startsWith('rpc:')
        ? { rpc: { service: what.slice(4).split('/')[0], method: what.slice(4).split('/')[1] } }
        : { route: what.slice(6), ...(path ? { path } : {}) };
      setResult(await api<TryResult>('try', { ...call, body: parsed }));
    } catch (err) {
      setError(err instanceof ApiError ? `${err.status} ${err.body.code ?? ''}: ${err.message}` : String(err));
    }
  };
  return (
    <section class="panel" id="try-it">
      <h2>Try it</h2>
      <form onSubmit={submit}>
        <label>
          call{' '}
          <select
            name="target"
            value={picked?.value}
            onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
          >
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>{' '}
        <label>
          path{' '}
          <input
            disabled={chosen === undefined}
            name="path"
            placeholder={chosen?.path}
            value={path}
            onInput={(e) => setPath((e.target as HTMLInputElement).value)}
          />
        </label>
        <textarea name="body" rows={6} value={body} onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
        <button type="submit">Send</button>
      </form>
      {error ? <p class="bad">{error}</p> : null}
      {result?.outcome === 'invalid' ? (
        <div class="violations">
          <p class="bad">Invalid against {result.schema}:</p>
          <ul>
            {result.violations.map((v) => (
              <li key={v.pointer + v.message}>
                <code>{v.pointer || '/'}</code> {v.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {result?.outcome === 'called' ? (
        <div class="answer">
          <p>
            HTTP {result.status}
            {result.truncated ? ' (body truncated)' : ''}
          </p>
          <pre>{result.body}</pre>
        </div>
      ) : null}
    </section>
  );
}

interface SchemaSummary {
  id: string;
  version?: number;
}
interface SchemaVersion {
  version?: number;
  publishedAt?: string;
  forced: boolean;
}

export function Schemas() {
  const [list, setList] = useState<SchemaSummary[] | undefined>();
  const [id, setId] = useState('');
  const [history, setHistory] = useState<SchemaVersion[]>([]);
  const [pasted, setPasted] = useState('');
  const [verdict, setVerdict] = useState<string[] | string | undefined>();
  useEffect(() => {
    void api<SchemaSummary[]>('schemas').then(setList, () => setList([]));
  }, []);
  const pick = async (next: string) => {
    setId(next);
    setVerdict(undefined);
    setHistory(next ? await api<SchemaVersion[]>(`schema-history?id=${encodeURIComponent(next)}`).catch(() => []) : []);
  };
  const check = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api<{ breaks: Violation[] }>('schema-check', { id, schema: JSON.parse(pasted) });
      setVerdict(r.breaks.map((b) => `${b.pointer || '/'}: ${b.message}`));
    } catch (err) {
      setVerdict(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section class="panel" id="schemas">
      <h2>Schemas</h2>
      <select name="schema" value={id} onChange={(e) => void pick((e.target as HTMLSelectElement).value)}>
        <option value="">choose a schema…</option>
        {(list ?? []).map((s) => (
          <option key={s.id} value={s.id}>
            {s.id}
            {s.version ? ` (v${s.version})` : ''}
          </option>
        ))}
      </select>
      {id ? (
        <>
          <ul>
            {history.map((h) => (
              <li key={String(h.version)}>
                {h.version === undefined
                  ? 'current file (no history outside etcd)'
                  : `v${h.version} ${h.publishedAt ?? ''}${h.forced ? ' forced' : ''}`}
              </li>
            ))}
          </ul>
          <form onSubmit={check}>
            <textarea
              name="candidate"
              rows={6}
              placeholder="paste a new version to check backward compatibility"
              value={pasted}
              onInput={(e) => setPasted((e.target as HTMLTextAreaElement).value)}
            />
            <button type="submit">Check compatibility</button>
          </form>
          {typeof verdict === 'string' ? <p class="bad">{verdict}</p> : null}
          {Array.isArray(verdict) ? (
            verdict.length === 0 ? (
              <p class="good">Backward compatible.</p>
            ) : (
              <ul class="bad">
                {verdict.map((b) => (
                  <li key={b}>{b}</li>
                ))}
              </ul>
            )
          ) : null}
        </>
      ) : null}
    </section>
  );
}
