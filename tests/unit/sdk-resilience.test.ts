import {
  BulkheadFullError,
  CircuitBreakers,
  callDeadline,
  countsAsFailure,
  DeadlineExceededError,
  errorFromJSON,
  InternalError,
  InvalidArgumentError,
  isSafeToRetry,
  MethodBulkhead,
  MethodRateLimiter,
  retryAfterFailure,
  SwitchyardError,
  UnavailableError,
} from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const noServer = () => new UnavailableError('no server for service "b"', { details: { service: 'b' } });
const lost = () => new UnavailableError('connection to RabbitMQ lost; the reply cannot arrive');
const remoteUnavailable = () => errorFromJSON({ code: 'UNAVAILABLE', message: 'x', details: { service: 'b' } });

describe('isSafeToRetry', () => {
  it('retries what never left, whatever the method', () => {
    expect(isSafeToRetry(noServer(), 'b', false)).toBe(true);
    expect(isSafeToRetry(new SwitchyardError('SERVICE_NOT_FOUND', 'none'), 'b', false)).toBe(true);
  });

  it('retries other UNAVAILABLE failures only for idempotent methods', () => {
    expect(isSafeToRetry(lost(), 'b', false)).toBe(false);
    expect(isSafeToRetry(lost(), 'b', true)).toBe(true);
    // A no-server error about another service (or decoded from a reply) is not ours: the request may have run.
    expect(isSafeToRetry(noServer(), 'c', false)).toBe(false);
    expect(isSafeToRetry(remoteUnavailable(), 'b', false)).toBe(false);
    expect(isSafeToRetry(remoteUnavailable(), 'b', true)).toBe(true);
  });

  it.each([
    'CIRCUIT_OPEN',
    'CLOSED',
    'DEADLINE_EXCEEDED',
    'BULKHEAD_FULL',
    'RATE_LIMITED',
    'INTERNAL',
    'INVALID_ARGUMENT',
  ] as const)('never retries %s', (code) => {
    expect(isSafeToRetry(new SwitchyardError(code, 'x'), 'b', true)).toBe(false);
  });

  it('never retries a plain Error', () => {
    expect(isSafeToRetry(new Error('boom'), 'b', true)).toBe(false);
  });
});

