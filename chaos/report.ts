/**
 * The figures of a chaos run, from the ledger: requests and events per fault window,
 * time to recover per fault and load kind, and the goal figures with PASS or FAIL.
 *
 * Recovery of a load kind after a fault: from the reference moment (the kill for an
 * instance, the return for a dependency) to the end of the first request (or confirmed
 * publish) that opens 3 s in which every one sent was answered well, i.e. succeeded in
 * at most 1 s. A kind that never failed recovers at its first answer.
 */
import type { Fault } from './faults.js';
import { type Ledger, LOAD_KINDS, type LoadKind, type Outcome } from './ledger.js';
import type { ReadySample } from './readiness.js';
import { markdownTable, seconds } from './table.js';

const GOOD_LATENCY_MS = 1000;
const SUSTAIN_MS = 3000;
/** Goal: every load kind works again this soon after each dependency is back. */
export const RECOVERY_GOAL_MS = 5000;

export interface RunWindow {
  name: string;
  start: number;
  end: number;
  fault?: Fault;
  /** The part was killed at `start` and back (accepting connections) at `backAt`. */
  backAt?: number;
  notes: string[];
}

export interface Goal {
  name: string;
  pass: boolean;
  detail: string;
}

export interface Report {
  text: string;
  goals: Goal[];
}

const good = (o: Outcome) => o.code === 'ok' && o.doneAt - o.sentAt <= GOOD_LATENCY_MS;

function codes(list: readonly Outcome[]): string {
  const by = new Map<string, number>();
  for (const o of list) if (o.code !== 'ok') by.set(o.code, (by.get(o.code) ?? 0) + 1);
  return [...by].map(([c, n]) => `${c} ×${n}`).join(', ') || '-';
}

/** ms from `ref` to the end of the first answer opening a sustained good run, or undefined. */
export function recoveryMs(outcomes: readonly Outcome[], ref: number, end: number): number | undefined {
  const list = outcomes.filter((o) => o.sentAt >= ref && o.sentAt < end).sort((a, b) => a.sentAt - b.sentAt);
  for (let i = 0; i < list.length; i++) {
    const first = list[i]!;
    if (!good(first)) continue;
    if (first.sentAt + SUSTAIN_MS > end) return undefined;
    let j = i + 1;
    while (j < list.length && list[j]!.sentAt < first.sentAt + SUSTAIN_MS && good(list[j]!)) j++;
    if (j >= list.length || list[j]!.sentAt >= first.sentAt + SUSTAIN_MS) return Math.max(0, first.doneAt - ref);
  }
  return undefined;
}

function notReady(samples: readonly ReadySample[], w: RunWindow): string {
  let notReadyMs = 0;
  let degradedMs = 0;
  const failing = new Set<string>();
  const degraded = new Set<string>();
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.at < w.start || s.at >= w.end) continue;
    const span = (samples[i + 1]?.at ?? s.at) - s.at;
    if (!s.ready) {
      notReadyMs += span;
      for (const f of s.failing) failing.add(f);
    } else if (s.failing.length > 0) {
      degradedMs += span;
      for (const f of s.failing) degraded.add(f);
    }
  }
  const slowest = Math.max(0, ...samples.filter((s) => s.at >= w.start && s.at < w.end).map((s) => s.tookMs));
  const parts: string[] = [];
  if (notReadyMs > 0) parts.push(`503 for ${seconds(notReadyMs)} s (${[...failing].join(', ')})`);
  if (degradedMs > 0) parts.push(`200 degraded for ${seconds(degradedMs)} s (${[...degraded].join(', ')})`);
  const state = parts.length === 0 ? 'ready throughout' : parts.join(', ');
  return `${state}; slowest answer ${slowest} ms`;
}

