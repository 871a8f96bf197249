import {
  OutlierDetector,
  type OutlierEvents,
  proxyTargetOf,
  type ResolvedHealthOptions,
  resolvePoolOptions,
  UpstreamInstance,
} from '@switchyard/gateway';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';

// Never dispatched to: these tests only pick instances.
const agent = new Pool('http://127.0.0.1:1');
afterAll(() => agent.destroy());

const fakeView = { instances: () => [], onChange: () => () => {} };

function health(over: Record<string, unknown> = {}): ResolvedHealthOptions {
  return resolvePoolOptions({ view: fakeView, health: over }).health;
}

function instances(n: number): UpstreamInstance[] {
  return Array.from({ length: n }, (_, k) => {
    const url = `http://127.0.0.1:${5000 + k}`;
    return new UpstreamInstance(`i${k}`, url, proxyTargetOf(url)!, agent, 10_000);
  });
}

function setup(n: number, over: Record<string, unknown> = {}) {
  let now = 1_000_000;
  const log: string[] = [];
  const events: OutlierEvents = {
    ejected: (i, ms) => log.push(`ejected ${i.id} ${ms}`),
    returned: (i) => log.push(`returned ${i.id}`),
  };
  const detector = new OutlierDetector(health(over), events, () => now);
  return {
    list: instances(n),
    detector,
    log,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

function fail(d: OutlierDetector, inst: UpstreamInstance, all: readonly UpstreamInstance[], times: number): void {
  for (let k = 0; k < times; k++) d.failure(inst, false, all);
}

describe('outlier ejection', () => {
  it('ejects after N consecutive failures; a success in between starts the count again', () => {
    const { list, detector, log } = setup(3);
    const [a] = list;
    fail(detector, a!, list, 4);
    detector.success(a!, false);
    fail(detector, a!, list, 4);
    expect(detector.usable(a!)).toBe(true);
    detector.failure(a!, false, list);
    expect(detector.usable(a!)).toBe(false);
    expect(log).toEqual(['ejected i0 10000']);
  });

  it('never ejects more than maxEjectionPercent of the instances, and never a lone instance', () => {
    const { list, detector } = setup(3);
    fail(detector, list[0]!, list, 5);
    fail(detector, list[1]!, list, 50);
    expect(list.map((i) => detector.usable(i))).toEqual([false, true, true]);

    const lone = setup(1);
    fail(lone.detector, lone.list[0]!, lone.list, 100);
    expect(lone.detector.usable(lone.list[0]!)).toBe(true);

    const four = setup(4, { maxEjectionPercent: 50 });
    for (const i of four.list) fail(four.detector, i, four.list, 5);
    expect(four.list.filter((i) => !four.detector.usable(i))).toHaveLength(2);
  });

  it('after the ejection, lets exactly one request probe; success puts the instance back', () => {
    const { list, detector, log, advance } = setup(3);
    const a = list[0]!;
    fail(detector, a, list, 5);
    advance(9_999);
    expect(detector.usable(a)).toBe(false);
    advance(1);
    expect(detector.usable(a)).toBe(true);
    expect(detector.picked(a)).toBe(true); // this request is the probe
    expect(detector.usable(a)).toBe(false); // nothing else meanwhile
    detector.success(a, true);
    expect(a.ejectedUntil).toBe(0);
    expect(detector.usable(a)).toBe(true);
    expect(detector.picked(a)).toBe(false);
    expect(log).toEqual(['ejected i0 10000', 'returned i0']);
  });

  it('a failed probe ejects again for twice as long, up to maxEjectMs', () => {
    const { list, detector, log, advance, now } = setup(3, { ejectMs: 1000, maxEjectMs: 5000 });
    const a = list[0]!;
    fail(detector, a, list, 5);
    for (let k = 0; k < 4; k++) {
      advance(a.ejectedUntil - now());
      expect(detector.picked(a)).toBe(true);
      detector.failure(a, true, list);
    }
    expect(log).toEqual([
      'ejected i0 1000',
      'ejected i0 2000',
      'ejected i0 4000',
      'ejected i0 5000',
      'ejected i0 5000',
    ]);
  });

  it('results of requests sent before the ejection neither return nor re-eject the instance', () => {
    const { list, detector, log, now } = setup(3);
    const a = list[0]!;
    fail(detector, a, list, 5);
    const until = a.ejectedUntil;
    detector.success(a, false);
    fail(detector, a, list, 10);
    expect(a.ejectedUntil).toBe(until);
    expect(until).toBeGreaterThan(now());
    expect(log).toHaveLength(1);
  });

  it('an abandoned probe frees the slot for another one', () => {
    const { list, detector, advance } = setup(3);
    const a = list[0]!;
    fail(detector, a, list, 5);
    advance(10_000);
    detector.picked(a);
    expect(detector.usable(a)).toBe(false);
    detector.probeAbandoned(a);
    expect(detector.usable(a)).toBe(true);
  });

  it('an instance healthy for maxEjectMs after its return starts again at ejectMs', () => {
    const { list, detector, log, advance } = setup(3, { ejectMs: 1000, maxEjectMs: 8000 });
    const a = list[0]!;
    fail(detector, a, list, 5);
    advance(1000);
    detector.picked(a);
    detector.success(a, true);
    fail(detector, a, list, 5); // soon after: doubled
    advance(2000);
    detector.picked(a);
    detector.success(a, true);
    advance(8000);
    fail(detector, a, list, 5); // long after: back to the first length
    expect(log.filter((l) => l.startsWith('ejected'))).toEqual([
      'ejected i0 1000',
      'ejected i0 2000',
      'ejected i0 1000',
    ]);
  });
});