describe('retryAfterFailure', () => {
  const options = { attempts: 4, initialDelayMs: 5, maxDelayMs: 20 };

  it('retries until an attempt succeeds', async () => {
    let calls = 0;
    const result = await retryAfterFailure(
      lost(),
      async () => {
        calls++;
        if (calls < 2) throw lost();
        return 'ok';
      },
      { options, deadline: Date.now() + 5_000, shouldRetry: () => true },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(2);
  });

  it('stops at the attempt limit with the last error', async () => {
    let calls = 0;
    const last = new UnavailableError('last');
    const p = retryAfterFailure(
      lost(),
      async () => {
        calls++;
        throw calls === 3 ? last : lost();
      },
      { options, deadline: Date.now() + 5_000, shouldRetry: () => true },
    );
    await expect(p).rejects.toBe(last);
    expect(calls).toBe(3); // first attempt made by the caller + 3 retries = 4 attempts
  });

  it('does not retry an error it must not retry', async () => {
    let calls = 0;
    const first = new InvalidArgumentError('bad');
    await expect(
      retryAfterFailure(first, async () => calls++, {
        options,
        deadline: Date.now() + 5_000,
        shouldRetry: () => false,
      }),
    ).rejects.toBe(first);
    expect(calls).toBe(0);
  });

  it('never starts a retry that could not finish before the deadline', async () => {
    const started = Date.now();
    let calls = 0;
    const first = lost();
    await expect(
      retryAfterFailure(
        first,
        async () => {
          calls++;
          throw lost();
        },
        {
          options: { attempts: 50, initialDelayMs: 40, maxDelayMs: 200 },
          deadline: started + 300,
          shouldRetry: () => true,
        },
      ),
    ).rejects.toBeInstanceOf(UnavailableError);
    // No attempt starts after the deadline; what is left is timer lateness, bounded generously.
    expect(Date.now()).toBeLessThan(started + 300 + 100);
    expect(calls).toBeGreaterThan(0);
  });

  it('keeps every delay within maxDelayMs (jittered, exponential)', async () => {
    const delays: number[] = [];
    await expect(
      retryAfterFailure(
        lost(),
        async () => {
          throw lost();
        },
        {
          options: { attempts: 8, initialDelayMs: 1, maxDelayMs: 8 },
          deadline: Date.now() + 10_000,
          shouldRetry: () => true,
          onRetry: (_e, _a, d) => delays.push(d),
        },
      ),
    ).rejects.toBeInstanceOf(UnavailableError);
    expect(delays).toHaveLength(7);
    for (const d of delays) expect(d).toBeLessThanOrEqual(8);
  });

  it('stops waiting when the caller aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const started = Date.now();
    await expect(
      retryAfterFailure(lost(), async () => 'never', {
        options: { attempts: 2, initialDelayMs: 5_000, maxDelayMs: 5_000 },
        deadline: Date.now() + 60_000,
        shouldRetry: () => true,
        signal: ac.signal,
      }),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('CircuitBreakers', () => {
  const options = { failureRatio: 0.5, window: 4, minimumCalls: 4, halfOpenAfterMs: 100 };

  it('counts only UNAVAILABLE, DEADLINE_EXCEEDED and INTERNAL as failures', () => {
    expect(countsAsFailure(lost())).toBe(true);
    expect(countsAsFailure(new DeadlineExceededError('x'))).toBe(true);
    expect(countsAsFailure(new InternalError('x'))).toBe(true);
    expect(countsAsFailure(new SwitchyardError('UNROUTABLE', 'x'))).toBe(true);
    expect(countsAsFailure(new InvalidArgumentError('x'))).toBe(false);
    expect(countsAsFailure(new BulkheadFullError('x'))).toBe(false);
    expect(countsAsFailure(new SwitchyardError('NOT_FOUND', 'x'))).toBe(false);
    expect(countsAsFailure(new SwitchyardError('CLOSED', 'x'))).toBe(false);
    expect(countsAsFailure(new Error('x'))).toBe(false);
    // Answered by a live instance after another died mid-call: not the service's failure.
    expect(countsAsFailure(new UnavailableError('x', { details: { reason: 'redelivered' } }))).toBe(false);
    // Our own link to the broker was down (a broker restart): not the service's failure either.
    expect(countsAsFailure(new UnavailableError('x', { details: { reason: 'disconnected' } }))).toBe(false);
  });

  it('opens after enough failures, fails fast with CIRCUIT_OPEN without running, then half-opens and closes', async () => {
    const breakers = new CircuitBreakers(options);
    let ran = 0;
    const failing = async () => {
      ran++;
      throw new InternalError('down');
    };
    for (let i = 0; i < 4; i++) await expect(breakers.run('b', failing)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(breakers.state('b')).toBe('open');
    expect(breakers.state('other')).toBe('closed');
    await expect(breakers.run('b', failing)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', details: { service: 'b' } });
    expect(ran).toBe(4);
    await new Promise((r) => setTimeout(r, 120));
    await expect(breakers.run('b', async () => 'ok')).resolves.toBe('ok');
    expect(breakers.state('b')).toBe('closed');
  });

  it('half-open: calls during the trial wait for it; a failed trial opens again, a client error closes', async () => {
    const states: string[] = [];
    const breakers = new CircuitBreakers(options, (service, state) => states.push(`${service}:${state}`));
    const failing = async () => {
      throw new InternalError('down');
    };
    for (let i = 0; i < 4; i++) await expect(breakers.run('b', failing)).rejects.toMatchObject({ code: 'INTERNAL' });
    await new Promise((r) => setTimeout(r, 120));
    // The trial fails: the waiting call finds the circuit open again and fails fast, unsent.
    let ran = 0;
    const trial = breakers.run('b', failing);
    const waiting = breakers.run('b', async () => {
      ran++;
      return 'sent';
    });
    expect(breakers.state('b')).toBe('half-open');
    await expect(trial).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(waiting).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(ran).toBe(0);
    await new Promise((r) => setTimeout(r, 120));
    // A client error is an answer: the trial closes the circuit and the waiting call runs.
    const answered = breakers.run('b', async () => {
      throw new InvalidArgumentError('bad input');
    });
    const after = breakers.run('b', async () => 'ok');
    await expect(answered).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(after).resolves.toBe('ok');
    expect(states).toEqual(['b:open', 'b:half-open', 'b:open', 'b:half-open', 'b:closed']);
  });

  it('stays closed when a service answers with client errors', async () => {
    const breakers = new CircuitBreakers(options);
    for (let i = 0; i < 10; i++) {
      await expect(
        breakers.run('b', async () => {
          throw new InvalidArgumentError('bad input');
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(breakers.state('b')).toBe('closed');
  });
});

describe('MethodBulkhead', () => {
  it('runs at most maxConcurrent, queues maxQueued, refuses the rest with BULKHEAD_FULL without running them', async () => {
    const bulkhead = new MethodBulkhead('s.m', 2, 1);
    let ran = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const work = async () => {
      ran++;
      await gate;
      return 'done';
    };
    const results = Array.from({ length: 5 }, () => bulkhead.run(work).then(String, (e) => e.code));
    await new Promise((r) => setTimeout(r, 10));
    expect(ran).toBe(2);
    expect(bulkhead.active).toBe(2);
    release();
    expect(await Promise.all(results)).toEqual(['done', 'done', 'done', 'BULKHEAD_FULL', 'BULKHEAD_FULL']);
    expect(ran).toBe(3);
  });
});

describe('MethodRateLimiter', () => {
  it('refuses calls over the limit with RATE_LIMITED and a retry hint', async () => {
    const limiter = new MethodRateLimiter('s.m', { points: 2, durationSeconds: 60, perCaller: false });
    await limiter.take('a');
    await limiter.take('b');
    const err = await limiter.take('c').catch((e) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMITED' });
    expect(err.details.retryAfterMs).toBeGreaterThan(0);
  });

  it('counts callers separately when perCaller is set', async () => {
    const limiter = new MethodRateLimiter('s.m', { points: 1, durationSeconds: 60, perCaller: true });
    await limiter.take('alice');
    await limiter.take('bob');
    await expect(limiter.take('alice')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });
});

describe('callDeadline', () => {
  it('takes the earliest of the timeout, an explicit and an inherited deadline', () => {
    expect(callDeadline(1_000, 500, undefined, undefined)).toBe(1_500);
    expect(callDeadline(1_000, 500, 1_200, undefined)).toBe(1_200);
    expect(callDeadline(1_000, 500, 1_400, 1_300)).toBe(1_300);
    expect(callDeadline(1_000, 100, 1_400, 1_300)).toBe(1_100);
  });
});