export function buildReport(ledger: Ledger, windows: readonly RunWindow[], samples: readonly ReadySample[]): Report {
  const inWindow = (w: RunWindow, kind: LoadKind) =>
    ledger.outcomes.filter((o) => o.kind === kind && o.sentAt >= w.start && o.sentAt < w.end);
  const goals: Goal[] = [];

  const requestRows = windows.flatMap((w) =>
    (['http', 'rpc'] as const).map((kind) => {
      const list = inWindow(w, kind);
      const ok = list.filter((o) => o.code === 'ok');
      const instances = new Set(ok.map((o) => o.servedBy)).size;
      const redelivered = list.filter((o) => o.redelivered).length;
      const ms = list.map((o) => o.doneAt - o.sentAt).sort((a, b) => a - b);
      const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
      return [
        w.name,
        kind === 'http' ? 'HTTP proxy' : 'HTTP→RPC',
        list.length,
        ok.length,
        list.length - ok.length,
        codes(list),
        `${at(0.5)} / ${at(0.99)} / ${ms[ms.length - 1] ?? 0}`,
        instances,
        kind === 'rpc' ? redelivered : '-',
      ];
    }),
  );

  const eventRows = windows.map((w) => {
    const list = inWindow(w, 'event');
    const confirmed = list.filter((o) => o.code === 'ok');
    const delivered = list.filter((o) => ledger.deliveries.has(o.id!)).length;
    const duplicated = list.reduce((n, o) => n + Math.max(0, (ledger.deliveries.get(o.id!) ?? 0) - 1), 0);
    const lost = confirmed.filter((o) => !ledger.deliveries.has(o.id!)).length;
    return [w.name, list.length, confirmed.length, codes(list), delivered, duplicated, lost];
  });

  const recoveryRows = windows
    .filter((w) => w.fault !== undefined)
    .map((w) => {
      const fault = w.fault!;
      const ref = fault.recoverFrom === 'kill' ? w.start : w.backAt!;
      const cells = LOAD_KINDS.map((kind) => {
        const list = inWindow(w, kind);
        const ms = recoveryMs(list, ref, w.end);
        const failedAfter = list.filter((o) => o.sentAt >= ref && o.code !== 'ok').length;
        if (fault.recoverFrom === 'back') {
          goals.push({
            name: `${fault.name}: ${kind} recovers < ${seconds(RECOVERY_GOAL_MS)} s after the return`,
            pass: ms !== undefined && ms < RECOVERY_GOAL_MS,
            detail: ms === undefined ? 'not recovered within the window' : `${seconds(ms)} s`,
          });
        }
        const failures = failedAfter > 0 ? ` (${failedAfter} failed after)` : '';
        return ms === undefined ? `not recovered${failures}` : `${seconds(ms)} s${failures}`;
      });
      const from = fault.recoverFrom === 'kill' ? 'the kill' : `the return (down ${seconds(w.backAt! - w.start)} s)`;
      return [fault.name, from, ...cells, notReady(samples, w), w.notes.join('; ') || '-'];
    });

  const kill = windows.find((w) => w.fault?.recoverFrom === 'kill');
  if (kill) {
    const failed = [...inWindow(kill, 'http'), ...inWindow(kill, 'rpc')].filter((o) => o.code !== 'ok');
    goals.push({
      name: `${kill.fault!.name}: 0 failed idempotent requests`,
      pass: failed.length === 0,
      detail: failed.length === 0 ? '0 failed' : `${failed.length} failed: ${codes(failed)}`,
    });
  }
  const confirmed = ledger.confirmedIds();
  const lost = ledger.undelivered();
  goals.push({
    name: '0 confirmed events lost',
    pass: lost === 0 && confirmed.length > 0,
    detail: `${confirmed.length} confirmed, ${lost} never delivered`,
  });

  const failureLines = windows.flatMap((w) => {
    const seen = new Map<string, { n: number; first: number }>();
    for (const kind of LOAD_KINDS)
      for (const o of inWindow(w, kind)) {
        if (o.code === 'ok') continue;
        const key = `${kind} ${o.code}: ${o.message ?? '(no message)'}`;
        const s = seen.get(key) ?? { n: 0, first: o.sentAt };
        s.n++;
        seen.set(key, s);
      }
    return [...seen].map(([key, s]) => `- ${w.name}, +${seconds(s.first - w.start)} s: ${key} (×${s.n})`);
  });

  const total = windows.length > 0 ? windows[windows.length - 1]!.end - windows[0]!.start : 0;
  const dup = [...ledger.deliveries.values()].reduce((n, c) => n + c - 1, 0);
  const text = [
    `Requests per fault window (${seconds(total)} s of load; a window runs from the kill to 10 s after the part is back):`,
    '',
    markdownTable(
      [
        'window',
        'load',
        'sent',
        'succeeded',
        'failed',
        'failed by code',
        'ms p50 / p99 / max',
        'instances answering',
        'redelivered',
      ],
      requestRows,
    ),
    '',
    `Events per window (of the publish; delivered/duplicated/lost counted after the drain; ${ledger.redeliveries} redelivered, ${dup} duplicate deliveries, ${ledger.pending.size} publishes unresolved):`,
    '',
    markdownTable(
      ['window', 'published', 'confirmed', 'publish failures', 'delivered', 'duplicated', 'lost'],
      eventRows,
    ),
    '',
    `Time to recover (first answer opening ${seconds(SUSTAIN_MS)} s of successes within ${seconds(GOOD_LATENCY_MS)} s each):`,
    '',
    markdownTable(
      ['fault', 'measured from', 'HTTP proxy', 'HTTP→RPC', 'events', 'gateway /readyz in the window', 'notes'],
      recoveryRows,
    ),
    '',
    'Failures (first seen, seconds into the window):',
    '',
    ...(failureLines.length > 0 ? failureLines : ['- none']),
    '',
    'Goals:',
    '',
    ...goals.map((g) => `- ${g.pass ? 'PASS' : 'FAIL'} ${g.name}: ${g.detail}`),
  ].join('\n');
  return { text, goals };
}
