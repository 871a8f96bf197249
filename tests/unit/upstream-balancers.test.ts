import {
  type Balancer,
  ConsistentHashBalancer,
  LeastOutstandingBalancer,
  P2cLatencyBalancer,
  type PickContext,
  proxyTargetOf,
  RoundRobinBalancer,
  UpstreamInstance,
} from '@switchyard/gateway';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';

// Never dispatched to: these tests only pick instances.
const agent = new Pool('http://127.0.0.1:1');
afterAll(() => agent.destroy());

function instances(n: number, prefix = 'i'): UpstreamInstance[] {
  return Array.from({ length: n }, (_, k) => {
    const url = `http://127.0.0.1:${4000 + k}`;
    return new UpstreamInstance(`${prefix}${k}`, url, proxyTargetOf(url)!, agent, 10_000);
  });
}

function ctx(over: Partial<PickContext> = {}): PickContext {
  return { avoid: [], hashKey: undefined, now: performance.now(), usable: () => true, ...over };
}

function counts(list: readonly UpstreamInstance[], picks: (UpstreamInstance | undefined)[]): number[] {
  return list.map((i) => picks.filter((p) => p === i).length);
}

/** Deterministic PRNG (mulberry32) so distributions are reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const all: [string, () => Balancer][] = [
  ['round-robin', () => new RoundRobinBalancer()],
  ['least-outstanding', () => new LeastOutstandingBalancer()],
  ['p2c-latency', () => new P2cLatencyBalancer(seeded(1))],
  ['consistent-hash', () => new ConsistentHashBalancer()],
];

describe.each(all)('%s: what every balancer guarantees', (_name, make) => {
  it('never picks an avoided or unusable instance while another one is left', () => {
    const list = instances(4);
    const b = make();
    b.update(list);
    const down = list[1]!;
    for (let k = 0; k < 500; k++) {
      const picked = b.pick(list, ctx({ avoid: [list[0]!], usable: (i) => i !== down, hashKey: `key-${k}` }));
      expect(picked === list[2] || picked === list[3]).toBe(true);
    }
  });

  it('returns undefined when nothing qualifies, and for an empty list', () => {
    const list = instances(3);
    const b = make();
    b.update(list);
    expect(b.pick(list, ctx({ avoid: list, hashKey: 'k' }))).toBeUndefined();
    expect(b.pick(list, ctx({ usable: () => false, hashKey: 'k' }))).toBeUndefined();
    b.update([]);
    expect(b.pick([], ctx({ hashKey: 'k' }))).toBeUndefined();
  });
});

describe('round-robin', () => {
  it('gives each instance exactly its turn', () => {
    const list = instances(3);
    const b = new RoundRobinBalancer();
    b.update(list);
    const picks = Array.from({ length: 3000 }, () => b.pick(list, ctx()));
    const c = counts(list, picks);
    console.log('round-robin, 3000 picks over 3 instances:', c.join(' / '));
    expect(c).toEqual([1000, 1000, 1000]);
    expect(picks.slice(0, 6).map((p) => p!.id)).toEqual(['i0', 'i1', 'i2', 'i0', 'i1', 'i2']);
  });

  it('skips an ejected instance and shares its turns among the others', () => {
    const list = instances(3);
    const b = new RoundRobinBalancer();
    b.update(list);
    const picks = Array.from({ length: 3000 }, () => b.pick(list, ctx({ usable: (i) => i !== list[0] })));
    const c = counts(list, picks);
    expect(c[0]).toBe(0);
    expect(c[1]! + c[2]!).toBe(3000);
    expect(Math.abs(c[1]! - c[2]!)).toBeLessThanOrEqual(1000);
  });
});

describe('least-outstanding', () => {
  it('picks the instance with the fewest requests in flight', () => {
    const list = instances(3);
    list[0]!.outstanding = 5;
    list[1]!.outstanding = 1;
    list[2]!.outstanding = 3;
    const b = new LeastOutstandingBalancer();
    b.update(list);
    for (let k = 0; k < 10; k++) expect(b.pick(list, ctx())).toBe(list[1]);
  });

  it('spreads ties (all idle) in turn instead of always taking the first', () => {
    const list = instances(3);
    const b = new LeastOutstandingBalancer();
    b.update(list);
    const c = counts(
      list,
      Array.from({ length: 300 }, () => b.pick(list, ctx())),
    );
    expect(c).toEqual([100, 100, 100]);
  });

  it('under simulated load, keeps in-flight counts level while a slow instance holds its requests longer', () => {
    const list = instances(3);
    const b = new LeastOutstandingBalancer();
    b.update(list);
    // Four new requests per tick; they finish after 1 tick on i0 and i1, after 5 ticks on i2 (slow).
    const inFlight: { inst: UpstreamInstance; until: number }[] = [];
    const served = [0, 0, 0];
    for (let tick = 0; tick < 3000; tick++) {
      for (let k = inFlight.length - 1; k >= 0; k--) {
        if (inFlight[k]!.until <= tick) {
          inFlight[k]!.inst.outstanding--;
          inFlight.splice(k, 1);
        }
      }
      for (let r = 0; r < 4; r++) {
        const inst = b.pick(list, ctx())!;
        inst.outstanding++;
        served[list.indexOf(inst)]!++;
        inFlight.push({ inst, until: tick + (inst === list[2] ? 5 : 1) });
      }
    }
    console.log('least-outstanding, slow third instance, served:', served.join(' / '));
    expect(served[2]).toBeLessThan(served[0]! / 2);
    expect(served[2]).toBeGreaterThan(0);
  });
});

describe('p2c-latency', () => {
  it('sends (almost) nothing to a much slower instance', () => {
    const list = instances(3);
    const now = performance.now();
    list[0]!.observeLatency(2, now);
    list[1]!.observeLatency(2.1, now);
    list[2]!.observeLatency(50, now);
    const b = new P2cLatencyBalancer(seeded(7));
    const c = counts(
      list,
      Array.from({ length: 3000 }, () => b.pick(list, ctx({ now }))),
    );
    console.log('p2c-latency, third instance 25x slower, 3000 picks:', c.join(' / '));
    // With two distinct choices, the slowest of three can only lose; the two near-equal ones share.
    expect(c[2]).toBe(0);
    expect(Math.min(c[0]!, c[1]!)).toBeGreaterThan(1300);
  });

  it('breaks near-ties on requests in flight', () => {
    const list = instances(2);
    const now = performance.now();
    list[0]!.observeLatency(10, now);
    list[1]!.observeLatency(10.5, now);
    list[0]!.outstanding = 4;
    const b = new P2cLatencyBalancer(seeded(3));
    for (let k = 0; k < 20; k++) expect(b.pick(list, ctx({ now }))).toBe(list[1]);
    list[1]!.observeLatency(30, now);
    for (let k = 0; k < 20; k++) expect(b.pick(list, ctx({ now }))).toBe(list[0]);
  });

  it('lets a slow instance compete again once its latency has decayed without traffic', () => {
    const list = instances(2);
    const t0 = performance.now();
    list[0]!.observeLatency(40, t0);
    list[1]!.observeLatency(5, t0);
    const b = new P2cLatencyBalancer(seeded(5));
    expect(b.pick(list, ctx({ now: t0 }))).toBe(list[1]);
    // 10 s time constant: 30 s later 40 ms reads as ~2 ms; the busy instance kept its 5 ms.
    const later = t0 + 30_000;
    list[1]!.observeLatency(5, later);
    expect(list[0]!.latency(later)).toBeLessThan(3);
    expect(b.pick(list, ctx({ now: later }))).toBe(list[0]);
  });

  it('takes a slower sample at once (peak) and lets faster ones pull the average down over time', () => {
    const [inst] = instances(1);
    const t = performance.now();
    inst!.observeLatency(2, t);
    inst!.observeLatency(30, t + 1);
    expect(inst!.latency(t + 1)).toBe(30);
    // 10 s time constant: after 20 s of 2 ms samples the peak has faded to e^-2 of itself, after 60 s to e^-6.
    for (let k = 1; k <= 100; k++) inst!.observeLatency(2, t + 1 + k * 200);
    expect(inst!.latency(t + 1 + 100 * 200)).toBeCloseTo(2 + 28 * Math.exp(-2), 1);
    for (let k = 101; k <= 300; k++) inst!.observeLatency(2, t + 1 + k * 200);
    expect(inst!.latency(t + 1 + 300 * 200)).toBeLessThan(2.1);
  });
});

describe('consistent-hash', () => {
  const keys = Array.from({ length: 10_000 }, (_, k) => `user-${k}`);

  function assign(
    b: ConsistentHashBalancer,
    list: readonly UpstreamInstance[],
    usable = (_: UpstreamInstance) => true,
  ) {
    return new Map(keys.map((k) => [k, b.pick(list, ctx({ hashKey: k, usable }))!.id]));
  }

  it('sends the same value to the same instance, and spreads values evenly', () => {
    const list = instances(3);
    const b = new ConsistentHashBalancer();
    b.update(list);
    const first = assign(b, list);
    const again = assign(b, list);
    expect(again).toEqual(first);
    const per = list.map((i) => [...first.values()].filter((id) => id === i.id).length);
    console.log('consistent-hash, 10000 keys over 3 instances:', per.join(' / '));
    for (const n of per) {
      expect(n).toBeGreaterThan(10_000 * 0.25);
      expect(n).toBeLessThan(10_000 * 0.42);
    }
  });

  it('moves only the keys of an instance that leaves; the others stay put', () => {
    const list = instances(3);
    const b = new ConsistentHashBalancer();
    b.update(list);
    const before = assign(b, list);
    const remaining = [list[0]!, list[2]!];
    b.update(remaining);
    const after = assign(b, remaining);
    let moved = 0;
    for (const k of keys) {
      if (before.get(k) === 'i1') {
        expect(after.get(k)).not.toBe('i1');
        moved++;
      } else {
        expect(after.get(k)).toBe(before.get(k));
      }
    }
    console.log(`consistent-hash: instance i1 left, ${moved} of 10000 keys moved (exactly its own)`);
    expect(moved).toBeGreaterThan(2500);
  });

  it('moves about a quarter of the keys, all to the newcomer, when a fourth instance joins', () => {
    const list = instances(3);
    const b = new ConsistentHashBalancer();
    b.update(list);
    const before = assign(b, list);
    const grown = [...list, ...instances(1, 'new')];
    b.update(grown);
    const after = assign(b, grown);
    let moved = 0;
    for (const k of keys) {
      if (after.get(k) !== before.get(k)) {
        expect(after.get(k)).toBe('new0');
        moved++;
      }
    }
    console.log(`consistent-hash: a 4th instance joined, ${moved} of 10000 keys moved`);
    expect(moved).toBeGreaterThan(1500);
    expect(moved).toBeLessThan(3500);
  });

  it('does not depend on the order of the instance list (two gateways agree)', () => {
    const list = instances(4);
    const a = new ConsistentHashBalancer();
    a.update(list);
    const reversed = [...list].reverse();
    const b = new ConsistentHashBalancer();
    b.update(reversed);
    expect(assign(b, reversed)).toEqual(assign(a, list));
  });

  it('while an instance is ejected, only its keys go elsewhere', () => {
    const list = instances(3);
    const b = new ConsistentHashBalancer();
    b.update(list);
    const before = assign(b, list);
    const during = assign(b, list, (i) => i !== list[2]);
    for (const k of keys) {
      if (before.get(k) !== 'i2') expect(during.get(k)).toBe(before.get(k));
      else expect(during.get(k)).not.toBe('i2');
    }
  });

  it('falls back to round-robin without the header', () => {
    const list = instances(3);
    const b = new ConsistentHashBalancer();
    b.update(list);
    const c = counts(
      list,
      Array.from({ length: 300 }, () => b.pick(list, ctx())),
    );
    expect(c).toEqual([100, 100, 100]);
  });
});
