import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, subscribe, takeTokenFromFragment, token } from './api.js';
import { Charts } from './charts.js';
import { Errors, Routes, Schemas, Services, TryIt } from './panels.js';
import type { ErrorSummary, MetricsSample, RoutesSnapshot, ServiceRow } from './types.js';
import './style.css';

function Login({ problem, onToken }: { problem: string | undefined; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="panel login"
      onSubmit={(e) => {
        e.preventDefault();
        onToken(value.trim());
      }}
    >
      <h2>Sign in</h2>
      <p>Paste a token with the operator scope. It is kept in this tab only (sessionStorage).</p>
      {problem ? <p class="bad">{problem}</p> : null}
      <input
        name="token"
        type="password"
        autocomplete="off"
        value={value}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Open the console</button>
    </form>
  );
}

function App() {
  const [session, setSession] = useState<'checking' | 'in' | 'out'>('checking');
  const [problem, setProblem] = useState<string | undefined>();
  const [live, setLive] = useState(false);
  const [services, setServices] = useState<ServiceRow[]>([]);
  const [routes, setRoutes] = useState<RoutesSnapshot | undefined>();
  const [errors, setErrors] = useState<ErrorSummary | undefined>();
  const [samples, setSamples] = useState<MetricsSample[]>([]);

  const check = () =>
    api('session').then(
      () => setSession('in'),
      (err: unknown) => {
        setSession('out');
        setProblem(
          err instanceof ApiError && err.status === 403
            ? 'This token lacks the operator scope.'
            : token.get()
              ? 'The token was refused.'
              : undefined,
        );
      },
    );
  useEffect(() => void check(), []);
  useEffect(() => {
    if (session !== 'in') return;
    const stop = new AbortController();
    void api<MetricsSample[]>('metrics').then(setSamples, () => {});
    void subscribe(
      (event, data) => {
        if (event === 'services') setServices(data as ServiceRow[]);
        else if (event === 'service') {
          const row = data as ServiceRow;
          setServices((prev) => {
            const rest = prev.filter((s) => s.name !== row.name);
            return (row.instances.length > 0 ? [...rest, row] : rest).sort((a, b) => a.name.localeCompare(b.name));
          });
        } else if (event === 'routes') setRoutes(data as RoutesSnapshot);
        else if (event === 'errors') setErrors(data as ErrorSummary);
        else if (event === 'metrics') setSamples((prev) => [...prev.slice(-119), data as MetricsSample]);
      },
      setLive,
      stop.signal,
    );
    return () => stop.abort();
  }, [session]);

  if (session === 'checking') return <p class="muted">Loading…</p>;
  if (session === 'out')
    return (
      <Login
        problem={problem}
        onToken={(t) => {
          token.set(t);
          void check();
        }}
      />
    );
  return (
    <>
      <header>
        <h1>Switchyard</h1>
        <span id="live" class={live ? 'good' : 'bad'}>
          {live ? 'live' : 'reconnecting…'}
        </span>
        <button
          type="button"
          onClick={() => {
            token.clear();
            location.reload();
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Services services={services} />
        <Routes routes={routes} />
        <Charts samples={samples} />
        <Errors errors={errors} />
        <TryIt routes={routes?.routes ?? []} services={services} />
        <Schemas />
      </main>
    </>
  );
}

takeTokenFromFragment();
render(<App />, document.getElementById('app')!);
