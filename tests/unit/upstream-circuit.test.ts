import { CircuitBreaker, resolvePoolOptions } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

const fakeView = { instances: () => [], onChange: () => () => {} };

function setup(over: Record<string, unknown> = {}) {
  let now = 5_000_000;
  const states: string[] = [];
  const options = resolvePoolOptions({ view: fakeView, circuit: over }).circuit!;
  const breaker = new CircuitBreaker(
    options,
    (s) => states.push(s),
    () => now,
  );
  return { breaker, states, advance: (ms: number) => (now += ms) };
}

/** Runs `n` admitted requests with the given outcome. */
function run(b: CircuitBreaker, n: number, success: boolean): void {
  for (let k = 0; k < n; k++) {
    const a = b.admit();
    if (!a.ok) throw new Error('refused');
    b.record(success, a.trial);
  }
}

describe('circuit breaker per service', () => {
  it('stays closed below minimumCalls, whatever fails', () => {
    const { breaker } = setup();
    run(breaker, 9, false);
    expect(breaker.state).toBe('closed');
  });

  it('opens when the failed share of the last `window` outcomes reaches failureRatio', () => {
    const { breaker, states } = setup();
    run(breaker, 11, true);
    run(breaker, 9, false); // 9 of 20
    expect(breaker.state).toBe('closed');
    run(breaker, 1, false); // 10 of 20 (one success fell out of the window)
    expect(breaker.state).toBe('open');
    expect(states).toEqual(['open']);
  });

  it('forgets outcomes older than the window', () => {
    const { breaker } = setup();
    run(breaker, 9, false);
    run(breaker, 20, true);
    run(breaker, 9, false);
    expect(breaker.state).toBe('closed');
  });

  it('fails fast while open, saying when to come back', () => {
    const { breaker, advance } = setup({ halfOpenAfterMs: 5000 });
    run(breaker, 10, false);
    advance(1500);
    const a = breaker.admit();
    expect(a).toEqual({ ok: false, retryAfterMs: 3500 });
  });

  it('half-open: one trial at a time; its success closes the circuit with a clean window', () => {
    const { breaker, states, advance } = setup({ halfOpenAfterMs: 5000 });
    run(breaker, 10, false);
    advance(5000);
    const trial = breaker.admit();
    expect(trial).toEqual({ ok: true, trial: true });
    expect(breaker.state).toBe('half-open');
    expect(breaker.admit().ok).toBe(false);
    breaker.record(true, true);
    expect(breaker.state).toBe('closed');
    run(breaker, 9, false); // the old failures are gone: 9 new ones do not reopen it
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('half-open: a failed trial opens the circuit again for another halfOpenAfterMs', () => {
    const { breaker, states, advance } = setup({ halfOpenAfterMs: 5000 });
    run(breaker, 10, false);
    advance(5000);
    const trial = breaker.admit();
    breaker.record(false, trial.ok && trial.trial);
    expect(breaker.state).toBe('open');
    expect(breaker.admit()).toEqual({ ok: false, retryAfterMs: 5000 });
    expect(states).toEqual(['open', 'half-open', 'open']);
  });

  it('an abandoned trial (client gone) lets the next request be the trial', () => {
    const { breaker, advance } = setup();
    run(breaker, 10, false);
    advance(5000);
    breaker.admit();
    breaker.abandon(true);
    expect(breaker.admit()).toEqual({ ok: true, trial: true });
  });

  it('ignores outcomes of requests admitted before it opened', () => {
    const { breaker, advance } = setup();
    const early = Array.from({ length: 5 }, () => breaker.admit());
    run(breaker, 10, false);
    for (const a of early) breaker.record(true, a.ok && a.trial);
    expect(breaker.state).toBe('open');
    advance(5000);
    expect(breaker.admit().ok).toBe(true);
  });
});
